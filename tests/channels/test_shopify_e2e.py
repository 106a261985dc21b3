"""Shopify end to end: a real hub (``omnihub serve`` on SQLite) and the Shopify simulator over
HTTP. The shop sends order webhooks signed and retried as Shopify does (duplicates with the
same webhook id, a later state before the first); the hub sets stock with
``inventory_levels/set.json`` through Shopify's rate limit and ships with a fulfillment.
Refused and unreadable webhooks store nothing but the raw body. What every channel does
(signatures, replays, unknown statuses, stock, retries) is in ``test_channel_contract.py``;
here is what only Shopify does."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.channels.harness import (
    CAP,
    MUG,
    TEE,
    HubUnderTest,
    orders_once,
    settle,
    stock_matches,
    wait_until,
)
from tests.channels.platforms import Shopify

from omnihub.simulators.channels.shopify import ShopifySimulator

pytestmark = pytest.mark.e2e

OWN = Path(__file__).parent / "fixtures" / "shopify"
CODE = "shopify-cn"
#: statuses of an order the hub holds as paid and is fulfilling
FULFILLING = {"paid", "allocated", "released"}


@pytest.fixture
def platform() -> Iterator[Shopify]:
    """A shop with two variants with merchant SKU codes and one with none (the cap, matched
    by its variant id)."""
    platform = Shopify()
    with platform.sim:
        yield platform


@pytest.fixture
def shop(platform: Shopify) -> ShopifySimulator:
    return platform.sim


def test_a_day_of_orders_ends_with_one_order_per_order_at_its_newest_state_and_stock_in_sync(
    hub: HubUnderTest, platform: Shopify, shop: ShopifySimulator
) -> None:
    items = {sku: platform.channel_sku(sku) for sku in (TEE, MUG, CAP)}
    socks = shop.add_variant(
        "SOCKS-GREY",
        variant_id=44000000000404,
        product_id=8800000000404,
        inventory_item_id=49000000000404,
    )
    shop.faults.rate_limited = 3  # the first Admin API calls get 429 + Retry-After
    shop.faults.duplicate_rate = 0.5  # some webhooks delivered twice, same webhook id
    platform.connect(hub, CODE)
    tee, mug, cap = items[TEE], items[MUG], items[CAP]

    def new(lines: list[tuple[str, int, str]], **kwargs: Any) -> str:
        return str(shop.new_order(lines, **kwargs)["id"])

    # created unpaid, then paid (orders/paid and orders/updated carry the same state)
    paid = new([(tee, 2, "59.00"), (mug, 1, "39.00")], financial_status="pending")
    shop.pay(paid)
    # cancelled after payment: Shopify refunds it in full and cancels it
    cancelled = new([(cap, 1, "79.00")])
    shop.cancel(cancelled)
    # never paid: the merchant cancels, the authorisation is voided
    voided = new([(mug, 3, "39.00")], financial_status="pending")
    shop.cancel(voided)
    # later states delivered before orders/create: paid, and a partial refund (the buyer
    # asked for money back before shipment) that reaches the hub before the order is routed
    shop.faults.out_of_order = True
    out_of_order = new([(cap, 2, "79.00")], financial_status="pending")
    shop.pay(out_of_order)
    refund_asked = new([(tee, 1, "59.00"), (cap, 1, "79.00")])
    shop.refund(refund_asked, "59.00")
    shop.faults.out_of_order = False
    # cash on delivery: pending until the courier collects, ready to ship now
    cod = new([(mug, 1, "39.00")], financial_status="pending", cod=True)
    # a variant the hub has no mapping for
    unmapped = new([(socks, 1, "19.00")])
    # a test order and a topic the hub does not read: acknowledged, not stored
    test_order = new([(tee, 1, "59.00")], test=True)
    shop.deliver(paid, "orders/edited")
    shop.flush()

    expected = {
        paid: FULFILLING,
        cancelled: {"cancelled"},
        voided: {"cancelled"},
        refund_asked: {"held"},
        out_of_order: FULFILLING,
        cod: FULFILLING,
        unmapped: {"held"},
    }
    orders = settle(hub, CODE, expected)
    assert test_order not in orders
    assert orders[refund_asked]["hold_reason"] == "refund_requested"
    assert orders[unmapped]["hold_reason"] == "unmapped_sku"
    statuses = Counter(status for *_, status in shop.deliveries)
    assert set(statuses) <= {200, 201}, statuses  # a repeat is acknowledged, not refused
    ids = Counter(webhook_id for _, _, webhook_id, _ in shop.deliveries)
    assert any(n > 1 for n in ids.values()), "no webhook was delivered twice with the same id"

    # the mapping arrives: the held order goes on
    released = hub.map_sku(CODE, socks, MUG)["released_orders"]
    assert released == [orders[unmapped]["id"]]

    # the hub ships: Shopify gets a fulfillment with the tracking company's Shopify name, and
    # its own orders/fulfilled + orders/updated webhooks come back without harm
    order = orders[paid]
    if order["status"] == "allocated":
        hub.post(f"/api/v1/orders/{order['id']}/actions/release", {}, 200)
    routing = hub.get(f"/api/v1/orders/{order['id']}/routing")
    for part in routing["fulfilments"]:
        hub.post(
            f"/api/v1/fulfilments/{part['id']}/actions/ship",
            {"carrier": "SF", "tracking_number": "SF1402226688"},
            200,
        )
    wait_until(lambda: shop.shipments, what="the fulfillment at Shopify")
    assert shop.shipments == [
        {
            "order_id": paid,
            "tracking_number": "SF1402226688",
            "tracking_company": "SF Express",
            "via": "order",
        }
    ]
    assert shop.orders[paid]["fulfillment_status"] == "fulfilled"
    shop.settle()
    assert {(o, t) for o, t, _, s in shop.deliveries if o == paid and s in (200, 201)} >= {
        (paid, "orders/fulfilled"),
        (paid, "orders/updated"),
    }

    mapped = {channel_sku: sku for sku, channel_sku in items.items()} | {socks: MUG}
    wait_until(
        lambda: stock_matches(hub, CODE, shop.stock, mapped),
        timeout=30,
        what="Shopify's available quantities equal to the hub's published ones",
    )
    assert not shop.refused, shop.refused
    assert shop.faults.rate_limited == 0  # the 429s were answered and the calls retried
    assert hub.books_balance()
    final = orders_once(hub, CODE)
    assert final[paid]["status"] == "shipped"
    assert set(final) == set(expected)


def signed(shop: ShopifySimulator, body: bytes, **changes: str) -> dict[str, str]:
    headers = shop.headers("orders/create", body)
    headers.update(changes)
    return headers


def test_a_webhook_triggered_two_days_ago_is_refused_one_three_hours_late_is_taken(
    hub: HubUnderTest, platform: Shopify, shop: ShopifySimulator
) -> None:
    platform.connect(hub, CODE)
    native = json.loads((OWN / "orders_create_paid.json").read_text())
    body = json.dumps(native).encode()
    before = len(hub.inbound())

    two_days_ago = (datetime.now(UTC) - timedelta(hours=49)).isoformat()
    stale = hub.post_native(
        CODE, body, signed(shop, body, **{"X-Shopify-Triggered-At": two_days_ago})
    )
    assert stale.status_code == 401, stale.text
    assert stale.json()["error"]["code"] == "request_expired"
    assert len(hub.inbound()) == before
    assert hub.order(CODE, "5123456789012") is None

    # a retry three hours late (Shopify retries for hours) is still taken
    late = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    accepted = hub.post_native(CODE, body, signed(shop, body, **{"X-Shopify-Triggered-At": late}))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["orders"][0]["external_id"] == "5123456789012"

    garbled = body[:-40]
    response = hub.post_native(CODE, garbled, signed(shop, garbled))
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    assert garbled.decode() in {r["body"] for r in hub.inbound("rejected")}
    assert len(hub.orders(CODE)) == 1
