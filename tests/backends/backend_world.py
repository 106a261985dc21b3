"""What the back-end tests share: a stand-in for the hub's callback receiver (a real HTTP
server that hands each callback to the adapter, as the hub's route will), configs that
point at the simulators, and sample documents."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.config import parse_backend
from omnihub.adapters.backends.transport import call
from omnihub.domain.backends import Line, Receiver
from omnihub.domain.values import Money
from omnihub.ports import BackendConfig, ChannelRefused, Exchange, InboundRequest, UnreadablePayload
from omnihub.simulators.backends.base import BackendSimulator, SimRequest, SimResponse

AT = datetime(2026, 11, 11, 8, 0, 1, tzinfo=UTC)
TEE, MUG, CAP = "TEE-RED-M", "MUG-WHITE", "CAP-BLUE"
SH_WH, HZ_WH, SH_STORE = "WH-SH", "WH-HZ", "ST-SH-01"
BUYER = Receiver(
    name="张三",
    phone="13800138000",
    address="长宁路 1 号 2 室",
    province="上海",
    city="上海市",
    district="长宁区",
    postcode="200050",
)


def line(sku: str, qty: int, price: str | None = None) -> Line:
    return Line(sku, qty, Money.of(price) if price else None)


class CallbackReceiver(BackendSimulator):
    """``POST /callbacks/<code>``: the adapter of that back end reads the request; what it
    gave (or refused) is kept, and its ``reply`` is the answer."""

    name = "hub-stand-in"

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition(self.lock)
        self.fresh()
        for method in ("POST", "GET"):
            self.route_prefix(method, "/callbacks", self._receive)

    def fresh(self) -> None:
        self.backends: dict[str, BackendConfig] = {}
        self.received: list[tuple[str, Any]] = []
        """(code, canonical document) in arrival order"""
        self.rejected: list[tuple[str, Exception]] = []

    def url_for(self, code: str) -> str:
        return f"{self.url}/callbacks/{code}"

    def _receive(self, request: SimRequest) -> SimResponse:
        code = request.query.pop("_rest", "")
        config = self.backends[code]
        adapter = adapter_for(config.adapter)
        inbound = InboundRequest(request.body, request.headers, dict(request.query))
        try:
            documents = adapter.parse_callback(config, inbound)
        except (ChannelRefused, UnreadablePayload) as exc:
            with self.changed:
                self.rejected.append((code, exc))
                self.changed.notify_all()
            answer = adapter.reply(exc.message)
            status = (
                401 if isinstance(exc, ChannelRefused) and answer.status != 200 else answer.status
            )
            return SimResponse(status, answer.body, {"content-type": answer.content_type})
        with self.changed:
            self.received.extend((code, doc) for doc in documents)
            self.changed.notify_all()
        answer = adapter.reply()
        return SimResponse(answer.status, answer.body, {"content-type": answer.content_type})

    def documents(self, code: str | None = None) -> list[Any]:
        with self.lock:
            return [doc for c, doc in self.received if code is None or c == code]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        """Block until ``count`` documents arrived (or fail after ``timeout`` seconds)."""
        with self.changed:
            arrived = self.changed.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"{len(self.received)} callbacks arrived, expected {count}"
            return [doc for _, doc in self.received]


def backend(data: Mapping[str, Any]) -> BackendConfig:
    return parse_backend(data)


_CLIENT: httpx.Client | None = None


def client() -> httpx.Client:
    """One client for every test (making one costs a tenth of a second: the CA bundle)."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = httpx.Client(timeout=5.0)
    return _CLIENT


def run(config: BackendConfig, exchange: Exchange[Any], timeout: float | None = None) -> Any:
    """Run one exchange against the simulator over HTTP."""
    return call(client(), exchange, config.adapter, timeout)
