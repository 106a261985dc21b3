"""JD end to end: a real ``omnihub serve`` pulls orders from the JD simulator over HTTP (its
``/routerjson`` speaks JOS: signed calls, ``jingdong.pop.order.search`` by modified time,
JD's error codes), pushes stock and shipments back to it, and refuses what it must refuse.

The pull tests start a hub of their own on a fresh SQLite file with fast loops
(tests/channels/harness); the tests of pushed messages share one, each on its own channel.
What every channel does (signatures, replays, unknown statuses, stock, retries, paging) is in
``test_channel_contract.py``; here is what only this platform does.
"""

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
    hub_under_test,
    orders_once,
    stock_matches,
    wait_until,
)
from tests.channels.platforms import JSON, Jd

from omnihub.simulators.channels.jd import jd_time

pytestmark = pytest.mark.e2e

CODE = "jd-flagship"
TEE_ID, MUG_ID, CAP_ID = Jd.TEE_ID, Jd.MUG_ID, Jd.CAP_ID
MAPPINGS = {TEE_ID: TEE, MUG_ID: MUG, CAP_ID: CAP}
FULFILLING = {"allocated", "released"}


@pytest.fixture
def shop() -> Iterator[Jd]:
    platform = Jd()
    with platform.sim:
        yield platform


@pytest.fixture
def sim(shop: Jd) -> Any:
    return shop.sim


@pytest.fixture
def hub(sqlite_url: str, tmp_path: Path) -> Iterator[HubUnderTest]:
    """A hub that starts pulling a new channel half an hour back."""
    with hub_under_test(sqlite_url, tmp_path, OMNIHUB_PULL_START_HOURS="0.5") as running:
        yield running


def connect(
    hub: HubUnderTest, shop: Jd, mapped: dict[str, str] | None = None, code: str = CODE
) -> None:
    """The channel, with only ``mapped`` of the shop's goods mapped when given."""
    if mapped is not None:
        shop.mappings = dict(mapped)
    shop.connect(hub, code)


def by_id(hub: HubUnderTest, code: str = CODE) -> dict[str, dict[str, Any]]:
    return orders_once(hub, code)


def in_sync(hub: HubUnderTest, sim: Any) -> bool:
    return stock_matches(hub, CODE, sim.stock, MAPPINGS, acked=True)


def test_a_day_of_jd_orders_ends_with_one_order_each_at_its_newest_state(
    hub: HubUnderTest, shop: Jd, sim: Any
) -> None:
    sim.faults.duplicate_rate = 0.3  # the same order twice on a page
    sim.faults.out_of_order = True  # an order's earlier state served after its newer one
    start = datetime.now(UTC) - timedelta(minutes=20)

    def at(minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    shipped_here = sim.create_order(
        [(TEE_ID, 2)], at=at(0), seller_discount="8.00", freight="6.00", jd_discount="3.00"
    )
    cancelled_later = sim.create_order([(MUG_ID, 1)], at=at(1))
    refund_asked = sim.create_order([(TEE_ID, 1), (MUG_ID, 1)], at=at(2))
    sim.update_order(refund_asked, state="LOCKED", at=at(3))  # before the seller ships
    refund_refused = sim.create_order([(MUG_ID, 2)], at=at(2))
    sim.update_order(refund_refused, state="LOCKED", at=at(3))
    unpaid_first = sim.create_order([(TEE_ID, 1)], state="NOT_PAY", at=at(3))
    done_elsewhere = sim.create_order([(MUG_ID, 1)], state="FINISHED_L", at=at(4))
    cancelled_early = sim.create_order([(TEE_ID, 1)], at=at(5))
    sim.update_order(cancelled_early, state="TRADE_CANCELED", at=at(6))
    unmapped = sim.create_order([(CAP_ID, 1)], at=at(7))
    plain = [sim.create_order([(TEE_ID, 1), (MUG_ID, 1)], at=at(8 + i)) for i in range(5)]
    mapped_now = {k: v for k, v in MAPPINGS.items() if k != CAP_ID}
    connect(hub, shop, mapped_now)

    wait_until(lambda: len(by_id(hub)) == len(sim.orders), what="every JD order in the hub")
    first = by_id(hub)
    assert first[unmapped]["status"] == "held"
    assert first[unmapped]["hold_reason"] == "unmapped_sku"
    assert first[cancelled_early]["status"] == "cancelled"
    assert first[done_elsewhere]["status"] == "completed"
    assert first[unpaid_first]["status"] == "created"
    assert (first[refund_asked]["status"], first[refund_asked]["hold_reason"]) == (
        "held",
        "refund_requested",
    )

    # later that day: a cancellation after payment, a cancellation request the seller turned
    # down (JD unlocks the order), a payment
    sim.update_order(cancelled_later, state="TRADE_CANCELED")
    sim.update_order(refund_refused, state="WAIT_SELLER_STOCK_OUT")
    sim.update_order(unpaid_first, state="WAIT_SELLER_STOCK_OUT")
    hub.map_sku(CODE, CAP_ID, CAP)  # the missing mapping releases the held order

    def later_states() -> list[tuple[str, str | None]]:
        orders = by_id(hub)
        return [
            (orders[i]["status"], orders[i]["hold_reason"])
            for i in (cancelled_later, refund_refused, unpaid_first, unmapped)
        ]

    def settled(states: list[tuple[str, str | None]]) -> bool:
        (cancelled, _), (resumed, _), (paid, _), (released, _) = states
        return cancelled == "cancelled" and {resumed, paid, released} <= FULFILLING

    try:
        wait_until(lambda: settled(later_states()), what="the later states of the day")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the orders are {later_states()}") from None
    orders = by_id(hub)
    assert set(orders) == set(sim.orders)  # exactly one hub order per JD order
    assert Counter(o["external_id"] for o in hub.orders(CODE)).most_common(1)[0][1] == 1
    assert (orders[refund_asked]["status"], orders[refund_asked]["hold_reason"]) == (
        "held",
        "refund_requested",
    )
    assert orders[done_elsewhere]["status"] == "completed"
    assert orders[cancelled_early]["status"] == "cancelled"
    assert all(orders[i]["status"] in FULFILLING for i in [shipped_here, *plain])
    # the shop's total: 2 x 59.00 - its own 8.00 + 6.00 freight (the buyer paid 3.00 less)
    assert orders[shipped_here]["total"] == "116.00"

    # the hub ships one of them: JD hears of it through jingdong.pop.order.shipment
    order_id = orders[shipped_here]["id"]
    if orders[shipped_here]["status"] == "allocated":
        hub.post(f"/api/v1/orders/{order_id}/actions/release", {})
    hub.post(
        f"/api/v1/orders/{order_id}/actions/ship",
        {"carrier": "SF", "tracking_number": "SF7001002003"},
    )
    wait_until(lambda: sim.shipments, what="the shipment on JD")
    assert sim.shipments == [
        {"orderId": shipped_here, "logiCoprId": "467", "logiNo": "SF7001002003"}
    ]
    assert sim.orders[shipped_here]["orderState"] == "WAIT_GOODS_RECEIVE_CONFIRM"

    # JD's stock is what the hub publishes for every mapped SKU
    wait_until(lambda: in_sync(hub, sim), what="JD stock equal to the hub's published stock")
    assert by_id(hub)[shipped_here]["status"] == "shipped"
    assert sim.refused == []  # every call the hub made was signed and well formed


def test_a_page_of_100_with_one_unreadable_order_stores_99_and_keeps_the_bad_one(
    hub: HubUnderTest, shop: Jd, sim: Any
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=20)
    good = [
        sim.create_order([(TEE_ID if i % 2 else MUG_ID, 1)], at=start + timedelta(seconds=i))
        for i in range(99)
    ]
    broken = sim.create_order([(TEE_ID, 1)], at=start + timedelta(seconds=50))
    native = json.loads(json.dumps(sim.orders[broken]))
    native["itemInfoList"][0]["itemTotal"] = "lots"
    sim.add_raw(broken, native, at=start + timedelta(seconds=50))
    connect(hub, shop)

    wait_until(lambda: hub.pull_status(CODE).get("rejected", 0) >= 1, what="the bad order refused")
    wait_until(lambda: len(by_id(hub)) == 99, what="the 99 readable orders stored")
    assert set(by_id(hub)) == set(good)
    rejected = [row for row in hub.inbound("rejected") if row["channel"] == CODE]
    assert len(rejected) == 1
    assert f'"orderId": "{broken}"' in rejected[0]["body"]
    assert "lots" in rejected[0]["error"]
    assert hub.pull_status(CODE)["pulled"] == 99


def test_the_cursor_skips_no_order_across_an_outage_of_hours_and_restarts(
    sqlite_url: str, tmp_path: Path, shop: Jd, sim: Any
) -> None:
    now = datetime.now(UTC)
    sim.faults.down = True  # JD is unreachable: every call answers 503
    backlog = [
        sim.create_order([(TEE_ID, 1)], at=now - timedelta(minutes=m))
        for m in (170, 150, 121, 120, 90, 61, 60, 30, 2)
    ]
    with hub_under_test(sqlite_url, tmp_path, OMNIHUB_PULL_START_HOURS="3") as hub:
        connect(hub, shop)
        wait_until(lambda: hub.pull_status(CODE).get("last_error"), what="a failed pull")
        assert by_id(hub) == {}
        hub.restart()  # the hub goes down too, during the outage
        sim.faults.down = False
        wait_until(
            lambda: set(by_id(hub)) == set(backlog),
            timeout=75,
            what="the hours of backlog read after the outage",
        )
        cursor = datetime.fromisoformat(hub.pull_status(CODE)["cursor_at"])
        assert cursor > now - timedelta(minutes=5)

        # a second outage with a restart in it: orders made meanwhile are read afterwards
        sim.faults.down = True
        during = [sim.create_order([(MUG_ID, 1)]) for _ in range(3)]
        hub.restart()
        assert datetime.fromisoformat(hub.pull_status(CODE)["cursor_at"]) >= cursor
        sim.faults.down = False
        wait_until(
            lambda: set(by_id(hub)) == set(backlog) | set(during),
            timeout=75,
            what="the orders of the second outage",
        )
        assert len(hub.orders(CODE)) == len(backlog) + len(during)


def test_a_push_signed_half_an_hour_ago_is_refused_and_the_order_then_taken_once(
    shared_hub: HubUnderTest, shop: Jd, sim: Any
) -> None:
    hub, code = shared_hub, "jd-push-stale"
    connect(hub, shop, code=code)
    order_id = sim.create_order([(TEE_ID, 1)], at=datetime.now(UTC) - timedelta(hours=2))
    native = sim.orders[order_id]

    body, query = sim.signed_push(
        native, msg_id="jd-msg-2", at=datetime.now(UTC) - timedelta(minutes=30)
    )
    response = hub.post_native(code, body, JSON, query)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "request_expired"
    assert by_id(hub, code) == {}  # nothing stored

    body, query = sim.signed_push(native, msg_id="jd-msg-3")
    first = hub.post_native(code, body, JSON, query)
    assert first.status_code == 201, first.text
    assert list(by_id(hub, code)) == [order_id]
    assert first.json()["order_id"] == by_id(hub, code)[order_id]["id"]


def test_a_malformed_push_is_400_and_its_raw_body_waits_in_the_inbound_log(
    shared_hub: HubUnderTest, shop: Jd, sim: Any
) -> None:
    hub, code = shared_hub, "jd-push-bad"
    connect(hub, shop, code=code)
    native = {
        "orderId": "300000000777",
        "orderState": "WAIT_SELLER_STOCK_OUT",
        "orderStartTime": jd_time(datetime.now(UTC)),
        "modified": "not a time",
        "itemInfoList": [{"outerSkuId": TEE_ID, "itemTotal": "1", "jdPrice": "59.00"}],
    }
    body, query = sim.signed_push(native, msg_id="jd-msg-bad")
    response = hub.post_native(code, body, JSON, query)
    assert response.status_code == 400, response.text
    rejected = [row for row in hub.inbound("rejected") if row["channel"] == code]
    assert [row["body"] for row in rejected] == [body.decode()]
    assert by_id(hub, code) == {}
