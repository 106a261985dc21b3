"""美团 end to end: a real hub (``omnihub serve`` on SQLite) and the Meituan simulator over
HTTP. The shop's orders arrive as signed form callbacks (the whole order when paid or
accepted; cancellations and refunds name it and the hub fetches it), some twice and some in
the wrong order; each reserves at the shop's store; the hub sets the shop's stock with
``retail/sku/stock``. Refused callbacks store nothing; unreadable ones are kept for a person."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tests.channels.harness import CAP, MUG, STORE, TEE, HubUnderTest, wait_until

from omnihub.simulators.channels.meituan import MeituanSimulator

pytestmark = pytest.mark.e2e

CODE = "mt-jingan"
#: an order the store reserved and that is handed to it (the platform's rider collects it)
FULFILLING = "released"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def shop() -> Iterator[MeituanSimulator]:
    with MeituanSimulator(seed=5) as sim:
        yield sim  # type: ignore[misc]


def connect(hub: HubUnderTest, shop: MeituanSimulator) -> None:
    """The shop's sku_id are the retailer's SKU codes."""
    for sku in (TEE, MUG, CAP):
        hub.map_sku(CODE, sku, sku)
    shop.hub_url = f"{hub.base_url}/api/v1/channels/{CODE}"
    hub.add_channel(
        CODE,
        "meituan",
        shop.api_url,
        secret=shop.secret,
        credentials=shop.credentials(STORE, shop.callback_url),
        locations=[STORE],
    )


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


def stock_matches(hub: HubUnderTest, shop: MeituanSimulator) -> bool:
    published = hub.published(CODE)
    return all(
        sku in published and shop.stock.get(sku) == published[sku]["published"]
        for sku in (TEE, MUG, CAP)
    )


def store_available(hub: HubUnderTest, sku: str) -> int:
    levels = hub.get(f"/api/v1/inventory/{sku}")["locations"]
    return int(next(level["available"] for level in levels if level["location"] == STORE))


def test_a_day_of_shop_orders_reserves_at_the_store_once_each_at_its_newest_state(
    hub: HubUnderTest, shop: MeituanSimulator
) -> None:
    connect(hub, shop)
    wait_until(
        lambda: stock_matches(hub, shop),
        timeout=30,
        what="the shop's stock set to the store's available quantities",
    )
    assert shop.stock == {TEE: 8, MUG: 5, CAP: 3}

    accepted = shop.place_order([(TEE, 2), (MUG, 1)])
    shop.confirm(accepted)
    shop.faults.duplicate_rate = 1.0  # the platform sends the next callback twice
    twice = shop.place_order([(CAP, 1)])
    shop.faults.duplicate_rate = 0.0
    shop.faults.out_of_order = True  # the accepted order arrives before the paid one
    late_first = shop.place_order([(MUG, 1)])
    shop.confirm(late_first)
    shop.faults.out_of_order = False
    cancelled = shop.place_order([(TEE, 1)])
    shop.confirm(cancelled)
    shop.cancel(cancelled)  # the buyer cancels after paying
    refunded = shop.place_order([(CAP, 1)])
    shop.refund_apply(refunded)
    shop.refund_agree(refunded)  # a full refund before the rider collects: cancelled
    unmapped = shop.place_order([(TEE, 1)], unknown_food="SOCKS-GREY")

    expected = {
        accepted: FULFILLING,
        twice: FULFILLING,
        late_first: FULFILLING,
        cancelled: "cancelled",
        refunded: "cancelled",
        unmapped: "held",
    }
    orders = settle(hub, expected)
    assert orders[unmapped]["hold_reason"] == "unmapped_sku"
    statuses = Counter(status for _, status in shop.pushed)
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses[409] == 1  # the same signed callback a second time

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
        assert detail["payment"]["provider"] == "meituan"
        assert detail["buyer"]["masked"] == ["phone"]
    assert store_available(hub, TEE) == 8 - 2
    assert store_available(hub, MUG) == 5 - 1 - 1
    assert store_available(hub, CAP) == 3 - 1
    wait_until(
        lambda: stock_matches(hub, shop),
        timeout=30,
        what="the shop's stock equal to the hub's published quantities",
    )
    assert shop.stock == {TEE: 6, MUG: 3, CAP: 2}
    # the only calls the platform may refuse: accepting an order it had cancelled meanwhile
    assert all(any(gone in why for gone in (cancelled, refunded)) for _, why in shop.refused), (
        shop.refused
    )
    assert hub.books_balance()


def test_a_refund_request_before_the_store_has_the_order_holds_it_until_refused(
    hub: HubUnderTest, shop: MeituanSimulator
) -> None:
    connect(hub, shop)
    shop.faults.out_of_order = True  # the refund callback arrives before the paid order
    asked = shop.place_order([(CAP, 1)])
    shop.refund_apply(asked)
    shop.faults.out_of_order = False
    orders = settle(hub, {asked: "held"}, timeout=8)
    assert orders[asked]["hold_reason"] == "refund_requested"
    shop.refund_reject(asked)
    settle(hub, {asked: FULFILLING})


def test_refused_callbacks_store_nothing_and_an_unreadable_one_is_kept_for_a_person(
    hub: HubUnderTest, shop: MeituanSimulator
) -> None:
    connect(hub, shop)
    shop.faults.out_of_order = True  # place_order keeps its callback: the test posts it
    order_id = shop.place_order([(TEE, 1)])
    shop.faults.out_of_order = False
    order = shop.order_params(shop.orders[order_id])
    before = len(hub.inbound())

    forged = hub.post_native(CODE, shop.form(order, secret="not-the-app-secret"), FORM)
    assert forged.status_code == 401, forged.text
    assert forged.json()["error"]["code"] == "bad_signature"
    elsewhere = hub.post_native(CODE, shop.form(order, url="https://evil.example.com/cb"), FORM)
    assert elsewhere.status_code == 401, elsewhere.text
    stale = hub.post_native(CODE, shop.form(order, timestamp=int(time.time()) - 600), FORM)
    assert stale.status_code == 401, stale.text
    assert stale.json()["error"]["code"] == "request_expired"
    assert len(hub.inbound()) == before
    assert hub.order(CODE, order_id) is None

    body = shop.form(order)
    accepted = hub.post_native(CODE, body, FORM)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["data"] == "ok"
    assert accepted.json()["orders"][0]["status"] == FULFILLING
    inbound_after = len(hub.inbound())
    replayed = hub.post_native(CODE, body, FORM)
    assert replayed.status_code == 409, replayed.text
    assert replayed.json()["error"]["code"] == "replayed_message"
    assert len(hub.inbound()) == inbound_after

    garbled = shop.form(dict(order, order_id="27000009998", detail='[{"sku_id":"TEE-WH'))
    response = hub.post_native(CODE, garbled, FORM)
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    strange = shop.form(dict(order, order_id="27000009999", status="5"))
    response = hub.post_native(CODE, strange, FORM)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unknown_channel_status"
    rejected = {r["body"]: r for r in hub.inbound("rejected")}
    assert garbled.decode() in rejected
    assert "status '5'" in rejected[strange.decode()]["error"]

    rider = hub.post_native(
        CODE,
        shop.form({"order_id": order_id, "logistics_status": "20", "time": str(int(time.time()))}),
        FORM,
    )
    assert rider.status_code == 200, rider.text
    assert rider.json()["data"] == "ok"
    assert "rider" in rider.json()["ignored"]
    assert [o["external_id"] for o in hub.orders(CODE)] == [order_id]
