"""End-to-end harness for channel adapters: a real ``omnihub serve`` on a SQLite file with a
small retailer (a warehouse, a store, three SKUs with stock), and helpers to point a channel
at a platform simulator, map SKUs, post native messages and wait for what must happen."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tests.e2e.server import running_server

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.migrate import upgrade
from omnihub.simulators.base import PlatformSimulator

T = TypeVar("T")

WAREHOUSE = "WH-SH"
STORE = "ST-SH-JINGAN"
TEE, MUG, CAP = "TEE-WHITE-M", "MUG-CERAMIC-350", "CAP-NAVY"
SKUS = {TEE: "59.00", MUG: "39.00", CAP: "79.00"}
STOCK = {
    (WAREHOUSE, TEE): 100,
    (WAREHOUSE, MUG): 60,
    (WAREHOUSE, CAP): 30,
    (STORE, TEE): 8,
    (STORE, MUG): 5,
    (STORE, CAP): 3,
}

#: fast loops so a test sees pushes and pulls within a second or two
FAST = {
    "OMNIHUB_STOCK_FLUSH_SECONDS": "0.2",
    "OMNIHUB_PULL_SECONDS": "0.3",
    "OMNIHUB_PULL_SETTLE_SECONDS": "0",
    "OMNIHUB_DELIVERY_BACKOFF_SECONDS": "0.05",
    "OMNIHUB_DELIVERY_MAX_ATTEMPTS": "20",
    "OMNIHUB_FULL_COMPARE_SECONDS": "3",
    "OMNIHUB_MERGE_WINDOW_SECONDS": "0",
}


class HubUnderTest:
    """One running hub; ``restart()`` stops it and serves the same database again."""

    def __init__(self, database_url: str, workdir: Path, settings: dict[str, str]) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.settings = settings
        self.stack = contextlib.ExitStack()
        self.starts = 0
        self.base_url = ""
        self.http = httpx.Client(timeout=15, trust_env=False)

    def start(self) -> HubUnderTest:
        self.starts += 1
        self.base_url = self.stack.enter_context(
            running_server(
                self.database_url,
                workers=1,
                workdir=self.workdir / f"s{self.starts}",
                settings=self.settings,
            )
        )
        return self

    def stop(self) -> None:
        self.stack.close()
        self.stack = contextlib.ExitStack()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        self.http.close()

    # -- requests -----------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(self.base_url + path, params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def post(self, path: str, body: Any, *expected: int) -> Any:
        response = self.http.post(self.base_url + path, json=body)
        assert response.status_code in (expected or (200, 201)), (
            f"POST {path}: {response.status_code} {response.text}"
        )
        return response.json()

    def post_native(
        self, code: str, body: bytes, headers: dict[str, str], query: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.http.post(
            f"{self.base_url}/api/v1/channels/{code}/orders",
            content=body,
            headers=headers,
            params=query,
        )

    # -- set-up -------------------------------------------------------------------------------
    def seed(self) -> None:
        """A warehouse that ships, a Shanghai store for pickup and same-day, three SKUs."""
        for sku, price in SKUS.items():
            self.post("/api/v1/catalog/skus", {"sku": sku, "name": sku.title(), "price": price})
        self.post(
            "/api/v1/locations",
            {
                "code": WAREHOUSE,
                "name": "Shanghai DC",
                "type": "warehouse",
                "lat": 31.3747,
                "lon": 121.2655,
                "services": ["ship"],
            },
        )
        self.post(
            "/api/v1/locations",
            {
                "code": STORE,
                "name": "Jing'an store",
                "type": "store",
                "lat": 31.2304,
                "lon": 121.4737,
                "services": ["ship", "pickup", "same_day"],
            },
        )
        for (location, sku), qty in STOCK.items():
            self.post(
                "/api/v1/inventory/movements",
                {
                    "location": location,
                    "sku": sku,
                    "kind": "receipt",
                    "qty": qty,
                    "reference": f"GRN-{location}-{sku}",
                },
            )

    def add_channel(
        self,
        code: str,
        adapter: str,
        endpoint: str | None,
        *,
        secret: str | None = None,
        credentials: dict[str, Any] | None = None,
        locations: list[str] | None = None,
        allocation_ratio: float = 1.0,
        buffer: int = 0,
    ) -> Any:
        body: dict[str, Any] = {
            "code": code,
            "adapter": adapter,
            "endpoint": endpoint,
            "secret": secret,
            "credentials": credentials or {},
            "allocation_ratio": allocation_ratio,
            "buffer": buffer,
            "locations": locations or [],
        }
        return self.post("/api/v1/channels", body, 201)

    def map_sku(self, channel: str, channel_sku: str, sku: str) -> Any:
        return self.post(
            "/api/v1/catalog/mappings",
            {"channel": channel, "channel_sku": channel_sku, "sku": sku},
            201,
        )

    # -- what the hub holds -------------------------------------------------------------------
    def orders(self, channel: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"channel": channel, "limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = self.get("/api/v1/orders", **params)
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def order(self, channel: str, external_id: str) -> dict[str, Any] | None:
        return next((o for o in self.orders(channel) if o["external_id"] == external_id), None)

    def inbound(self, result: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if result:
            params["result"] = result
        return list(self.get("/api/v1/inbound", **params)["items"])

    def published(self, channel: str) -> dict[str, dict[str, Any]]:
        """Per SKU: the quantity the hub publishes to the channel and what the channel acked."""
        return dict(self.get(f"/api/v1/channels/{channel}/sync", detail="true")["items"])

    def pull_status(self, channel: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/channels/{channel}/pull"))

    def books_balance(self) -> bool:
        report = self.get("/api/v1/check")
        return bool(report["balanced"]) and not report["oversells"]


def wait_until(condition: Callable[[], T], *, timeout: float = 20.0, what: str = "") -> T:
    """Poll ``condition`` until it returns something true; its last value in the failure."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or condition}; last: {value!r}")
        time.sleep(0.1)
        value = condition()
    return value


@contextlib.contextmanager
def hub_under_test(database_url: str, workdir: Path, **settings: str) -> Iterator[HubUnderTest]:
    hub = HubUnderTest(database_url, workdir, {**FAST, **settings})
    try:
        hub.start()
        hub.seed()
        yield hub
    finally:
        hub.close()


@contextlib.contextmanager
def hub_on_a_fresh_file(workdir: Path, **settings: str) -> Iterator[HubUnderTest]:
    """A running, seeded hub on a new, migrated SQLite file in ``workdir``."""
    url = f"sqlite:///{workdir / 'omnihub.db'}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    with hub_under_test(url, workdir, **settings) as running:
        yield running


# -- a platform's messages and the hub's answers ----------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A message as a platform sends it to the hub: its raw body, headers and query."""

    body: bytes
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


def post(hub: HubUnderTest, code: str, sent: Sent) -> httpx.Response:
    return hub.post_native(code, sent.body, sent.headers, sent.query or None)


def connect(
    hub: HubUnderTest,
    simulator: PlatformSimulator,
    code: str,
    adapter: str,
    *,
    mappings: Mapping[str, str],
    secret: str | None,
    credentials: dict[str, Any] | None = None,
    endpoint: str | None = None,
    locations: list[str] | None = None,
) -> None:
    """Map ``mappings`` (channel SKU -> hub SKU) for channel ``code``, create the channel
    pointing at the simulator and point the simulator's pushes at the channel."""
    simulator.hub_url = f"{hub.base_url}/api/v1/channels/{code}"
    for channel_sku, sku in mappings.items():
        hub.map_sku(code, channel_sku, sku)
    hub.add_channel(
        code,
        adapter,
        endpoint or simulator.url,
        secret=secret,
        credentials=credentials,
        locations=locations,
    )


def orders_once(hub: HubUnderTest, code: str) -> dict[str, dict[str, Any]]:
    """The channel's orders by external id, each stored exactly once."""
    orders = hub.orders(code)
    counts = Counter(o["external_id"] for o in orders)
    assert all(n == 1 for n in counts.values()), f"an order stored twice: {counts}"
    return {o["external_id"]: o for o in orders}


def settle(
    hub: HubUnderTest, code: str, expected: Mapping[str, set[str]], timeout: float = 30
) -> dict[str, dict[str, Any]]:
    """The channel's orders once each is in one of its expected statuses (polled)."""
    seen: dict[str, Any] = {}

    def settled() -> dict[str, dict[str, Any]] | None:
        orders = orders_once(hub, code)
        seen["now"] = {k: (o["status"], o["hold_reason"]) for k, o in orders.items()}
        if set(orders) == set(expected) and all(
            orders[k]["status"] in statuses for k, statuses in expected.items()
        ):
            return orders
        return None

    try:
        return wait_until(settled, timeout=timeout, what="every order at its newest state")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; expected {expected}, hub has {seen.get('now')}") from None


def stock_matches(
    hub: HubUnderTest,
    code: str,
    platform_stock: Mapping[str, int],
    mapped: Mapping[str, str],
    *,
    acked: bool = False,
) -> bool:
    """Each mapped channel SKU holds, on the platform, the hub's published quantity of its SKU
    (and, with ``acked``, the hub recorded the platform's acknowledgement of it)."""
    published = hub.published(code)
    return all(
        sku in published
        and platform_stock.get(channel_sku) == published[sku]["published"]
        and (not acked or published[sku]["acked"] == published[sku]["published"])
        for channel_sku, sku in mapped.items()
    )


def deliveries(hub: HubUnderTest, code: str, *, dead: bool = False) -> list[dict[str, Any]]:
    """The hub's outbound calls to channel ``code`` (only the dead letters with ``dead``)."""
    path = "/api/v1/dead-letters" if dead else "/api/v1/deliveries"
    return list(hub.get(path, endpoint=f"channel:{code}", limit=1000)["items"])
