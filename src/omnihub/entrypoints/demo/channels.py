"""Simulated sales channels, stores, warehouses and an ERP for the demo, all talking to the hub
over real HTTP: orders (with duplicates, late payments, out-of-order updates, cancellations and
listings nobody mapped yet), fulfilment actions, purchase receipts and shopping-cart holds."""

from __future__ import annotations

import heapq
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from omnihub.entrypoints.backend_simulators import BackendSimulators
from omnihub.entrypoints.demo.native import NativeDriver
from omnihub.entrypoints.demo.seed import CITIES, HOT_SKU, DemoCatalog

SHANGHAI = timezone(timedelta(hours=8))
log = logging.getLogger(__name__)

#: Each channel's share of the day's orders.
CHANNEL_SHARE = {
    "tmall": 0.16,
    "taobao": 0.10,
    "jd": 0.14,
    "pdd": 0.12,
    "douyin": 0.10,
    "shopify": 0.05,
    "woocommerce": 0.04,
    "miniapp": 0.10,
    "pos": 0.07,
    "meituan": 0.06,
    "eleme": 0.06,
}
#: Channels whose orders are for one store: sold at its counter, or delivered from it by the
#: platform's riders the same day.
STORE_CHANNELS = {"pos": "pickup", "meituan": "same_day", "eleme": "same_day"}


@dataclass
class Stats:
    """What the simulators saw, per channel; shared by threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    per_channel: dict[str, Counter[str]] = field(default_factory=dict)
    other: Counter[str] = field(default_factory=Counter)
    pickup_codes: dict[str, str] = field(default_factory=dict)
    """order id -> the code the buyer got by SMS (the channel keeps it for the buyer)."""

    def keep_code(self, response: httpx.Response) -> None:
        if response.status_code in (200, 201, 202):
            body = response.json()
            if body.get("pickup_code"):
                with self.lock:
                    self.pickup_codes[body["id"]] = body["pickup_code"]

    def code_for(self, order_id: str) -> str | None:
        with self.lock:
            return self.pickup_codes.get(order_id)

    def count(self, channel: str, what: str, n: int = 1) -> None:
        with self.lock:
            self.per_channel.setdefault(channel, Counter())[what] += n

    def bump(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.other[what] += n

    def snapshot(self) -> tuple[dict[str, Counter[str]], Counter[str]]:
        with self.lock:
            return {k: Counter(v) for k, v in self.per_channel.items()}, Counter(self.other)


def _classify(response: httpx.Response) -> str:
    if response.status_code == 201:
        return "created"
    if response.status_code == 202:
        return "held"
    if response.status_code == 200:
        return str(response.json().get("outcome", "known"))
    if response.status_code >= 500:
        return "server_errors"
    return "rejected"


class Simulator(threading.Thread):
    """A thread that does something every so often until told to stop."""

    def __init__(
        self, name: str, base_url: str, stats: Stats, stop: threading.Event, seed: int
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.client = httpx.Client(base_url=base_url, timeout=30.0)
        self.stats = stats
        self.stop = stop
        self.rng = random.Random(seed)

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response | None:
        try:
            response = self.client.post(path, json=body or {})
        except httpx.HTTPError:
            self.stats.bump("connection_errors")
            return None
        if response.status_code >= 500:
            self.stats.bump("server_errors")
        return response

    def get(self, path: str) -> Any:
        try:
            response = self.client.get(path)
        except httpx.HTTPError:
            self.stats.bump("connection_errors")
            return None
        if response.status_code >= 500:
            self.stats.bump("server_errors")
        return response.json() if response.status_code == 200 else None


class ChannelSimulator(Simulator):
    """One sales channel sending canonical orders at ``rate`` per second."""

    def __init__(
        self,
        channel: str,
        rate: float,
        demo: DemoCatalog,
        driver: NativeDriver | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(f"channel-{channel}", **kwargs)
        self.channel = channel
        self.driver = driver
        self.rate = rate
        self.demo = demo
        self.sequence = 0
        self.later: list[tuple[float, float, dict[str, Any]]] = []  # (due, tie, payload)
        self.unmapped = [m.channel_sku for m in demo.unmapped if m.channel == channel]
        self.stores = [loc for loc in demo.locations if loc.code.startswith("ST-")]

    def run(self) -> None:
        next_order = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            while self.later and self.later[0][0] <= now:
                _, _, payload = heapq.heappop(self.later)
                self.send(payload)
            if now >= next_order:
                self.new_order()
                next_order = now + self.rng.expovariate(self.rate)
            wake = min(next_order, self.later[0][0]) if self.later else next_order
            self.stop.wait(max(0.0, min(wake - time.monotonic(), 0.2)))

    def send(self, payload: dict[str, Any]) -> str | None:
        """Deliver one state of an order; what the hub made of it (None: nothing known)."""
        self.stats.count(self.channel, "sent")
        if self.driver is not None:
            try:
                sent = self.driver.send(payload)
            except Exception:  # a demo driver's bug must not stop the day; it is counted
                log.exception("the %s driver failed on %s", self.channel, payload["external_id"])
                self.stats.bump("driver_errors")
                return None
            self.stats.count(self.channel, sent.outcome)
            with self.stats.lock:
                self.stats.pickup_codes.update(sent.pickup_codes)
            return sent.outcome
        response = self.post("/api/v1/orders", payload)
        if response is None:
            return None
        outcome = _classify(response)
        self.stats.count(self.channel, outcome)
        self.stats.keep_code(response)
        return outcome

    def schedule(self, delay: float, payload: dict[str, Any]) -> None:
        heapq.heappush(self.later, (time.monotonic() + delay, self.rng.random(), payload))

    def new_order(self, *, skus: list[tuple[str, int]] | None = None) -> None:
        payload = self.make_order(skus)
        roll = self.rng.random()
        if roll < 0.20:
            # placed now, paid a little later
            created = dict(payload, status="created", payment=None)
            paid = dict(payload, updated_at=_later(payload["created_at"], 30))
            if self.rng.random() < 0.25:
                self.send(paid)  # the payment message overtakes the creation message
                self.schedule(self.rng.uniform(0.5, 2.0), created)
            else:
                self.send(created)
                self.schedule(self.rng.uniform(1.0, 5.0), paid)
        else:
            self.send(payload)
            if roll > 0.97:  # the buyer changes their mind soon after paying
                cancelled = dict(
                    payload, status="cancelled", updated_at=_later(payload["created_at"], 120)
                )
                self.schedule(self.rng.uniform(1.0, 3.0), cancelled)
        if self.rng.random() < 0.05:
            self.schedule(self.rng.uniform(0.2, 1.5), payload)  # the channel delivers twice

    def make_order(self, skus: list[tuple[str, int]] | None = None) -> dict[str, Any]:
        self.sequence += 1
        city = self.rng.choice(list(CITIES))
        lat0, lon0, spread = CITIES[city]
        lat = round(lat0 + self.rng.uniform(-spread, spread) / 2, 5)
        lon = round(lon0 + self.rng.uniform(-spread, spread) / 2, 5)
        buyer_no = self.rng.randrange(600)
        delivery, pickup = "express", None
        roll = self.rng.random()
        if self.channel in STORE_CHANNELS:
            nearest = min(self.stores, key=lambda s: (s.lat - lat) ** 2 + (s.lon - lon) ** 2)
            delivery, pickup = STORE_CHANNELS[self.channel], nearest.code
            # the buyer lives within a couple of kilometres of the store
            lat = round(nearest.lat + (lat - lat0) / 20, 5)
            lon = round(nearest.lon + (lon - lon0) / 20, 5)
            if delivery == "same_day":
                pickup = None
        elif self.channel == "miniapp" and roll < 0.35:
            nearest = min(self.stores, key=lambda s: (s.lat - lat) ** 2 + (s.lon - lon) ** 2)
            delivery, pickup = "pickup", nearest.code
        elif self.channel in ("miniapp", "douyin", "tmall") and roll > 0.85:
            delivery = "same_day"
        if skus is None:
            count = self.rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]
            chosen = self.rng.sample(self.demo.skus[1:], count)
            skus = [(s.code, self.rng.choices((1, 2, 3), (0.75, 0.2, 0.05))[0]) for s in chosen]
        prices = {s.code: s.price for s in self.demo.skus}
        lines = []
        for code, qty in skus:
            line: dict[str, Any] = {
                "qty": qty,
                "unit_price": str(prices[code].amount),
                "discount": "0.00",
            }
            if self.channel == "miniapp" and self.driver is None:
                line["sku"] = code  # our own mini-program knows the master SKU
            else:
                line["channel_sku"] = self.demo.listings[self.channel][code]
            lines.append(line)
        if self.unmapped and self.rng.random() < 0.03:
            lines[0] = {
                "channel_sku": self.rng.choice(self.unmapped),
                "qty": 1,
                "unit_price": "99.00",
                "discount": "0.00",
            }
        total = sum(float(ln["unit_price"]) * ln["qty"] for ln in lines)
        created = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(minutes=5)
        external_id = f"{self.channel.upper()}{int(time.time())}{self.sequence:06d}"
        phone = f"138{buyer_no:08d}"
        return {
            "channel": self.channel,
            "external_id": external_id,
            "status": "paid",
            "created_at": created.isoformat(),
            "updated_at": created.isoformat(),
            "buyer": {
                "channel_buyer_id": f"{self.channel}_buyer_{buyer_no}",
                "name": f"顾客{buyer_no}",
                "phone": phone,
                "tier": "vip" if buyer_no % 10 == 0 else None,
            },
            "ship_to": {
                "name": f"顾客{buyer_no}",
                "phone": phone,
                "province": city,
                "city": f"{city}市",
                "district": "",
                "address": f"{city}示例路{buyer_no}号",
                "lat": lat,
                "lon": lon,
            },
            "delivery": delivery,
            "pickup_location": pickup,
            "lines": lines,
            "shipping_fee": "0.00",
            "total": f"{total:.2f}",
            "currency": "CNY",
            "payment": {
                "provider": self.rng.choice(("alipay", "wechatpay", "unionpay")),
                "transaction_id": f"PAY{external_id}",
                "amount": f"{total:.2f}",
                "paid_at": created.isoformat(),
            },
            "remark": "",
        }


def _later(iso: str, seconds: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).isoformat()


class FulfilmentSimulator(Simulator):
    """Warehouses and stores working through what the hub released to them, and buyers
    collecting their store pickups with the code (some never come: their hold expires).
    Nodes with a back end of their own are left to it: ``warehouses`` (a WMS ships their
    parcels) and the stores in ``riders`` (riders carry their same-day orders)."""

    def __init__(
        self,
        name: str,
        *,
        warehouses: Iterable[str] = (),
        riders: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        self.warehouses, self.riders = set(warehouses), set(riders)

    def by_backend(self, order: dict[str, Any], location: str) -> bool:
        """Whether a back end works this order's part at ``location``."""
        if location in self.warehouses and order["delivery"] != "pickup":
            return True
        return location in self.riders and order["delivery"] == "same_day"

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for status, step in (("shipped", self.deliver), ("released", self.work)):
                page = self.get(f"/api/v1/orders?status={status}&limit=200")
                for order in (page or {}).get("items", []):
                    if self.stop.is_set():
                        return
                    step(order)

    def act(self, order: dict[str, Any], action: str, **body: Any) -> httpx.Response | None:
        response = self.post(f"/api/v1/orders/{order['id']}/actions/{action}", body)
        if response is not None and response.status_code == 200:
            self.stats.bump(f"action_{action}")
        return response

    def work(self, order: dict[str, Any]) -> None:
        if order["delivery"] != "pickup":
            self.ship(order)
            return
        code = self.stats.code_for(order["id"])
        if code is None or sum(map(ord, order["id"])) % 4 == 0:
            return  # a buyer who never comes: the hold expires and the stock goes back
        if self.rng.random() < 0.6:
            return  # the buyer has not come yet
        if self.rng.random() < 0.1:
            self.act(order, "pickup", code="00000000")  # mistyped: refused and counted
        self.act(order, "pickup", code=code)

    def ship(self, order: dict[str, Any]) -> None:
        if self.rng.random() < 0.3:
            return  # not packed yet
        parts = self.get(f"/api/v1/orders/{order['id']}/routing") or {}
        for part in parts.get("fulfilments", []):
            if part["status"] != "released" or self.by_backend(order, part["location"]):
                continue
            response = self.post(
                f"/api/v1/fulfilments/{part['id']}/actions/ship",
                {"carrier": "SF", "tracking_number": f"SF{self.rng.randrange(10**12)}"},
            )
            if response is not None and response.status_code == 200:
                self.stats.bump("fulfilments_shipped")

    def deliver(self, order: dict[str, Any]) -> None:
        if self.rng.random() >= 0.3:
            return
        if order["delivery"] == "same_day" and self.riders:
            parts = self.get(f"/api/v1/orders/{order['id']}/routing") or {}
            if any(p["location"] in self.riders for p in parts.get("fulfilments", [])):
                return  # a rider delivers it and says so
        self.act(order, "deliver", reason="delivered by the carrier")


class ErpSimulator(Simulator):
    """Purchase receipts into the warehouses: through the back ends when there are some (a
    WMS's entry order, or a receipt audited in the ERP that the hub polls), else posted to
    the hub's API, sometimes twice."""

    def __init__(
        self, demo: DemoCatalog, *, backends: BackendSimulators | None = None, **kwargs: Any
    ) -> None:
        super().__init__("erp", **kwargs)
        self.demo = demo
        self.backends = backends
        self.receipts = 0

    def run(self) -> None:
        warehouses = [loc.code for loc in self.demo.locations if loc.code.startswith("WH-")]
        while not self.stop.wait(2.0):
            self.receipts += 1
            sku = self.rng.choice(self.demo.skus[1:])
            location, qty = self.rng.choice(warehouses), self.rng.randint(50, 200)
            if self.backends is not None:
                self.backends.receive(location, {sku.code: qty}, f"PO-{self.receipts:05d}")
                self.stats.bump("receipts")
                continue
            body = {
                "location": location,
                "sku": sku.code,
                "kind": "receipt",
                "qty": qty,
                "reference": f"PO-{self.receipts:05d}",
            }
            for _ in range(2 if self.rng.random() < 0.3 else 1):
                response = self.post("/api/v1/inventory/movements", body)
                if response is not None:
                    self.stats.bump(
                        "receipts"
                        if response.status_code == 201
                        else "receipts_duplicate"
                        if response.status_code == 200
                        else "receipts_refused"
                    )


class CartSimulator(Simulator):
    """Mini-program carts holding stock for a few seconds: some check out, some walk away."""

    def __init__(self, demo: DemoCatalog, **kwargs: Any) -> None:
        super().__init__("carts", **kwargs)
        self.demo = demo

    def run(self) -> None:
        stores = [loc.code for loc in self.demo.locations if loc.code.startswith("ST-")]
        held: list[tuple[float, str]] = []
        while not self.stop.wait(0.5):
            sku = self.rng.choice(self.demo.skus[1:]).code
            response = self.post(
                "/api/v1/reservations",
                {"sku": sku, "qty": 1, "location": self.rng.choice(stores), "ttl_seconds": 4},
            )
            if response is not None and response.status_code == 201:
                self.stats.bump("cart_holds")
                if self.rng.random() < 0.5:
                    held.append((time.monotonic() + 1.0, response.json()["id"]))
            elif response is not None and response.status_code == 409:
                self.stats.bump("cart_refused")
            due = [h for h in held if h[0] <= time.monotonic()]
            for item in due:
                held.remove(item)
                try:
                    self.client.delete(f"/api/v1/reservations/{item[1]}")
                    self.stats.bump("cart_released")
                except httpx.HTTPError:
                    self.stats.bump("connection_errors")


def flash_sale(
    base_url: str,
    demo: DemoCatalog,
    stats: Stats,
    buyers: int,
    seed: int,
    driver: NativeDriver | None = None,
) -> None:
    """A livestream drop: ``buyers`` orders for the scarce hot SKU at the same moment."""
    sim = ChannelSimulator(
        "douyin",
        1.0,
        demo,
        driver,
        base_url=base_url,
        stats=stats,
        stop=threading.Event(),
        seed=seed,
    )
    payloads = [sim.make_order([(HOT_SKU, 1)]) for _ in range(buyers)]
    for payload in payloads:
        payload["delivery"], payload["pickup_location"] = "express", None
        payload["external_id"] = "LIVE" + payload["external_id"]

    def buy(payload: dict[str, Any]) -> None:
        if driver is not None:  # through Douyin's own messages: the hub answers the platform
            outcome = sim.send(payload)
            if outcome in ("created", "held"):
                stats.bump("flash_sale_won" if outcome == "created" else "flash_sale_missed")
            return
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            try:
                response = client.post("/api/v1/orders", json=payload)
            except httpx.HTTPError:
                stats.bump("connection_errors")
                return
        stats.count("douyin", "sent")
        stats.count("douyin", _classify(response))
        stats.bump(
            "flash_sale_won"
            if response.json().get("status") in ("allocated", "released")
            else "flash_sale_missed"
        )

    threads = [threading.Thread(target=buy, args=(p,), daemon=True) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def add_missing_mappings(base_url: str, demo: DemoCatalog, stats: Stats) -> None:
    """The merchandiser maps the new listings; held orders resume on their own."""
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for mapping in demo.unmapped:
            response = client.post(
                "/api/v1/catalog/mappings",
                json={
                    "channel": mapping.channel,
                    "channel_sku": mapping.channel_sku,
                    "sku": mapping.sku,
                },
            )
            if response.status_code == 201:
                stats.bump("mappings_added")
                stats.bump(
                    "orders_released_by_mapping",
                    len(json.loads(response.text).get("released_orders", [])),
                )
