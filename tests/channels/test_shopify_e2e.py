"""Shopify end to end: a real hub (``omnihub serve`` on SQLite) and the Shopify simulator over
HTTP. The shop sends order webhooks signed and retried as Shopify does (duplicates with the
same webhook id, a later state before the first); the hub sets stock with
``inventory_levels/set.json`` through Shopify's rate limit and ships with a fulfillment.
Refused and unreadable webhooks store nothing but the raw body."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.channels.harness import CAP, MUG, TEE, WAREHOUSE, HubUnderTest, wait_until

from omnihub.simulators.channels.shopify import ShopifySimulator

pytestmark = pytest.mark.e2e

OWN = Path(__file__).parent / "fixtures" / "shopify"
CODE = "shopify-cn"
#: statuses of an order the hub holds as paid and is fulfilling
FULFILLING = {"paid", "allocated", "released"}


@pytest.fixture
def shop() -> Iterator[ShopifySimulator]:
    with ShopifySimulator(seed=11, retry_delays=(0.02, 0.05)) as sim:
        yield sim  # type: ignore[misc]


def stock_the_shop(shop: ShopifySimulator) -> dict[str, str]:
    """hub SKU -> channel SKU: two variants with merchant SKU codes, one with none (the cap,
    matched by its variant id)."""
    return {
        TEE: shop.add_variant(
            "TEE-WHITE-M",
            variant_id=44000000000101,
            product_id=8800000000101,
            inventory_item_id=49000000000101,
        ),
        MUG: shop.add_variant(
            "MUG-CERAMIC-350",
            variant_id=44000000000202,
            product_id=8800000000202,
            inventory_item_id=49000000000202,
        ),
        CAP: shop.add_variant(
            None,
            variant_id=44000000000303,
            product_id=8800000000303,
            inventory_item_id=49000000000303,
        ),
    }


def connect(hub: HubUnderTest, shop: ShopifySimulator, items: dict[str, str]) -> None:
    for sku, channel_sku in items.items():
        hub.map_sku(CODE, channel_sku, sku)
    hub.add_channel(
        CODE,
        "shopify",
        shop.url,
        secret=shop.secret,
        credentials=shop.credentials(),
        locations=[WAREHOUSE],
    )
    shop.hub_url = f"{hub.base_url}/api/v1/channels/{CODE}"


def by_external_id(hub: HubUnderTest) -> dict[str, dict[str, Any]]:
    orders = hub.orders(CODE)
    counts = Counter(o["external_id"] for o in orders)
    assert all(n == 1 for n in counts.values()), f"an order stored twice: {counts}"
    return {o["external_id"]: o for o in orders}


def settle(hub: HubUnderTest, expected: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def settled() -> dict[str, dict[str, Any]] | None:
        orders = by_external_id(hub)
        seen.update(now={k: (o["status"], o["hold_reason"]) for k, o in orders.items()})
        if set(orders) == set(expected) and all(
            orders[k]["status"] in statuses for k, statuses in expected.items()
        ):
            return orders
        return None

    try:
        return wait_until(settled, timeout=30, what="every order at its newest state")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; expected {expected}, hub has {seen.get('now')}") from None


def stock_matches(hub: HubUnderTest, shop: ShopifySimulator, mapped: dict[str, str]) -> bool:
    """Each mapped channel SKU holds the hub's published quantity of its SKU."""
    published = hub.published(CODE)
    return all(
        sku in published and shop.stock.get(channel_sku) == published[sku]["published"]
        for channel_sku, sku in mapped.items()
    )


def test_a_day_of_orders_ends_with_one_order_per_order_at_its_newest_state_and_stock_in_sync(
    hub: HubUnderTest, shop: ShopifySimulator
) -> None:
    items = stock_the_shop(shop)
    socks = shop.add_variant(
        "SOCKS-GREY",
        variant_id=44000000000404,
        product_id=8800000000404,
        inventory_item_id=49000000000404,
    )
    shop.faults.rate_limited = 3  # the first Admin API calls get 429 + Retry-After
    shop.faults.duplicate_rate = 0.5  # some webhooks delivered twice, same webhook id
    connect(hub, shop, items)
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
    orders = settle(hub, expected)
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
        lambda: stock_matches(hub, shop, mapped),
        timeout=30,
        what="Shopify's available quantities equal to the hub's published ones",
    )
    assert not shop.refused, shop.refused
    assert shop.faults.rate_limited == 0  # the 429s were answered and the calls retried
    assert hub.books_balance()
    final = by_external_id(hub)
    assert final[paid]["status"] == "shipped"
    assert set(final) == set(expected)


def signed(shop: ShopifySimulator, body: bytes, **changes: str) -> dict[str, str]:
    headers = shop.headers("orders/create", body)
    headers.update(changes)
    return headers


def test_refused_webhooks_store_nothing_and_an_unreadable_one_is_kept_for_a_person(
    hub: HubUnderTest, shop: ShopifySimulator
) -> None:
    connect(hub, shop, stock_the_shop(shop))
    native = json.loads((OWN / "orders_create_paid.json").read_text())
    body = json.dumps(native).encode()
    before = len(hub.inbound())

    forged = hub.post_native(
        CODE,
        body,
        signed(
            shop,
            body,
            **{"X-Shopify-Hmac-Sha256": signed(shop, body + b" ")["X-Shopify-Hmac-Sha256"]},
        ),
    )
    assert forged.status_code == 401, forged.text
    assert forged.json()["error"]["code"] == "bad_signature"
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
    headers = signed(shop, body, **{"X-Shopify-Triggered-At": late})
    accepted = hub.post_native(CODE, body, headers)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["orders"][0]["external_id"] == "5123456789012"
    inbound_after = len(hub.inbound())
    replayed = hub.post_native(CODE, body, headers)
    assert replayed.status_code == 200, replayed.text  # any other answer is a failed delivery
    assert replayed.json()["replayed"] is True
    assert replayed.json()["orders"] == []
    assert len(hub.inbound()) == inbound_after

    garbled = body[:-40]
    response = hub.post_native(CODE, garbled, signed(shop, garbled))
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    unknown = dict(native, id=5123456789099, financial_status="chargeback_pending")
    strange = json.dumps(unknown).encode()
    response = hub.post_native(CODE, strange, signed(shop, strange))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unknown_channel_status"
    rejected = {r["body"]: r for r in hub.inbound("rejected")}
    assert garbled.decode() in rejected
    assert "chargeback_pending" in rejected[strange.decode()]["error"]
    assert hub.order(CODE, "5123456789099") is None
    assert len(hub.orders(CODE)) == 1
