"""A real local HTTP receiver for webhook tests: records every request (headers, body)
and answers as told, request by request: "ok" (204), "fail" (500), "slow" (waits longer
than the sender's timeout), "hold" (waits until released: a sender killed mid-delivery),
"redirect:<url>" (307)."""

from __future__ import annotations

import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, slow_seconds: float = 3.0):
        self.requests: list[dict] = []
        self.plan: deque[str] = deque()
        self.slow_seconds = slow_seconds
        self.released = threading.Event()
        self.holding = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with receiver._lock:
                    mode = receiver.plan.popleft() if receiver.plan else "ok"
                    receiver.requests.append(
                        {"headers": dict(self.headers), "body": body, "mode": mode}
                    )
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                elif mode == "hold":
                    receiver.holding.set()
                    receiver.released.wait(30)
                if mode.startswith("redirect:"):
                    self.send_response(307)
                    self.send_header("Location", mode.partition(":")[2])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    self.send_response(500 if mode == "fail" else 204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def answered(self, mode: str = "ok") -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["mode"] == mode]

    def wait_for(self, count: int, seconds: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + seconds
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)
