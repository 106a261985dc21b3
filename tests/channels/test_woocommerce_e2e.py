"""WooCommerce end to end: a real hub (``omnihub serve`` on SQLite) and the WooCommerce
simulator over HTTP. The site sends the ping when its webhook is saved, then order webhooks
made and signed as WooCommerce makes them (some twice, some out of order, a trashed order
with its id only); the hub sets ``stock_quantity`` through 429s and 500s, completes shipped
orders and cancels the ones a person cancels. Refused and unreadable deliveries store nothing
but the raw body."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.channels.harness import CAP, MUG, TEE, WAREHOUSE, HubUnderTest, wait_until

from omnihub.adapters.channels.woocommerce import signature
from omnihub.simulators.channels.woocommerce import WooCommerceSimulator

pytestmark = pytest.mark.e2e

OWN = Path(__file__).parent / "fixtures" / "woocommerce"
CODE = "woo-cn"
#: statuses of an order the hub holds as paid and is fulfilling
FULFILLING = {"paid", "allocated", "released"}


@pytest.fixture
def site() -> Iterator[WooCommerceSimulator]:
    with WooCommerceSimulator(seed=5) as sim:
        yield sim  # type: ignore[misc]


def stock_the_site(site: WooCommerceSimulator) -> dict[str, str]:
    """hub SKU -> channel SKU: a variation with a SKU code, a variation without one (matched
    by its variation id) and a simple product with a SKU code."""
    return {
        TEE: site.add_product("TEE-WHITE-M", product_id=501, variation_id=503),
        MUG: site.add_product(None, product_id=510, variation_id=512),
        CAP: site.add_product("CAP-NAVY", product_id=520),
    }


def connect(hub: HubUnderTest, site: WooCommerceSimulator, items: dict[str, str]) -> None:
    for sku, channel_sku in items.items():
        hub.map_sku(CODE, channel_sku, sku)
    hub.add_channel(
        CODE,
        "woocommerce",
        site.url,
        secret=site.secret,
        credentials=site.credentials(),
        locations=[WAREHOUSE],
    )
    site.hub_url = f"{hub.base_url}/api/v1/channels/{CODE}"


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


def stock_matches(hub: HubUnderTest, site: WooCommerceSimulator, mapped: dict[str, str]) -> bool:
    published = hub.published(CODE)
    return all(
        sku in published and site.stock.get(channel_sku) == published[sku]["published"]
        for channel_sku, sku in mapped.items()
    )


def test_a_day_of_orders_ends_with_one_order_per_order_at_its_newest_state_and_stock_in_sync(
    hub: HubUnderTest, site: WooCommerceSimulator
) -> None:
    items = stock_the_site(site)
    socks = site.add_product("SOCKS-GREY", product_id=530)
    site.faults.rate_limited = 2  # the host's rate limiter answers rest_too_many_requests
    site.faults.duplicate_rate = 0.5  # some deliveries sent twice, same delivery id and body
    connect(hub, site, items)
    assert site.ping() == 200  # the webhook is saved: WooCommerce wants a 200 to the ping
    tee, mug, cap = items[TEE], items[MUG], items[CAP]

    def new(lines: list[tuple[str, int, str]], **kwargs: Any) -> str:
        return str(site.new_order(lines, **kwargs)["id"])

    # pending payment, then paid
    paid = new([(tee, 2, "59.00"), (mug, 1, "39.00")], status="pending")
    site.set_status(paid, "processing")
    # cancelled by the shop after payment
    cancelled = new([(cap, 1, "79.00")])
    site.set_status(cancelled, "cancelled")
    # a payment that failed: unpaid, and the buyer may still retry it
    failed = new([(mug, 3, "39.00")], status="pending")
    site.set_status(failed, "failed")
    # later states delivered before order.created: paid, and a refund the buyer asked for
    # before shipment that reaches the hub before the order is routed
    site.faults.out_of_order = True
    out_of_order = new([(cap, 2, "79.00")], status="pending")
    site.set_status(out_of_order, "processing")
    refund_asked = new([(tee, 1, "59.00"), (cap, 1, "79.00")])
    site.refund(refund_asked, "59.00")
    site.faults.out_of_order = False
    # cash on delivery: processing at once, no payment until the courier collects
    cod = new([(mug, 1, "39.00")], payment_method="cod")
    # a product the hub has no mapping for
    unmapped = new([(socks, 1, "19.00")])
    # the shop trashes an order: order.deleted with the id only, the hub fetches it
    trashed = new([(tee, 1, "59.00")])
    site.trash(trashed)
    # another person cancels in the hub: the cancellation goes back to WooCommerce
    to_cancel = new([(mug, 1, "39.00")])
    site.flush()

    expected = {
        paid: FULFILLING,
        cancelled: {"cancelled"},
        failed: {"created"},
        refund_asked: {"held"},
        out_of_order: FULFILLING,
        cod: FULFILLING,
        unmapped: {"held"},
        trashed: {"cancelled"},
        to_cancel: FULFILLING,
    }
    orders = settle(hub, expected)
    assert orders[refund_asked]["hold_reason"] == "refund_requested"
    assert orders[unmapped]["hold_reason"] == "unmapped_sku"
    statuses = Counter(status for *_, status in site.deliveries)
    assert set(statuses) <= {200, 201}, statuses  # a repeat is acknowledged, not refused
    ids = Counter(delivery_id for _, _, delivery_id, _ in site.deliveries)
    assert any(n > 1 for n in ids.values()), "no delivery was sent twice"
    assert not site.disabled, "the hub's answers made WooCommerce disable the webhook"

    released = hub.map_sku(CODE, socks, MUG)["released_orders"]
    assert released == [orders[unmapped]["id"]]

    # the hub ships one order and a person cancels another: both reach WooCommerce, whose
    # order.updated webhooks come back without harm
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
    hub.post(
        f"/api/v1/orders/{orders[to_cancel]['id']}/actions/cancel",
        {"reason": "out of stock at the packing bench"},
        200,
    )
    wanted = {(paid, "completed"), (to_cancel, "cancelled")}
    wait_until(lambda: wanted <= set(site.status_pushes), what="both pushes at WooCommerce")
    # the hub also sends back cancellations it learnt from the shop itself; they change
    # nothing there but the trash (a trashed order becomes a cancelled one)
    echoes = set(site.status_pushes) - wanted
    assert echoes <= {(cancelled, "cancelled"), (trashed, "cancelled")}, echoes
    assert site.shipments == [
        {"order_id": paid, "carrier": "SF", "tracking_number": "SF1402226688"}
    ]
    meta = {m["key"]: m["value"] for m in site.orders[paid]["meta_data"]}
    assert meta["omnihub_tracking_number"] == "SF1402226688"
    site.settle()

    mapped = {channel_sku: sku for sku, channel_sku in items.items()} | {socks: MUG}
    wait_until(
        lambda: stock_matches(hub, site, mapped),
        timeout=30,
        what="WooCommerce stock quantities equal to the hub's published ones",
    )
    assert not site.refused, site.refused
    assert site.faults.rate_limited == 0
    assert hub.books_balance()
    final = by_external_id(hub)
    assert (final[paid]["status"], final[to_cancel]["status"]) == ("shipped", "cancelled")
    assert set(final) == set(expected)


def test_refused_deliveries_store_nothing_and_an_unreadable_one_is_kept_for_a_person(
    hub: HubUnderTest, site: WooCommerceSimulator
) -> None:
    connect(hub, site, stock_the_site(site))
    body = (OWN / "webhook_order_created.body").read_bytes()
    before = len(hub.inbound())

    forged = hub.post_native(CODE, body, site.headers("order.created", body + b" "))
    assert forged.status_code == 401, forged.text
    assert forged.json()["error"]["code"] == "bad_signature"
    unsigned = {
        k: v for k, v in site.headers("order.created", body).items() if k != signature.HEADER
    }
    missing = hub.post_native(CODE, body, unsigned)
    assert missing.status_code == 401, missing.text
    ping = hub.post_native(
        CODE, b"webhook_id=12", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert ping.status_code == 200, ping.text
    assert ping.json()["orders"] == []
    assert "ping" in ping.json()["ignored"]
    assert len(hub.inbound()) == before
    assert hub.order(CODE, "4242") is None

    headers = site.headers("order.created", body)
    accepted = hub.post_native(CODE, body, headers)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["orders"][0]["external_id"] == "4242"
    inbound_after = len(hub.inbound())
    replayed = hub.post_native(CODE, body, headers)
    assert replayed.status_code == 200, replayed.text  # any other answer is a failed delivery
    assert replayed.json()["replayed"] is True
    assert replayed.json()["orders"] == []
    assert len(hub.inbound()) == inbound_after

    garbled = body[:-40]
    response = hub.post_native(CODE, garbled, site.headers("order.created", garbled))
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    native = json.loads(body)
    native.update(id=4299, status="wc-awaiting-shipment")
    strange = json.dumps(native).encode()
    response = hub.post_native(CODE, strange, site.headers("order.updated", strange))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unknown_channel_status"
    rejected = {r["body"]: r for r in hub.inbound("rejected")}
    assert garbled.decode() in rejected
    assert "wc-awaiting-shipment" in rejected[strange.decode()]["error"]
    assert hub.order(CODE, "4299") is None
    assert len(hub.orders(CODE)) == 1
