"""WooCommerce end to end: a real hub (``omnihub serve`` on SQLite) and the WooCommerce
simulator over HTTP. The site sends the ping when its webhook is saved, then order webhooks
made and signed as WooCommerce makes them (some twice, some out of order, a trashed order
with its id only); the hub sets ``stock_quantity`` through 429s and 500s, completes shipped
orders and cancels the ones a person cancels. Refused and unreadable deliveries store nothing
but the raw body. What every channel does (signatures, replays, unknown statuses, stock,
retries) is in ``test_channel_contract.py``; here is what only WooCommerce does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
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
from tests.channels.platforms import WooCommerce

from omnihub.simulators.channels.woocommerce import WooCommerceSimulator

pytestmark = pytest.mark.e2e

OWN = Path(__file__).parent / "fixtures" / "woocommerce"
CODE = "woo-cn"
#: statuses of an order the hub holds as paid and is fulfilling
FULFILLING = {"paid", "allocated", "released"}
SIGNATURE = "X-WC-Webhook-Signature"


@pytest.fixture
def platform() -> Iterator[WooCommerce]:
    """A site with a variation with a SKU code, a variation without one (matched by its
    variation id) and a simple product with a SKU code."""
    platform = WooCommerce()
    with platform.sim:
        yield platform


@pytest.fixture
def site(platform: WooCommerce) -> WooCommerceSimulator:
    return platform.sim


def test_a_day_of_orders_ends_with_one_order_per_order_at_its_newest_state_and_stock_in_sync(
    hub: HubUnderTest, platform: WooCommerce, site: WooCommerceSimulator
) -> None:
    items = {sku: platform.channel_sku(sku) for sku in (TEE, MUG, CAP)}
    socks = site.add_product("SOCKS-GREY", product_id=530)
    site.faults.rate_limited = 2  # the host's rate limiter answers rest_too_many_requests
    site.faults.duplicate_rate = 0.5  # some deliveries sent twice, same delivery id and body
    platform.connect(hub, CODE)
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
    orders = settle(hub, CODE, expected)
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
        lambda: stock_matches(hub, CODE, site.stock, mapped),
        timeout=30,
        what="WooCommerce stock quantities equal to the hub's published ones",
    )
    assert not site.refused, site.refused
    assert site.faults.rate_limited == 0
    assert hub.books_balance()
    final = orders_once(hub, CODE)
    assert (final[paid]["status"], final[to_cancel]["status"]) == ("shipped", "cancelled")
    assert set(final) == set(expected)


def test_an_unsigned_delivery_is_refused_the_ping_answered_and_a_garbled_one_kept(
    hub: HubUnderTest, platform: WooCommerce, site: WooCommerceSimulator
) -> None:
    platform.connect(hub, CODE)
    body = (OWN / "webhook_order_created.body").read_bytes()
    before = len(hub.inbound())

    unsigned = {k: v for k, v in site.headers("order.created", body).items() if k != SIGNATURE}
    missing = hub.post_native(CODE, body, unsigned)
    assert missing.status_code == 401, missing.text
    ping = hub.post_native(
        CODE, b"webhook_id=12", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert ping.status_code == 200, ping.text  # WooCommerce wants a 200 to save the webhook
    assert ping.json()["orders"] == []
    assert "ping" in ping.json()["ignored"]
    assert len(hub.inbound()) == before
    assert hub.order(CODE, "4242") is None

    accepted = hub.post_native(CODE, body, site.headers("order.created", body))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["orders"][0]["external_id"] == "4242"

    garbled = body[:-40]
    response = hub.post_native(CODE, garbled, site.headers("order.created", garbled))
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    assert garbled.decode() in {r["body"] for r in hub.inbound("rejected")}
    assert len(hub.orders(CODE)) == 1
