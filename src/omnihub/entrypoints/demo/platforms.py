"""Local stand-ins for the systems the hub pushes to: the channels' open platforms (stock and
order status) and the ERP's webhook receiver. Real HTTP servers on 127.0.0.1 that fail now and
then, answer slowly sometimes, and apply each event once (they remember event ids)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Platform:
    """One server for every simulated receiver, told apart by the first path segment."""

    def __init__(
        self,
        *,
        failure_rate: float = 0.08,
        slow_rate: float = 0.02,
        slow_seconds: float = 1.5,
        seed: int = 11,
    ) -> None:
        self.failure_rate = failure_rate
        self.slow_rate = slow_rate
        self.slow_seconds = slow_seconds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.applied: dict[str, set[str]] = {}
        self.duplicates: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.stock: dict[str, dict[str, tuple[int, int]]] = {}
        self.broken: set[str] = set()
        self.refuses: dict[str, str] = {}
        """receiver -> an event type it answers 422 to (until someone fixes it)"""
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the hub reuses its connections
            # headers and body go out as separate writes: without this, Nagle and the
            # client's delayed ACK hold every answer back about 40 ms
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status = platform.receive(
                    self.path, self.headers.get("X-Omnihub-Event-Id", ""), body
                )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def receive(self, path: str, event_id: str, body: dict[str, Any], event_type: str = "") -> int:
        receiver = path.strip("/").split("/", 1)[0]
        with self.lock:
            self.calls[receiver] += 1
            broken = receiver in self.broken
            refused = self.refuses.get(receiver) == event_type
            roll = self.rng.random()
        if refused:
            return 422  # a payload this receiver can't read yet: it fails every attempt
        if broken or roll < self.failure_rate:
            return 503
        if roll > 1 - self.slow_rate:
            time.sleep(self.slow_seconds)  # answers after the hub gave up: it will retry
        with self.lock:
            seen = self.applied.setdefault(receiver, set())
            if event_id in seen:
                self.duplicates[receiver] += 1  # a retry after a lost answer: applied once
                return 200
            seen.add(event_id)
            if path.endswith("/stock"):
                current = self.stock.setdefault(receiver, {}).get(body["sku"])
                if current is None or current[1] < body["version"]:
                    self.stock[receiver][body["sku"]] = (body["quantity"], body["version"])
        return 200
