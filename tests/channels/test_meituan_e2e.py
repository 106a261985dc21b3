"""美团 end to end: a real hub (``omnihub serve`` on SQLite) and the Meituan simulator over
HTTP. The shop's orders arrive as signed form callbacks (the whole order when paid or
accepted; cancellations and refunds name it and the hub fetches it), some twice and some in
the wrong order; each reserves at the shop's store; the hub sets the shop's stock with
``retail/sku/stock``. Refused callbacks store nothing; unreadable ones are kept for a person.

What every channel does (signatures, replays, unknown statuses, stock, retries) is in
``test_channel_contract.py``; here is what only this platform does."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tests.channels.harness import (
    CAP,
    MUG,
    STORE,
    TEE,
    HubUnderTest,
    orders_once,
    wait_until,
)
from tests.channels.harness import settle as settle_channel
from tests.channels.harness import stock_matches as stock_in_sync
from tests.channels.platforms import FORM, Meituan

from omnihub.simulators.channels.meituan import MeituanSimulator

pytestmark = pytest.mark.e2e

CODE = "mt-jingan"
#: an order the store reserved and that is handed to it (the platform's rider collects it)
FULFILLING = "released"


@pytest.fixture
def platform() -> Iterator[Meituan]:
    """The shop's sku_id are the retailer's SKU codes."""
    platform = Meituan()
    with platform.sim:
        yield platform


@pytest.fixture
def shop(platform: Meituan) -> MeituanSimulator:
    return platform.sim


def by_external_id(hub: HubUnderTest) -> dict[str, dict[str, Any]]:
    return orders_once(hub, CODE)


def settle(
    hub: HubUnderTest, expected: dict[str, str], timeout: float = 30
) -> dict[str, dict[str, Any]]:
    return settle_channel(hub, CODE, {k: {v} for k, v in expected.items()}, timeout)


def stock_matches(hub: HubUnderTest, shop: MeituanSimulator) -> bool:
    return stock_in_sync(hub, CODE, shop.stock, {sku: sku for sku in (TEE, MUG, CAP)})


def store_available(hub: HubUnderTest, sku: str) -> int:
    levels = hub.get(f"/api/v1/inventory/{sku}")["locations"]
    return int(next(level["available"] for level in levels if level["location"] == STORE))


def test_a_day_of_shop_orders_reserves_at_the_store_once_each_at_its_newest_state(
    hub: HubUnderTest, platform: Meituan, shop: MeituanSimulator
) -> None:
    platform.connect(hub, CODE)
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
    hub: HubUnderTest, platform: Meituan, shop: MeituanSimulator
) -> None:
    platform.connect(hub, CODE)
    shop.faults.out_of_order = True  # the refund callback arrives before the paid order
    asked = shop.place_order([(CAP, 1)])
    shop.refund_apply(asked)
    shop.faults.out_of_order = False
    orders = settle(hub, {asked: "held"}, timeout=8)
    assert orders[asked]["hold_reason"] == "refund_requested"
    shop.refund_reject(asked)
    settle(hub, {asked: FULFILLING})


def test_a_callback_signed_for_another_url_or_stale_is_refused_a_rider_update_ignored(
    hub: HubUnderTest, platform: Meituan, shop: MeituanSimulator
) -> None:
    platform.connect(hub, CODE)
    order_id = shop.place_order([(TEE, 1)], push=False)
    order = shop.order_params(shop.orders[order_id])
    before = len(hub.inbound())

    elsewhere = hub.post_native(CODE, shop.form(order, url="https://evil.example.com/cb"), FORM)
    assert elsewhere.status_code == 401, elsewhere.text
    stale = hub.post_native(CODE, shop.form(order, timestamp=int(time.time()) - 600), FORM)
    assert stale.status_code == 401, stale.text
    assert stale.json()["error"]["code"] == "request_expired"
    assert len(hub.inbound()) == before
    assert hub.order(CODE, order_id) is None

    accepted = hub.post_native(CODE, shop.form(order), FORM)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["data"] == "ok"  # what the platform wants back
    assert accepted.json()["orders"][0]["status"] == FULFILLING

    garbled = shop.form(dict(order, order_id="27000009998", detail='[{"sku_id":"TEE-WH'))
    response = hub.post_native(CODE, garbled, FORM)
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    assert garbled.decode() in {r["body"] for r in hub.inbound("rejected")}

    rider = hub.post_native(
        CODE,
        shop.form({"order_id": order_id, "logistics_status": "20", "time": str(int(time.time()))}),
        FORM,
    )
    assert rider.status_code == 200, rider.text
    assert rider.json()["data"] == "ok"
    assert "rider" in rider.json()["ignored"]
    assert [o["external_id"] for o in hub.orders(CODE)] == [order_id]
