"""抖店 end to end: a real hub (``omnihub serve`` on SQLite) and the 抖店 open-platform
simulator over HTTP. The shop pushes message batches that name orders only (duplicates with the
same msg_id, an order's first message after its second); the hub fetches each order with
``order.orderDetail``, sets stock with ``sku.syncStock`` through the platform's rate limit and
ships with ``order.logisticsAdd``. Refused and unreadable batches store nothing but the raw
body. (The push carries no signed send time, so there is no expired-timestamp case here.)
What every channel does (signatures, replays, unknown statuses, stock, retries) is in
``test_channel_contract.py``; here is what only 抖店 does."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.channels.harness import (
    CAP,
    MUG,
    TEE,
    HubUnderTest,
    orders_once,
    stock_matches,
    wait_until,
)
from tests.channels.harness import settle as settle_channel
from tests.channels.platforms import Douyin

from omnihub.simulators.channels.douyin import DouyinSimulator, Item

pytestmark = pytest.mark.e2e

CODE = "douyin-shop"
#: statuses of an order the hub holds as paid and is fulfilling
FULFILLING = {"paid", "allocated", "released"}
#: hub SKU -> the shop's item: two with merchant codes, the mug matched by its sku_id
ITEMS = Douyin.ITEMS
SOCKS = Item(sku_id=1781234500004, product_id=3612345600004, price_fen=1900, code="DY-SOCKS")


@pytest.fixture
def platform() -> Iterator[Douyin]:
    platform = Douyin()
    platform.sim.add_item(SOCKS)  # on sale, and mapped by nobody yet
    with platform.sim:
        yield platform


@pytest.fixture
def shop(platform: Douyin) -> DouyinSimulator:
    return platform.sim


def by_external_id(hub: HubUnderTest) -> dict[str, dict[str, Any]]:
    return orders_once(hub, CODE)


def settle(hub: HubUnderTest, expected: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    return settle_channel(hub, CODE, expected)


def test_a_day_of_orders_ends_with_one_order_per_order_at_its_newest_state_and_stock_in_sync(
    hub: HubUnderTest, platform: Douyin, shop: DouyinSimulator
) -> None:
    shop.faults.rate_limited = 3  # the first open-platform calls answer code 30001
    shop.faults.duplicate_rate = 0.5  # some batches pushed twice with the same msg_id
    platform.connect(hub, CODE)
    tee, mug, cap = ITEMS[TEE], ITEMS[MUG], ITEMS[CAP]

    paid = shop.create_order([(tee, 2), (mug, 1)])
    shop.pay(paid)
    # the buyer cancels after paying: refund-only before shipment, the order is closed
    refunded = shop.create_order([(cap, 1)])
    shop.pay(refunded)
    shop.request_refund(refunded)
    shop.refund(refunded)
    never_paid = shop.create_order([(mug, 3)])
    shop.cancel(never_paid)
    # a refund asked before shipment and not decided, heard of before the order was routed
    # (its created and paid messages come late): the hub holds the order
    refund_asked = shop.create_order([(tee, 1)], push=False)
    shop.pay(refund_asked, push=False)
    shop.request_refund(refund_asked)
    shop.notify(refund_asked, "100")
    # a refund asked and refused: the order goes on
    refund_refused = shop.create_order([(mug, 1), (cap, 1)])
    shop.pay(refund_refused)
    shop.request_refund(refund_refused)
    shop.refuse_refund(refund_refused)
    # the order-created message arrives after the paid one
    shop.faults.out_of_order = True
    late_first = shop.create_order([(cap, 2)])
    shop.pay(late_first)
    shop.faults.out_of_order = False
    waiting = shop.create_order([(tee, 1)])
    unmapped = shop.create_order([(SOCKS, 2)])
    shop.pay(unmapped)
    shop.flush()

    expected = {
        paid: FULFILLING,
        refunded: {"refunded"},
        never_paid: {"cancelled"},
        refund_asked: {"held"},
        refund_refused: FULFILLING,
        late_first: FULFILLING,
        waiting: {"created"},
        unmapped: {"held"},
    }
    orders = settle(hub, expected)
    assert orders[refund_asked]["hold_reason"] == "refund_requested"
    assert orders[unmapped]["hold_reason"] == "unmapped_sku"
    statuses = Counter(status for _, status in shop.pushed)
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses[409] == len(shop.duplicated) > 0  # each second delivery refused as a replay
    detail = hub.get(f"/api/v1/orders/{orders[paid]['id']}")
    assert detail["buyer"]["channel_buyer_id"] == shop.orders[paid]["doudian_open_id"]
    assert set(detail["ship_to"]["masked"]) == {"name", "phone", "address"}

    # the mapping arrives: the held order goes on
    released = hub.map_sku(CODE, SOCKS.channel_sku, MUG)["released_orders"]
    assert released == [orders[unmapped]["id"]]

    # the hub ships: 抖店 gets order.logisticsAdd with its own carrier code
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
    wait_until(lambda: shop.shipments, what="the shipment at 抖店")
    assert shop.shipments == [
        {"order_id": paid, "company_code": "shunfeng", "logistics_code": "SF1402226688"}
    ]
    assert shop.orders[paid]["order_status"] == 3

    mapped = {item.channel_sku: sku for sku, item in ITEMS.items()} | {SOCKS.channel_sku: MUG}
    wait_until(
        lambda: stock_matches(hub, CODE, shop.stock, mapped),
        timeout=30,
        what="抖店's stock equal to the hub's published quantities",
    )
    assert shop.stock[ITEMS[MUG].channel_sku] == shop.stock[SOCKS.channel_sku]
    assert not shop.refused, shop.refused
    assert shop.faults.rate_limited == 0  # the 30001 answers were retried
    assert hub.books_balance()
    assert set(by_external_id(hub)) == set(expected)


def test_an_unsigned_batch_is_refused_a_product_message_ignored_a_garbled_one_kept(
    hub: HubUnderTest, platform: Douyin, shop: DouyinSimulator
) -> None:
    platform.connect(hub, CODE)
    order_id = shop.create_order([(ITEMS[TEE], 1)], push=False)
    shop.pay(order_id, push=False)
    body = json.dumps([shop.message(order_id, "101")]).encode()
    before = len(hub.inbound())

    unsigned = hub.post_native(CODE, body, {"content-type": "application/json"})
    assert unsigned.status_code == 401, unsigned.text
    assert len(hub.inbound()) == before
    assert hub.order(CODE, order_id) is None

    accepted = hub.post_native(CODE, body, shop.signed_headers(body))
    assert accepted.status_code == 201, accepted.text
    answer = accepted.json()
    assert (answer["code"], answer["msg"]) == (0, "success")  # what 抖店 wants back
    assert answer["orders"][0]["external_id"] == order_id

    product = json.dumps([{"tag": "400", "msg_id": "p-1", "data": "{}"}]).encode()
    ignored = hub.post_native(CODE, product, shop.signed_headers(product))
    assert ignored.status_code == 200, ignored.text
    assert "tag 400" in ignored.json()["ignored"]

    garbled = body[:-10]
    response = hub.post_native(CODE, garbled, shop.signed_headers(garbled))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unreadable_payload"
    assert garbled.decode() in {r["body"] for r in hub.inbound("rejected")}
    assert [o["external_id"] for o in hub.orders(CODE)] == [order_id]


def test_a_batch_whose_order_cannot_be_fetched_is_not_taken_and_is_taken_when_pushed_again(
    hub: HubUnderTest, platform: Douyin, shop: DouyinSimulator
) -> None:
    platform.connect(hub, CODE)
    order_id = shop.create_order([(ITEMS[MUG], 1)], push=False)
    shop.pay(order_id, push=False)
    body = json.dumps([shop.message(order_id, "101")]).encode()
    shop.faults.down = True  # the open platform is out: the order cannot be fetched
    try:
        status = hub.post_native(CODE, body, shop.signed_headers(body)).status_code
    except httpx.TransportError:  # the hub dropped the request: to 抖店, a failed delivery too
        status = 0
    assert status == 0 or status >= 500, status  # either way the platform pushes it again
    assert hub.order(CODE, order_id) is None
    shop.faults.down = False  # the platform pushes the same batch again later
    again = hub.post_native(CODE, body, shop.signed_headers(body))
    assert again.status_code == 201, again.text
    order = hub.order(CODE, order_id)
    assert order is not None
    assert order["status"] in FULFILLING
