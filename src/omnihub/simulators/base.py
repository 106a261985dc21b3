"""The common part of every platform simulator: a real HTTP server on 127.0.0.1 that answers
the calls the hub makes (stock, shipments, order pulls), keeps what it received for
assertions, pushes orders to the hub like the platform would, and injects faults on request.

A simulator (``simulators/channels/<name>/``) subclasses :class:`PlatformSimulator`, adds its
routes with :meth:`route` and writes orders in the platform's own format.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """lower-case names"""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        """Query parameters and an urlencoded body together (TOP, PDD and JD style calls)."""
        merged = dict(self.query)
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            merged.update(parse_qsl(self.body.decode(), keep_blank_values=True))
        return merged


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})

    @classmethod
    def json(cls, body: Any, status: int = 200) -> SimResponse:
        return cls(status, json.dumps(body, ensure_ascii=False).encode())


Handler = Callable[[SimRequest], SimResponse]


@dataclass
class Faults:
    """What the simulator does wrong, on purpose. Rates are 0..1 per request or per push."""

    error_rate: float = 0.0
    """answer 500 (or the platform's own system-error body)"""
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    rate_limited: int = 0
    """answer this many next calls with the platform's rate-limit error"""
    duplicate_rate: float = 0.0
    """push an order message twice"""
    out_of_order: bool = False
    """push an order's later state (paid) before its first (created)"""
    down: bool = False
    """answer every call with 503 (an outage)"""


class PlatformSimulator:
    """Subclasses set ``name`` and answer the platform calls they support."""

    name = "platform"

    def __init__(self, *, secret: str = "sim-secret", seed: int = 7) -> None:
        self.secret = secret
        self.rng = random.Random(seed)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.routes: dict[tuple[str, str], Handler] = {}
        self.calls: list[SimRequest] = []
        self.stock: dict[str, int] = {}
        """channel SKU -> the quantity the hub last set"""
        self.shipments: list[dict[str, Any]] = []
        self.refused: list[tuple[str, str]] = []
        """(path, why) of hub calls the simulator refused (bad signature or shape)"""
        self.orders: dict[str, dict[str, Any]] = {}
        """external id -> the order as the platform holds it (native format)"""
        self.modified: dict[str, datetime] = {}
        self.pushed: list[tuple[str, int]] = []
        """(external id, hub's HTTP status) of every order message pushed to the hub"""
        self.hub_url: str | None = None
        simulator = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as separate writes: without this, Nagle and the
            # client's delayed ACK hold every answer back about 40 ms
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                split = urlsplit(self.path)
                request = SimRequest(
                    self.command,
                    split.path,
                    dict(parse_qsl(split.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                response = simulator.handle(request)
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server API

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True, name=f"{self.name}-simulator"
        )
        self.client = httpx.Client(timeout=10)
        self.route("POST", "/_sim/faults", self._set_faults)

    # -- server -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> PlatformSimulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()

    def __enter__(self) -> PlatformSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def handle(self, request: SimRequest) -> SimResponse:
        with self.lock:
            self.calls.append(request)
            faults = self.faults
            roll = self.rng.random()
            limited = faults.rate_limited > 0 and not request.path.startswith("/_sim")
            if limited:
                faults.rate_limited -= 1
        if request.path.startswith("/_sim"):
            return self.routes[(request.method, request.path)](request)
        if faults.down:
            return SimResponse.json({"error": "service unavailable"}, 503)
        if limited:
            return self.rate_limit_answer(request)
        if roll < faults.error_rate:
            return self.error_answer(request)
        if faults.slow_rate and self.rng.random() < faults.slow_rate:
            time.sleep(faults.slow_seconds)
        handler = self.routes.get((request.method, request.path)) or self.routes.get(
            ("*", request.path)
        )
        if handler is None:
            return SimResponse.json({"error": f"no {request.method} {request.path}"}, 404)
        return handler(request)

    def _set_faults(self, request: SimRequest) -> SimResponse:
        with self.lock:
            for key, value in request.json().items():
                if not hasattr(self.faults, key):
                    return SimResponse.json({"error": f"no fault {key}"}, 400)
                setattr(self.faults, key, value)
        return SimResponse.json({"ok": True})

    # -- the platform's error answers (subclasses speak their own) ----------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return SimResponse.json({"error": "rate limited"}, 429)

    def error_answer(self, request: SimRequest) -> SimResponse:
        return SimResponse.json({"error": "internal error"}, 500)

    def refuse(self, request: SimRequest, why: str, status: int = 400) -> SimResponse:
        with self.lock:
            self.refused.append((request.path, why))
        return SimResponse.json({"error": why}, status)

    # -- what the hub sent --------------------------------------------------------------------
    def set_stock(self, channel_sku: str, quantity: int) -> None:
        with self.lock:
            self.stock[channel_sku] = quantity

    def record_shipment(self, shipment: dict[str, Any]) -> None:
        with self.lock:
            self.shipments.append(shipment)

    # -- orders held by the platform (pull channels serve them by modified time) -------------
    def keep_order(self, external_id: str, native: dict[str, Any], modified: datetime) -> None:
        with self.lock:
            self.orders[external_id] = native
            self.modified[external_id] = modified

    def window(
        self, start: datetime, end: datetime, page: int, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Orders modified in [start, end], oldest first, one page (1-based) and the total."""
        with self.lock:
            ids = sorted((m, i) for i, m in self.modified.items() if start <= m <= end)
            chosen = [self.orders[i] for _, i in ids[(page - 1) * size : page * size]]
        return chosen, len(ids)

    # -- pushing to the hub (webhook platforms) -----------------------------------------------
    def push(
        self,
        external_id: str,
        body: bytes,
        headers: dict[str, str],
        path: str = "/orders",
        attempts: int = 5,
    ) -> int:
        """Send one order message to the hub as the platform would, retrying on failure (as
        platforms do); the hub's last status is kept in ``pushed``."""
        assert self.hub_url, "set hub_url (the hub's /api/v1/channels/<code>) first"
        status = 0
        for attempt in range(attempts):
            try:
                status = self.client.post(
                    self.hub_url + path, content=body, headers=headers
                ).status_code
            except httpx.HTTPError:
                status = 0
            if status < 500 and status != 0:
                break
            time.sleep(0.2 * (attempt + 1))
        with self.lock:
            self.pushed.append((external_id, status))
        return status

    def roll(self, rate: float) -> bool:
        with self.lock:
            return self.rng.random() < rate
