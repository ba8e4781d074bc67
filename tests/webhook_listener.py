"""A real incoming webhook for the notification tests (unit and Molecule): an HTTP server on
127.0.0.1 in a thread.

Each POST is recorded as ``{path, headers, content_type, raw, body}`` (``body`` is the parsed JSON,
or None when it is not JSON), and answered with ``status`` after ``delay`` seconds.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookListener:
    def __init__(self, status=200, delay=0.0):
        self.received = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                owner.received.append({"path": self.path, "headers": dict(self.headers),
                                       "content_type": self.headers.get("Content-Type"),
                                       "raw": raw, "body": body})
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_url(path="/down"):
    """A URL on 127.0.0.1 where nothing listens: a webhook that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
