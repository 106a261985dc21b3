"""Races over real HTTP: a 4-worker ``omnihub serve`` on SQLite and on PostgreSQL.

Invariants proved here (DESIGN.md §4): no oversell and no false refusal when many callers race for
the last units, exactly one order per (channel, external id) under concurrent duplicates, and the
books balance afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORKERS = 4
CONCURRENCY = 64  # requests in flight at once; well below PostgreSQL's 100 connections
BURST_TIMEOUT_SECONDS = 180.0
REQUEST_TIMEOUT_SECONDS = 90.0
WARM_UP = 2 * CONCURRENCY
LOCATION = "WH-SH"
#: An order that got its stock is allocated, or already released to its node (or picked).
HOLDS_STOCK = {"allocated", "released", "picked"}
CREATED_AT = "2024-06-18T10:00:00+08:00"
# a complete address: automatic review holds orders that could not be shipped
SHIP_TO = {
    "name": "Li Lei",
    "phone": "13800138000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Huangpu",
    "address": "1 Nanjing East Road",
    "postcode": "200001",
    "lat": 31.24,
    "lon": 121.48,
}


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False)


def _expect(response: httpx.Response, *statuses: int) -> Any:
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url} -> {response.status_code}: "
        f"{response.text}"
    )
    return response.json()


def seed(base_url: str, sku: str, on_hand: int) -> None:
    """One SKU, one warehouse that ships for every channel, and a receipt of ``on_hand``."""
    with _client(base_url) as client:
        _expect(
            client.post(
                "/api/v1/catalog/skus",
                json={"sku": sku, "name": f"Flash sale item {sku}", "price": "59.00"},
            ),
            201,
        )
        if client.get("/api/v1/locations").json()["items"] == []:
            _expect(
                client.post(
                    "/api/v1/locations",
                    json={
                        "code": LOCATION,
                        "name": "Shanghai regional warehouse",
                        "type": "warehouse",
                        "lat": 31.23,
                        "lon": 121.47,
                        "services": ["ship"],
                    },
                ),
                201,
            )
        level = _expect(
            client.post(
                "/api/v1/inventory/movements",
                json={
                    "location": LOCATION,
                    "sku": sku,
                    "kind": "receipt",
                    "qty": on_hand,
                    "reference": f"GRN-{sku}",
                },
            ),
            201,
        )
        assert (level["on_hand"], level["reserved"], level["available"]) == (on_hand, 0, on_hand)


def paid_order(channel: str, external_id: str, sku: str, qty: int) -> dict[str, Any]:
    price = Decimal("59.00")
    return {
        "channel": channel,
        "external_id": external_id,
        "status": "paid",
        "created_at": CREATED_AT,
        "buyer": {"channel_buyer_id": f"buyer-{external_id}"},
        "ship_to": SHIP_TO,
        "lines": [{"sku": sku, "qty": qty, "unit_price": str(price)}],
        "payment": {
            "provider": "alipay",
            "transaction_id": f"PAY-{external_id}",
            "amount": str(price * qty),
            "paid_at": CREATED_AT,
        },
    }


def fire(base_url: str, path: str, bodies: list[dict[str, Any]]) -> tuple[list[Reply], float]:
    """POST every body to ``path`` at once (``CONCURRENCY`` in flight); replies in body order
    and the seconds from the first request sent to the last reply received."""

    async def burst() -> tuple[list[Reply], float]:
        gate = asyncio.Semaphore(CONCURRENCY)
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=base_url, limits=limits, trust_env=False, timeout=REQUEST_TIMEOUT_SECONDS
        ) as client:

            async def one(body: dict[str, Any]) -> Reply:
                async with gate:
                    response = await client.post(path, json=body)
                try:
                    return Reply(response.status_code, response.json())
                except ValueError:
                    return Reply(response.status_code, response.text)

            started = time.perf_counter()
            replies = await asyncio.gather(*(one(body) for body in bodies))
            return list(replies), time.perf_counter() - started

    return asyncio.run(asyncio.wait_for(burst(), BURST_TIMEOUT_SECONDS))


def stock_at(base_url: str, sku: str) -> dict[str, Any]:
    with _client(base_url) as client:
        stock = _expect(client.get(f"/api/v1/inventory/{sku}"), 200)
    (level,) = [lv for lv in stock["locations"] if lv["location"] == LOCATION]
    return dict(level)


def assert_books_balance(base_url: str) -> None:
    with _client(base_url) as client:
        report = _expect(client.get("/api/v1/check"), 200)
    assert report["violations"] == []
    assert report["oversells"] == 0
    assert report["balanced"] is True


def orders_of(base_url: str, channel: str, status: str | None = None) -> list[dict[str, Any]]:
    """Every order of a channel, following the cursor (bounded)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    with _client(base_url) as client:
        for _ in range(100):
            params = {"channel": channel, "limit": "50"}
            if status:
                params["status"] = status
            if cursor:
                params["cursor"] = cursor
            page = _expect(client.get("/api/v1/orders", params=params), 200)
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items
    raise AssertionError(f"more than 100 pages of {channel} orders")


def unexpected(replies: list[Reply], allowed: set[int]) -> list[Reply]:
    return [reply for reply in replies if reply.status not in allowed][:5]


def test_three_hundred_parallel_reservations_of_one_hundred_units_grant_exactly_one_hundred(
    database_url: str,
    running_server: Callable[..., str],
    record_property: Callable[[str, object], None],
) -> None:
    base_url = running_server(database_url, workers=WORKERS)
    seed(base_url, "FLASH-1", on_hand=100)
    attempts = 300
    body = {"sku": "FLASH-1", "qty": 1, "location": LOCATION, "ttl_seconds": 3600}
    # Warm every worker's imports, pools and connections on another SKU, so that the burst
    # measures reservations and not process start-up.
    seed(base_url, "WARM-UP", on_hand=WARM_UP)
    warm_body = {**body, "sku": "WARM-UP"}
    warm, _ = fire(base_url, "/api/v1/reservations", [warm_body] * WARM_UP)
    assert Counter(reply.status for reply in warm) == {201: WARM_UP}

    replies, seconds = fire(base_url, "/api/v1/reservations", [body] * attempts)

    rate = attempts / seconds
    database = database_url.split(":", 1)[0]
    print(
        f"\n[{database}] {attempts} reservation requests over HTTP ({WORKERS} workers, "
        f"{CONCURRENCY} in flight) in {seconds:.2f} s: {rate:.0f} reservations/s"
    )
    record_property("database", database)
    record_property("reservation_requests", attempts)
    record_property("burst_seconds", round(seconds, 3))
    record_property("reservations_per_second", round(rate, 1))

    statuses = Counter(reply.status for reply in replies)
    assert unexpected(replies, {201, 409}) == [], f"statuses: {dict(statuses)}"
    assert statuses == {201: 100, 409: 200}
    granted = [reply.body for reply in replies if reply.status == 201]
    assert len({r["id"] for r in granted}) == 100
    assert all(r["state"] == "active" and r["qty"] == 1 for r in granted)
    refused = [reply.body for reply in replies if reply.status == 409]
    assert {r["error"]["code"] for r in refused} == {"insufficient_stock"}
    assert all(r["error"]["message"] for r in refused)

    level = stock_at(base_url, "FLASH-1")
    assert (level["on_hand"], level["reserved"], level["available"]) == (100, 100, 0)
    assert_books_balance(base_url)


def test_concurrent_duplicates_of_twenty_channel_orders_create_each_order_exactly_once(
    database_url: str, running_server: Callable[..., str]
) -> None:
    base_url = running_server(database_url, workers=WORKERS)
    seed(base_url, "TEE-1", on_hand=10_000)
    channel = "tmall"
    quantities = {f"TM-{n:04d}": n % 3 + 1 for n in range(20)}
    bodies = [
        paid_order(channel, external_id, "TEE-1", qty)
        for _copy in range(10)
        for external_id, qty in quantities.items()
    ]

    replies, _ = fire(base_url, "/api/v1/orders", bodies)

    statuses = Counter(reply.status for reply in replies)
    assert unexpected(replies, {200, 201}) == [], f"statuses: {dict(statuses)}"
    by_external: dict[str, list[Reply]] = defaultdict(list)
    for reply in replies:
        by_external[reply.body["external_id"]].append(reply)
    assert set(by_external) == set(quantities)
    for external_id, answers in by_external.items():
        assert len(answers) == 10
        assert len({answer.body["id"] for answer in answers}) == 1, external_id
        assert sorted(answer.status for answer in answers) == [200] * 9 + [201], external_id
        assert {answer.body["outcome"] for answer in answers} == {"created", "duplicate"}

    stored = orders_of(base_url, channel)
    assert len(stored) == 20
    assert {o["external_id"] for o in stored} == set(quantities)
    assert {o["id"] for o in stored} == {a[0].body["id"] for a in by_external.values()}
    assert {o["status"] for o in stored} <= HOLDS_STOCK
    level = stock_at(base_url, "TEE-1")
    assert level["reserved"] == sum(quantities.values())
    assert level["available"] == 10_000 - sum(quantities.values())
    assert_books_balance(base_url)


def test_one_hundred_fifty_paid_orders_for_one_hundred_units_allocate_one_hundred_and_hold_fifty(
    database_url: str, running_server: Callable[..., str]
) -> None:
    base_url = running_server(database_url, workers=WORKERS)
    seed(base_url, "HOT-1", on_hand=100)
    channel = "douyin"
    bodies = [paid_order(channel, f"DY-{n:04d}", "HOT-1", 1) for n in range(150)]

    replies, _ = fire(base_url, "/api/v1/orders", bodies)

    statuses = Counter(reply.status for reply in replies)
    assert unexpected(replies, {201, 202}) == [], f"statuses: {dict(statuses)}"
    assert statuses == {201: 100, 202: 50}
    assert {r.body["status"] for r in replies if r.status == 201} <= HOLDS_STOCK
    held = [r.body for r in replies if r.status == 202]
    assert {(o["status"], o["hold_reason"]) for o in held} == {("held", "no_stock")}

    stored = orders_of(base_url, channel)
    assert len(stored) == 150
    assert sum(o["status"] in HOLDS_STOCK for o in stored) == 100
    stored_held = orders_of(base_url, channel, "held")
    assert len(stored_held) == 50
    assert {o["hold_reason"] for o in stored_held} == {"no_stock"}
    assert {o["id"] for o in stored_held} == {o["id"] for o in held}
    level = stock_at(base_url, "HOT-1")
    assert (level["on_hand"], level["reserved"], level["available"]) == (100, 100, 0)
    assert_books_balance(base_url)
