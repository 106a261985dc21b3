"""How the demo speaks to the hub in each channel's own language: a driver per channel owns
that channel's platform simulator (a real local server), turns the demo's order story (a
canonical order, then its payment, cancellation, refund request) into the platform's native
messages, and either pushes them to ``POST /api/v1/channels/<code>/orders`` (webhook platforms)
or keeps them on the platform for the hub's pull (Taobao, JD, Pinduoduo).

Each driver also tells the hub how to reach its platform (``channel()``), which channel SKU
stands for each of our SKUs (``listing()``), and what the platform received back from the hub
(stock, shipments) for the live view and the summary."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import httpx

from omnihub.adapters.channels.simulated import PlatformSimulator


@dataclass(frozen=True, slots=True)
class Sent:
    """What became of one native message: the hub's answer (push) or "kept" (pull)."""

    outcome: str
    """created | held | duplicate | stale | updated | rejected | kept | failed"""


class NativeDriver(abc.ABC):
    """One channel in the demo. ``send`` takes the demo's canonical order dict (the body of
    ``POST /api/v1/orders``, including ``status`` created/paid/cancelled and an optional
    ``refund_requested``) and delivers its native equivalent."""

    adapter: str
    code: str
    simulator: PlatformSimulator

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        self.code = code
        self.hub_url = hub_url
        self.secret = secret
        self.stores = stores
        """the demo's stores (``Location``s with code, lat, lon): store-bound channels (POS,
        Meituan, Eleme) sell for them"""

    def start(self) -> None:
        self.simulator.start()
        self.simulator.hub_url = f"{self.hub_url}/api/v1/channels/{self.code}"

    def stop(self) -> None:
        self.simulator.stop()

    @abc.abstractmethod
    def channel(self) -> dict[str, Any]:
        """The body of ``POST /api/v1/channels`` for this channel (code, adapter, endpoint,
        secret, credentials, ...)."""

    @abc.abstractmethod
    def listing(self, sku: str, index: int) -> str:
        """The channel SKU (the adapter's line identity) under which our ``sku`` is sold."""

    @abc.abstractmethod
    def send(self, order: dict[str, Any]) -> Sent:
        """Deliver the order's current state the platform's way."""

    def stock(self) -> dict[str, int]:
        """Channel SKU -> the quantity the hub last set on the platform."""
        with self.simulator.lock:
            return dict(self.simulator.stock)

    def shipments(self) -> int:
        with self.simulator.lock:
            return len(self.simulator.shipments)

    def refused(self) -> int:
        """Hub calls the platform refused (a wrong signature or shape): must stay 0."""
        with self.simulator.lock:
            return len(self.simulator.refused)


def outcome_of(response: httpx.Response | int | None) -> Sent:
    """The hub's answer to a pushed native message, as the demo counts it."""
    if response is None:
        return Sent("failed")
    status = response if isinstance(response, int) else response.status_code
    if status == 201:
        body = response.json() if isinstance(response, httpx.Response) else {}
        held = any(o.get("outcome") == "held" for o in body.get("orders", []))
        return Sent("held" if held else "created")
    if status == 200:
        body = response.json() if isinstance(response, httpx.Response) else {}
        outcomes = [o.get("outcome", "updated") for o in body.get("orders", [])]
        return Sent(outcomes[0] if outcomes else "ignored")
    if status >= 500 or status == 0:
        return Sent("failed")
    return Sent("rejected")


#: adapter -> the driver class (filled in by ``omnihub.entrypoints.demo.drivers``)
DRIVERS: dict[str, type[NativeDriver]] = {}
