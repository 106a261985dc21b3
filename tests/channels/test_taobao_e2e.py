"""Taobao/Tmall end to end: a real hub (``omnihub serve`` on SQLite) and the TOP simulator over
HTTP. TMC messages pushed to the hub make it fetch trades, the hub pulls trades by modified
window on its own, sets stock with ``taobao.item.quantity.update`` and ships with
``taobao.logistics.offline.send``; refused and unreadable pushes store nothing but the raw
body; the pull cursor survives an outage of hours and a restart without skipping a trade."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.channels.harness import CAP, MUG, TEE, WAREHOUSE, HubUnderTest, wait_until

from omnihub.platforms.local_time import SHANGHAI
from omnihub.simulators.channels.taobao import Listing, TopSimulator

pytestmark = pytest.mark.e2e

OWN = Path(__file__).parent / "fixtures" / "taobao"
SECRET = "tb-app-secret-2026-demo"
CODE = "tb-flagship"
#: statuses of an order the hub holds as paid and is fulfilling
FULFILLING = {"paid", "allocated", "released"}


@pytest.fixture
def top() -> Iterator[TopSimulator]:
    sim = TopSimulator(secret=SECRET)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def list_demo_items(top: TopSimulator) -> dict[str, Listing]:
    """The shop's three listings, one per kind of line identity: a SKU with a merchant code,
    an item without SKUs with only the item's merchant code, a SKU with no code at all."""
    return {
        TEE: top.list_item(outer_sku_id="TB-TEE-WHITE-M", outer_iid="TB-TEE", price="59.00"),
        MUG: top.list_item(outer_iid="TB-MUG-350", with_sku=False, price="39.00"),
        CAP: top.list_item(price="79.00"),
    }


def connect(
    hub: HubUnderTest, top: TopSimulator, items: dict[str, Listing], adapter: str = "taobao"
) -> None:
    for sku, item in items.items():
        hub.map_sku(CODE, item.channel_sku, sku)
    hub.add_channel(
        CODE, adapter, top.url, secret=SECRET, credentials=top.credentials(), locations=[WAREHOUSE]
    )
    top.hub_url = f"{hub.base_url}/api/v1/channels/{CODE}"


def by_external_id(hub: HubUnderTest) -> dict[str, dict[str, Any]]:
    orders = hub.orders(CODE)
    counts = Counter(o["external_id"] for o in orders)
    assert all(n == 1 for n in counts.values()), f"an order stored twice: {counts}"
    return {o["external_id"]: o for o in orders}


def settle(hub: HubUnderTest, expected: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    """The channel's orders once each trade is in one of its expected statuses (polled)."""
    seen: dict[str, Any] = {}

    def settled() -> dict[str, dict[str, Any]] | None:
        orders = by_external_id(hub)
        seen.update(now={tid: (o["status"], o["hold_reason"]) for tid, o in orders.items()})
        if set(orders) == set(expected) and all(
            orders[tid]["status"] in statuses for tid, statuses in expected.items()
        ):
            return orders
        return None

    try:
        return wait_until(settled, timeout=30, what="every trade at its newest state")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; expected {expected}, hub has {seen.get('now')}") from None


def stock_matches(hub: HubUnderTest, top: TopSimulator, items: dict[str, Listing]) -> bool:
    published = hub.published(CODE)
    return all(
        sku in published and top.stock.get(item.channel_sku) == published[sku]["published"]
        for sku, item in items.items()
    )


def test_a_day_of_trades_ends_with_one_order_per_trade_at_its_newest_state_and_stock_in_sync(
    hub: HubUnderTest, top: TopSimulator
) -> None:
    items = list_demo_items(top)
    unmapped = top.list_item(outer_sku_id="TB-SOCKS-GREY", price="19.00")
    top.faults.rate_limited = 3  # the first TOP calls are refused with code 7 and retried
    top.faults.duplicate_rate = 0.5  # TMC delivers some messages twice (same message id)
    connect(hub, top, items, adapter="tmall")
    tee, mug, cap = (items[s].channel_sku for s in (TEE, MUG, CAP))
    day = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=10)

    def at(minutes: int) -> datetime:
        return day + timedelta(minutes=minutes)

    # paid after creation, then the seller edits its memo (same state, a new message)
    paid = top.new_trade([(tee, 2), (mug, 1)], at=at(0))
    top.push_message(paid, "taobao_trade_TradeCreate")
    top.pay(paid, at=at(3))
    top.push_message(paid, "taobao_trade_TradeBuyerPay")
    top.push_message(paid, "taobao_trade_TradeMemoModified")
    # cancelled after payment: the refund succeeded and TOP closed the trade
    refunded = top.new_trade([(cap, 1)], at=at(60), paid=True, push=True)
    top.push_message(refunded, "taobao_trade_TradeBuyerPay")
    top.close(refunded, at=at(95))
    top.push_message(refunded, "taobao_trade_TradeClose")
    # never paid: closed by the platform
    unpaid = top.new_trade([(mug, 3)], at=at(120), push=True)
    top.close(unpaid, at=at(150))
    top.push_message(unpaid, "taobao_trade_TradeClose")
    # paid, and a refund asked before the hub saw it: held (the lock keeps TOP from
    # answering a pull between the two)
    with top.lock:
        refund_asked = top.new_trade([(tee, 1), (cap, 1)], at=at(200), paid=True)
        top.request_refund(refund_asked, at=at(230))
    top.push_message(refund_asked, "taobao_refund_RefundCreated")
    # paid, routed, then a refund asked: the hub notes it for the node, which has the goods
    refund_late = top.new_trade([(mug, 1)], at=at(240), paid=True, push=True)
    top.request_refund(refund_late, at=at(250))
    top.push_message(refund_late, "taobao_refund_RefundCreated")
    # whole-trade pushes arriving newest first (paid before created); the buyer's message
    # holds it for a person to read
    out_of_order = top.new_trade([(cap, 2)], at=at(300), paid=True, buyer_message="请周末送货")
    top.faults.out_of_order = True
    top.push_history(out_of_order)
    top.faults.out_of_order = False
    # a listing the hub has no mapping for
    socks = top.new_trade([(unmapped.channel_sku, 1)], at=at(400), paid=True, push=True)
    # a message the hub acknowledges and ignores
    top.push_message(paid, "taobao_item_ItemUpdate")

    expected = {
        paid: FULFILLING,
        refunded: {"refunded"},
        unpaid: {"cancelled"},
        refund_asked: {"held"},
        refund_late: {"released"},
        out_of_order: {"held"},
        socks: {"held"},
    }

    orders = settle(hub, expected)
    assert orders[refund_asked]["hold_reason"] == "refund_requested"
    assert orders[socks]["hold_reason"] == "unmapped_sku"
    assert orders[out_of_order]["hold_reason"] == "buyer_remark"
    assert {status for _, status in top.pushed} <= {200, 201, 409}
    fetched = [c for c in top.calls if b"taobao.trade.fullinfo.get" in c.body]
    assert fetched, "no TMC message made the hub fetch its trade"
    assert 409 in {status for _, status in top.pushed}, "a redelivered message was not refused"

    # the mapping arrives: the held order goes on
    released = hub.map_sku(CODE, unmapped.channel_sku, MUG)["released_orders"]
    assert released == [orders[socks]["id"]]

    # shipped by the hub: TOP hears of it with the carrier's company code
    order = orders[paid]
    routing = hub.get(f"/api/v1/orders/{order['id']}/routing")
    assert routing["fulfilments"]
    assert order["status"] == "released"
    for part in routing["fulfilments"]:
        hub.post(
            f"/api/v1/fulfilments/{part['id']}/actions/ship",
            {"carrier": "SF", "tracking_number": "SF1402226688"},
            200,
        )
    wait_until(lambda: top.shipments, what="the shipment at TOP")
    assert top.shipments == [{"tid": paid, "out_sid": "SF1402226688", "company_code": "SF"}]
    assert top.trade(paid)["status"] == "WAIT_BUYER_CONFIRM_GOODS"

    wait_until(
        lambda: stock_matches(hub, top, items),
        timeout=30,
        what="TOP stock equal to the hub's published quantity",
    )
    assert not top.refused, top.refused
    assert hub.books_balance()
    assert by_external_id(hub)[paid]["status"] == "shipped"


def test_refused_pushes_store_nothing_and_an_unreadable_one_is_kept_for_a_person(
    hub: HubUnderTest, top: TopSimulator
) -> None:
    items = list_demo_items(top)
    connect(hub, top, items)
    # modified three days ago, before the pull's first window: only a push brings it in
    three_days_ago = datetime.now(SHANGHAI) - timedelta(days=3)
    tid = top.new_trade([(items[TEE].channel_sku, 1)], at=three_days_ago, paid=True)
    message = top.message(tid, "taobao_trade_TradeBuyerPay", message_id=4100000000000099001)
    body = json.dumps(message, ensure_ascii=False).encode()
    headers = {"content-type": "application/json"}
    before = len(hub.inbound())

    def post(query: str) -> Any:
        return hub.http.post(f"{top.hub_url}/orders?{query}", content=body, headers=headers)

    forged = post(top.signed_query(body, secret="not-the-app-secret-at-all"))
    assert forged.status_code == 401, forged.text
    stale = post(top.signed_query(body, timestamp=datetime.now(SHANGHAI) - timedelta(minutes=30)))
    assert stale.status_code == 401, stale.text
    assert "more than 600 s from the hub's clock" in stale.text
    assert len(hub.inbound()) == before
    assert hub.order(CODE, tid) is None

    top.limited_methods["taobao.trade.fullinfo.get"] = 1  # the hub's fetch is refused once
    refused_fetch = post(top.signed_query(body))
    assert refused_fetch.status_code == 503, refused_fetch.text  # so TMC delivers it again
    assert hub.order(CODE, tid) is None
    accepted = post(top.signed_query(body))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["orders"][0]["external_id"] == tid
    inbound_after = len(hub.inbound())
    replayed = post(top.signed_query(body))
    assert replayed.status_code == 409, replayed.text
    assert len(hub.inbound()) == inbound_after

    garbled = (OWN / "tmc_not_strict_json.txt").read_bytes()
    response = hub.http.post(
        f"{top.hub_url}/orders?{top.signed_query(garbled)}", content=garbled, headers=headers
    )
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    (kept,) = [r for r in hub.inbound("rejected") if "3100000000000300" in r["body"]]
    assert kept["body"] == garbled.decode()
    assert hub.order(CODE, "3100000000000300") is None


def test_a_pulled_page_of_100_with_one_unreadable_trade_stores_99_and_rejects_that_one(
    hub: HubUnderTest, top: TopSimulator
) -> None:
    items = list_demo_items(top)
    moment = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(minutes=20)
    skus = [item.channel_sku for item in items.values()]
    tids = [top.new_trade([(skus[i % 3], 1)], at=moment) for i in range(100)]
    bad = tids[37]
    top.corrupt(bad)  # the 100 share one modified second, so one window holds them all
    assert top.trade(bad)["modified"] == top.trade(tids[0])["modified"]
    connect(hub, top, items)

    def pulled() -> bool:
        status = hub.pull_status(CODE)
        return bool(status.get("rejected")) and len(hub.orders(CODE)) >= 99

    wait_until(pulled, timeout=30, what="the window of 100 trades pulled")
    assert max(count for *_, count in top.pages_served) == 100  # one page held all of them
    orders = by_external_id(hub)
    assert set(orders) == set(tids) - {bad}
    rejected = [r for r in hub.inbound("rejected") if bad in r["body"]]
    assert rejected
    assert "'两件' is not a quantity" in rejected[0]["error"]


def test_the_pull_cursor_never_skips_a_trade_across_an_outage_of_hours_and_a_restart(
    hub: HubUnderTest, top: TopSimulator
) -> None:
    items = list_demo_items(top)
    top.faults.down = True
    connect(hub, top, items)
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    skus = [item.channel_sku for item in items.values()]
    # six hours of trades while TOP is down
    tids = [
        top.new_trade(
            [(skus[i % 3], 1 + i % 2)], at=now - timedelta(minutes=6 * i), paid=i % 4 != 0
        )
        for i in range(60)
    ]

    stuck = wait_until(
        lambda: (s := hub.pull_status(CODE)).get("last_error") and s,
        what="the pull failing while TOP is down",
    )
    assert "503" in stuck["last_error"]
    hub.restart()
    after_restart = wait_until(
        lambda: (s := hub.pull_status(CODE))["last_pull_at"] != stuck["last_pull_at"] and s,
        what="the restarted hub trying again",
    )
    assert after_restart["cursor_at"] == stuck["cursor_at"]  # kept, and not moved past the gap
    assert hub.orders(CODE) == []

    top.faults.error_rate = 0.2  # TOP comes back, shakily (isp errors: windows read again)
    top.faults.down = False
    late = top.new_trade([(skus[0], 1)], paid=True)  # a trade made while the hub catches up

    def caught_up() -> dict[str, dict[str, Any]] | None:
        orders = by_external_id(hub)
        return orders if set(orders) >= {*tids, late} else None

    orders = wait_until(caught_up, timeout=60, what="every trade of the outage pulled")
    assert set(orders) == {*tids, late}
    for i, tid in enumerate(tids):
        assert (orders[tid]["status"] in FULFILLING) is (i % 4 != 0), (i, orders[tid]["status"])
    cursor = datetime.fromisoformat(hub.pull_status(CODE)["cursor_at"])
    assert cursor > now - timedelta(minutes=5)
