"""Continuous traffic through the load balancer while a deploy or rollback runs.

Threads create user accounts and send messages between them, without pause, through the app's JSON
API, recording every request's outcome. Bounded: it stops when told, at `max_seconds`, or at
`max_requests`, whichever comes first, and it only ever talks to the URL it is given (loopback).

    with LoadGenerator("http://127.0.0.1:18080") as load:
        run the deploy
    assert load.failures == []
    accounts, messages = load.accounts, load.messages   # to look for in the database
"""
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
import uuid


class LoadGenerator:
    def __init__(self, base_url, threads=2, max_seconds=900, max_requests=200_000, timeout=10):
        self.base_url, self.threads = base_url.rstrip("/"), threads
        self.max_seconds, self.max_requests, self.timeout = max_seconds, max_requests, timeout
        self.failures, self.accounts, self.messages = [], [], []
        self.requests = 0
        self._lock, self._stop, self._workers = threading.Lock(), threading.Event(), []
        self._prefix = uuid.uuid4().hex[:8]
        self._numbers = itertools.count()

    def _call(self, method, path, body):
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        started = time.time()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                status, payload = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        except OSError as error:
            status, payload = 0, str(error).encode()
        with self._lock:
            self.requests += 1
            if not 200 <= status < 300:
                self.failures.append({"at": started, "method": method, "path": path,
                                      "status": status, "body": payload[:300].decode(errors="replace")})
                return None
        return json.loads(payload)

    def _work(self):
        mine = []  # (username, password) of accounts this thread created
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline and self.requests < self.max_requests:
            username = f"load-{self._prefix}-{next(self._numbers)}"
            password = f"pw-{uuid.uuid4().hex}"
            created = self._call("POST", "/api/accounts", {"username": username, "password": password})
            if created:
                with self._lock:
                    self.accounts.append(username)
                mine.append((username, password))
            if len(mine) >= 2:
                (sender, secret), (recipient, _) = mine[-1], mine[-2]
                body = f"message {uuid.uuid4().hex} from {sender}"
                sent = self._call("POST", "/api/messages",
                                  {"from": sender, "password": secret, "to": recipient, "body": body})
                if sent:
                    with self._lock:
                        self.messages.append(body)

    def start(self):
        for _ in range(self.threads):
            worker = threading.Thread(target=self._work, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self):
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
