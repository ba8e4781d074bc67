#!/usr/bin/python3
"""A webhook receiver for the monitor scenario: answers every POST with 200 "ok" (as Slack does)
and appends {at, path, content_type, body} to a JSON-lines file the tests read.

    webhook_listener.py HOST PORT LOG_FILE
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsable": raw.decode("utf-8", "replace")}
        record = {"at": time.time(), "path": self.path,
                  "content_type": self.headers.get("Content-Type"), "body": body}
        with LOCK, open(LOG, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


ThreadingHTTPServer((HOST, PORT), Handler).serve_forever()
