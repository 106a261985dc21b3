"""饿了么 end to end: a real hub (``omnihub serve`` on SQLite) and the Eleme simulator over
HTTP. The shop's orders arrive as signed message envelopes (the whole order, then state and
cancel messages the hub answers by fetching the order), some twice and some in the wrong
order; each reserves at the shop's store, which accepts it on the platform; the hub sets the
shop's stock with ``batchUpdateStock``. Refused envelopes store nothing; unreadable ones are
kept for a person."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tests.channels.harness import CAP, MUG, STORE, TEE, HubUnderTest, wait_until

from omnihub.adapters.channels.eleme.signature import push_signature
from omnihub.simulators.channels.eleme import ElemeSimulator

pytestmark = pytest.mark.e2e

CODE = "ele-jingan"
#: an order the store reserved and that is handed to it (the platform's rider collects it)
FULFILLING = "released"


@pytest.fixture
def shop() -> Iterator[ElemeSimulator]:
    with ElemeSimulator(seed=5) as sim:
        yield sim  # type: ignore[misc]


def connect(hub: HubUnderTest, shop: ElemeSimulator) -> None:
    """The shop's items carry the retailer's SKU codes as their merchant codes (extendCode)."""
    for sku in (TEE, MUG, CAP):
        hub.map_sku(CODE, sku, sku)
    hub.add_channel(
        CODE,
        "eleme",
        shop.api_url,
        secret=shop.secret,
        credentials=shop.credentials(STORE),
        locations=[STORE],
    )
    shop.hub_url = f"{hub.base_url}/api/v1/channels/{CODE}"


def by_external_id(hub: HubUnderTest) -> dict[str, dict[str, Any]]:
    orders = hub.orders(CODE)
    counts = Counter(o["external_id"] for o in orders)
    assert all(n == 1 for n in counts.values()), f"an order stored twice: {counts}"
    return {o["external_id"]: o for o in orders}


def settle(
    hub: HubUnderTest, expected: dict[str, str], timeout: float = 30
) -> dict[str, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def settled() -> dict[str, dict[str, Any]] | None:
        orders = by_external_id(hub)
        seen["now"] = {k: (o["status"], o["hold_reason"]) for k, o in orders.items()}
        if set(orders) == set(expected) and all(
            orders[k]["status"] == status for k, status in expected.items()
        ):
            return orders
        return None

    try:
        return wait_until(settled, timeout=timeout, what="every order at its newest state")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; expected {expected}, hub has {seen.get('now')}") from None


def stock_matches(hub: HubUnderTest, shop: ElemeSimulator) -> bool:
    published = hub.published(CODE)
    return all(
        sku in published and shop.stock.get(sku) == published[sku]["published"]
        for sku in (TEE, MUG, CAP)
    )


def store_available(hub: HubUnderTest, sku: str) -> int:
    levels = hub.get(f"/api/v1/inventory/{sku}")["locations"]
    return int(next(level["available"] for level in levels if level["location"] == STORE))


def test_a_day_of_shop_orders_reserves_at_the_store_once_each_at_its_newest_state(
    hub: HubUnderTest, shop: ElemeSimulator
) -> None:
    connect(hub, shop)
    wait_until(
        lambda: stock_matches(hub, shop),
        timeout=30,
        what="the shop's stock set to the store's available quantities",
    )
    assert shop.stock == {TEE: 8, MUG: 5, CAP: 3}

    accepted = shop.place_order([(TEE, 2), (MUG, 1)])
    shop.accept(accepted)
    shop.faults.duplicate_rate = 1.0  # the platform sends the next messages twice
    twice = shop.place_order([(CAP, 1)])
    shop.faults.duplicate_rate = 0.0
    shop.faults.out_of_order = True  # an order's later message arrives before its first
    late_first = shop.place_order([(MUG, 1)])
    shop.accept(late_first)
    cancel_asked = shop.place_order([(CAP, 1)])
    shop.request_cancel(cancel_asked)  # the buyer asks to cancel before the shop has it
    shop.faults.out_of_order = False
    cancelled = shop.place_order([(TEE, 1)])
    shop.accept(cancelled)
    shop.cancel(cancelled)  # made invalid after it was paid and accepted
    unmapped = shop.place_order([(TEE, 1)], unknown_item="SOCKS-GREY")

    expected = {
        accepted: FULFILLING,
        twice: FULFILLING,
        late_first: FULFILLING,
        cancelled: "cancelled",
        cancel_asked: "held",
        unmapped: "held",
    }
    orders = settle(hub, expected)
    assert orders[cancel_asked]["hold_reason"] == "refund_requested"
    assert orders[unmapped]["hold_reason"] == "unmapped_sku"
    statuses = Counter(status for _, status in shop.pushed)
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses[409] == 1  # the second delivery of the same requestId

    # each order reserved at the shop's store, at the quantities ordered
    for external_id, lines in (
        (accepted, {TEE: 2, MUG: 1}),
        (twice, {CAP: 1}),
        (late_first, {MUG: 1}),
    ):
        detail = hub.get(f"/api/v1/orders/{orders[external_id]['id']}")
        assert detail["pickup_location"] == STORE
        assert detail["delivery"] == "same_day"
        assert {r["location"] for r in detail["reservations"]} == {STORE}
        assert {r["sku"]: r["qty"] for r in detail["reservations"]} == lines
        assert detail["payment"]["provider"] == "eleme"
    assert store_available(hub, TEE) == 8 - 2  # the cancelled order gave its shirt back
    assert store_available(hub, MUG) == 5 - 1 - 1
    assert store_available(hub, CAP) == 3 - 1  # the held cancel request holds none

    wait_until(
        lambda: stock_matches(hub, shop),
        timeout=30,
        what="the shop's stock equal to the hub's published quantities",
    )
    assert shop.stock == {TEE: 6, MUG: 3, CAP: 2}

    # the shop refuses the cancel request: the order is fulfilled after all
    shop.reject_cancel(cancel_asked)
    settle(hub, {**expected, cancel_asked: FULFILLING})
    wait_until(
        lambda: stock_matches(hub, shop) and shop.stock[CAP] == 1,
        timeout=30,
        what="the cap reserved and the shop's stock following",
    )
    # the only calls the platform may refuse: accepting an order it had cancelled meanwhile
    assert all(any(gone in why for gone in (cancelled,)) for _, why in shop.refused), shop.refused
    assert hub.books_balance()


def test_the_store_reserving_an_order_accepts_it_on_the_platform(
    hub: HubUnderTest, shop: ElemeSimulator
) -> None:
    connect(hub, shop)
    order = shop.place_order([(MUG, 1)])
    settle(hub, {order: FULFILLING})
    wait_until(
        lambda: order in shop.accepted,
        timeout=8,
        what="confirmOrderLite for the order the store reserved",
    )
    assert shop.orders[order]["status"] == "valid"


def test_refused_envelopes_store_nothing_and_an_unreadable_one_is_kept_for_a_person(
    hub: HubUnderTest, shop: ElemeSimulator
) -> None:
    connect(hub, shop)
    shop.hub_url = None  # envelopes are posted by the test itself
    order = {
        "orderId": "3000000000000000777",
        "id": "3000000000000000777",
        "shopId": shop.shop_id,
        "createdAt": "2026-05-18T11:58:02",
        "activeAt": "2026-05-18T11:58:09",
        "status": "unprocessed",
        "refundStatus": "noRefund",
        "onlinePaid": True,
        "deliverFee": 5.0,
        "packageFee": 0.0,
        "totalPrice": 64.0,
        "consignee": "王 先生",
        "phoneList": ["138****0001"],
        "address": "上海市静安区南京西路1601号",
        "deliveryGeo": "121.4540,31.2281",
        "description": "",
        "groups": [
            {
                "name": "1号篮子",
                "type": "normal",
                "items": [
                    {
                        "id": 5100001,
                        "skuId": 7100001,
                        "extendCode": TEE,
                        "name": "T",
                        "price": 59.0,
                        "quantity": 1,
                        "total": 59.0,
                    }
                ],
            }
        ],
    }
    headers = {"content-type": "application/json"}
    before = len(hub.inbound())

    forged = hub.post_native(CODE, shop.envelope(10, order, secret="not-the-secret"), headers)
    assert forged.status_code == 401, forged.text
    assert forged.json()["error"]["code"] == "bad_signature"
    ten_minutes_ago = int((time.time() - 600) * 1000)
    stale = hub.post_native(CODE, shop.envelope(10, order, timestamp_ms=ten_minutes_ago), headers)
    assert stale.status_code == 401, stale.text
    assert stale.json()["error"]["code"] == "request_expired"
    assert len(hub.inbound()) == before
    assert hub.order(CODE, order["orderId"]) is None

    body = shop.envelope(10, order, request_id="req-0001")
    accepted = hub.post_native(CODE, body, headers)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["message"] == "ok"
    assert accepted.json()["orders"][0]["status"] == FULFILLING
    inbound_after = len(hub.inbound())
    replayed = hub.post_native(CODE, body, headers)
    assert replayed.status_code == 409, replayed.text
    assert replayed.json()["error"]["code"] == "replayed_message"
    assert len(hub.inbound()) == inbound_after

    raw = json.loads(shop.envelope(10, order))
    raw["message"] = raw["message"][:-30]  # cut short, and signed as the platform would
    raw["signature"] = push_signature(raw, shop.secret)
    garbled = json.dumps(raw, ensure_ascii=False).encode()
    response = hub.post_native(CODE, garbled, headers)
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    strange = shop.envelope(10, dict(order, orderId="3000000000000000778", status="frozen"))
    response = hub.post_native(CODE, strange, headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unknown_channel_status"
    rejected = {r["body"]: r for r in hub.inbound("rejected")}
    assert garbled.decode() in rejected
    assert "frozen" in rejected[strange.decode()]["error"]

    rider = hub.post_native(CODE, shop.envelope(52, {"orderId": order["orderId"]}), headers)
    assert rider.status_code == 200, rider.text
    assert rider.json()["message"] == "ok"
    assert "rider" in rider.json()["ignored"]
    assert [o["external_id"] for o in hub.orders(CODE)] == [order["orderId"]]
