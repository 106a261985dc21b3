"""How the demo speaks to the hub in each channel's own language: a driver per channel owns
that channel's platform simulator (a real local server), turns the demo's order story (a
canonical order, then its payment or cancellation, sometimes sent twice or out of order) into
the platform's native messages, and either pushes them to
``POST /api/v1/channels/<code>/orders`` (webhook platforms) or keeps them on the platform for
the hub's pull (Taobao, Tmall, JD, Pinduoduo).

Each driver also tells the hub how to reach its platform (``channel()``), which channel SKU
stands for each of our SKUs (``listing()``), and what the platform received back from the hub
(stock, shipments) for the live view and the summary."""

from __future__ import annotations

import abc
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from omnihub.simulators.base import PlatformSimulator


@dataclass(frozen=True, slots=True)
class Sent:
    """What became of one native message: the hub's answer (push) or "kept" (pull)."""

    outcome: str
    """created | held | duplicate | stale | updated | ignored | rejected | failed (the hub's
    answer to a pushed message); kept (the platform holds the change for the hub's pull);
    silent (the platform says nothing of this state, e.g. an order not paid yet)"""
    pickup_codes: dict[str, str] = field(default_factory=dict)
    """order id -> the pickup code the hub issued (the platform shows it to the buyer)"""


class NativeDriver(abc.ABC):
    """One channel in the demo. ``send`` takes the demo's canonical order dict (the body of
    ``POST /api/v1/orders``, with ``status`` created, paid or cancelled) and delivers its
    native equivalent."""

    adapter: str
    code: str
    simulator: PlatformSimulator
    pulls: bool = False
    """True when the hub pulls this platform's orders (else the platform pushes them)"""

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        self.code = code
        self.hub_url = hub_url
        self.secret = secret
        self.stores = stores
        """the demo's stores (``Location``s with code, lat, lon): store-bound channels (POS,
        Meituan, Eleme) sell for them"""
        self._answers: Counter[str] = Counter()
        """the hub's answer to every message the platform pushed, as the demo counts it"""
        self._answers_lock = threading.Lock()
        self._last = threading.local()

    def start(self) -> None:
        self.simulator.start()
        self.simulator.hub_url = f"{self.hub_url}/api/v1/channels/{self.code}"
        # every push of the platform (the driver's and its own: retries, echoes of the hub's
        # shipments) goes through its HTTP client: count the hub's answers there
        self.simulator.client.event_hooks = {"request": [], "response": [self._answered]}

    def _answered(self, response: httpx.Response) -> None:
        if "/api/v1/channels/" not in response.request.url.path:
            return
        response.read()
        sent = outcome_of(response)
        with self._answers_lock:
            self._answers[sent.outcome] += 1
        self._last.sent = sent

    def last_answer(self) -> Sent | None:
        """The hub's answer to the newest message this thread's platform call pushed."""
        sent: Sent | None = getattr(self._last, "sent", None)
        return sent

    def forget_answer(self) -> None:
        self._last.sent = None

    def answered(self) -> Counter[str]:
        """Outcome -> how many of the platform's pushed messages the hub answered so."""
        with self._answers_lock:
            return Counter(self._answers)

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

    def refusals(self) -> list[str]:
        """Why the platform refused hub calls for their signature, credentials or shape: there
        must be none."""
        with self.simulator.lock:
            return [why for _, why in self.simulator.refused if not self.too_late(why)]

    def refused(self) -> int:
        return len(self.refusals())

    def too_late_calls(self) -> int:
        """Hub calls the platform refused because the order had moved on there: the buyer
        cancelled while the hub's shipment (or acceptance) was on its way."""
        with self.simulator.lock:
            return sum(1 for _, why in self.simulator.refused if self.too_late(why))

    def too_late(self, why: str) -> bool:
        """Whether the platform's refusal (as its simulator noted it) says the order was no
        longer in a state for the call."""
        return False


def outcome_of(response: httpx.Response | int | None) -> Sent:
    """The hub's answer to a pushed native message, as the demo counts it."""
    if response is None:
        return Sent("failed")
    status = response if isinstance(response, int) else response.status_code
    if status in (200, 201):
        body = response.json() if isinstance(response, httpx.Response) else {}
        orders = body.get("orders", [])
        codes = {o["order_id"]: o["pickup_code"] for o in orders if o.get("pickup_code")}
        if status == 201:
            held = any(o.get("outcome") == "held" for o in orders)
            return Sent("held" if held else "created", codes)
        if body.get("replayed"):
            return Sent("duplicate")  # a message id the hub has seen, acknowledged (Shopify...)
        outcomes = [o.get("outcome", "updated") for o in orders]
        return Sent(outcomes[0] if outcomes else "ignored", codes)
    if status == 409:
        return Sent("duplicate")  # a message id the hub has seen: refused as a replay
    if status >= 500 or status == 0:
        return Sent("failed")
    return Sent("rejected")


#: adapter -> the driver class (filled in by ``omnihub.entrypoints.demo.drivers``)
DRIVERS: dict[str, type[NativeDriver]] = {}


@dataclass
class Story:
    """One demo order as its platform holds it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    native_id: str | None = None
    """the platform's id of the order; None until the platform holds it"""
    said: set[str] = field(default_factory=set)
    """the demo's statuses the platform has made happen (created, paid, cancelled)"""
    held_back: Callable[[], object] | None = None
    """how to deliver the creation message, held back when the payment message overtook it"""
    last: Any = None
    """the platform's last message about the order, for a second delivery"""


class StoryDriver(NativeDriver):
    """A driver whose platform moves each order through its life: placed (paid at once or
    waiting for payment), paid, cancelled. This class reads the demo's story from the
    canonical states it is given; subclasses say how their platform does each step.

    - the first state of an order places it: paid at once when it is ``paid`` with
      ``updated_at == created_at``; else waiting for payment, and paid right after when the
      state is ``paid`` (the payment message overtook the creation message: the platform
      made that one too, and delivers it when the demo's ``created`` comes);
    - a later ``paid`` or ``cancelled`` is the platform's payment or cancellation;
    - a state the platform went through already is the same message delivered again
      (``repeat``)."""

    quiet = "silent"
    """the outcome of a step the platform says nothing about"""

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self._stories: dict[str, Story] = {}
        self._stories_lock = threading.Lock()

    def send(self, order: dict[str, Any]) -> Sent:
        with self._stories_lock:
            story = self._stories.setdefault(order["external_id"], Story())
        status = order["status"]
        self.forget_answer()
        with story.lock:
            if not story.said:
                self._place(story, order)
            elif status == "created":
                held_back, story.held_back = story.held_back, None
                if held_back is not None:
                    held_back()
            elif status in story.said:
                self.repeat(story, order)
            elif status == "paid":
                self.pay(story, order)
            elif status == "cancelled":
                self.cancel(story, order)
            story.said.add(status)
        return self.last_answer() or Sent(self.quiet)

    def _place(self, story: Story, order: dict[str, Any]) -> None:
        status = order["status"]
        at_once = status == "paid" and order["updated_at"] == order["created_at"]
        story.held_back = self.place(
            story, order, paid=at_once, announce=at_once or status != "paid"
        )
        story.said.add("created")
        if status == "paid" and not at_once:
            self.pay(story, order)
        elif status == "cancelled":
            self.cancel(story, order)

    @abc.abstractmethod
    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        """Place the order on the platform (``story.native_id``), paid or waiting for payment.
        ``announce``: tell the hub now; else return how to tell it later (None when the
        platform never tells of this state)."""

    @abc.abstractmethod
    def pay(self, story: Story, order: dict[str, Any]) -> None:
        """The buyer pays."""

    @abc.abstractmethod
    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        """The order is cancelled (refunded in full when it was paid)."""

    def repeat(self, story: Story, order: dict[str, Any]) -> None:
        """The platform delivers its last message about the order again (nothing for a
        platform the hub pulls: it holds one state per order)."""


def lines_of(order: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(channel SKU, quantity, unit price) of each line of a demo order."""
    return [(ln["channel_sku"], int(ln["qty"]), str(ln["unit_price"])) for ln in order["lines"]]


def price(value: str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def buyer_number(order: dict[str, Any]) -> int:
    """The demo buyer's number (``<channel>_buyer_<n>``)."""
    return int(str(order["buyer"]["channel_buyer_id"]).rsplit("_", 1)[-1])


def nearest_store(stores: list[Any], lat: float, lon: float) -> Any:
    return min(stores, key=lambda s: (s.lat - lat) ** 2 + (s.lon - lon) ** 2)


#: the province of each demo city (none for the cities that are provinces of their own)
PROVINCES = {
    "杭州": "浙江省",
    "苏州": "江苏省",
    "南京": "江苏省",
    "广州": "广东省",
    "深圳": "广东省",
    "成都": "四川省",
    "武汉": "湖北省",
}


def written_address(ship_to: dict[str, Any]) -> str:
    """The buyer's address in one line, from the province down ("浙江省杭州市…"), as the
    delivery platforms give it."""
    return f"{PROVINCES.get(ship_to['province'], '')}{ship_to['city']}{ship_to['address']}"
