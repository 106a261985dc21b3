"""Taobao/Tmall end to end: a real hub (``omnihub serve`` on SQLite) and the TOP simulator over
HTTP. TMC messages pushed to the hub make it fetch trades, the hub pulls trades by modified
window on its own, sets stock with ``taobao.item.quantity.update`` and ships with
``taobao.logistics.offline.send``; refused and unreadable pushes store nothing but the raw
body; the pull cursor survives an outage of hours and a restart without skipping a trade.
What every channel does (signatures, replays, unknown statuses, stock, retries, paging) is in
``test_channel_contract.py``; here is what only TOP does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from tests.channels.harness import (
    CAP,
    MUG,
    TEE,
    HubUnderTest,
    Sent,
    orders_once,
    post,
    settle,
    stock_matches,
    wait_until,
)
from tests.channels.platforms import JSON, Tmall

from omnihub.platforms.local_time import SHANGHAI

pytestmark = pytest.mark.e2e

OWN = Path(__file__).parent / "fixtures" / "taobao"
CODE = "tb-flagship"
#: statuses of an order the hub holds as paid and is fulfilling
FULFILLING = {"paid", "allocated", "released"}


@pytest.fixture
def shop() -> Iterator[Tmall]:
    """A Tmall shop on TOP with its three listings (one per kind of line identity: a SKU with
    a merchant code, an item without SKUs with only the item's merchant code, a SKU with no
    code at all)."""
    platform = Tmall()
    with platform.sim:
        yield platform


def signed(shop: Tmall, body: bytes, **signing: Any) -> Sent:
    return Sent(body, JSON, dict(parse_qsl(shop.sim.signed_query(body, **signing))))


def test_a_day_of_trades_ends_with_one_order_per_trade_at_its_newest_state_and_stock_in_sync(
    hub: HubUnderTest, shop: Tmall
) -> None:
    top = shop.sim
    unmapped = top.list_item(outer_sku_id="TB-SOCKS-GREY", price="19.00")
    top.faults.rate_limited = 3  # the first TOP calls are refused with code 7 and retried
    top.faults.duplicate_rate = 0.5  # TMC delivers some messages twice (same message id)
    shop.connect(hub, CODE)
    tee, mug, cap = (shop.channel_sku(s) for s in (TEE, MUG, CAP))
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

    orders = settle(hub, CODE, expected)
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
        lambda: stock_matches(hub, CODE, top.stock, shop.mappings),
        timeout=30,
        what="TOP stock equal to the hub's published quantity",
    )
    assert not top.refused, top.refused
    assert hub.books_balance()
    assert orders_once(hub, CODE)[paid]["status"] == "shipped"


def test_a_stale_push_is_refused_and_a_fetch_top_refuses_is_answered_503_for_tmc_to_resend(
    hub: HubUnderTest, shop: Tmall
) -> None:
    shop.connect(hub, CODE)
    top = shop.sim
    # modified three days ago, before the pull's first window: only a push brings it in
    three_days_ago = datetime.now(SHANGHAI) - timedelta(days=3)
    tid = top.new_trade([(shop.channel_sku(TEE), 1)], at=three_days_ago, paid=True)
    message = top.message(tid, "taobao_trade_TradeBuyerPay", message_id=4100000000000099001)
    body = json.dumps(message, ensure_ascii=False).encode()
    before = len(hub.inbound())

    stale = post(
        hub, CODE, signed(shop, body, timestamp=datetime.now(SHANGHAI) - timedelta(minutes=30))
    )
    assert stale.status_code == 401, stale.text
    assert "more than 600 s from the hub's clock" in stale.text
    assert len(hub.inbound()) == before
    assert hub.order(CODE, tid) is None

    top.limited_methods["taobao.trade.fullinfo.get"] = 1  # the hub's fetch is refused once
    refused_fetch = post(hub, CODE, signed(shop, body))
    assert refused_fetch.status_code == 503, refused_fetch.text  # so TMC delivers it again
    assert hub.order(CODE, tid) is None
    accepted = post(hub, CODE, signed(shop, body))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["orders"][0]["external_id"] == tid


def test_the_published_tmc_dump_that_is_not_json_is_refused_and_kept_for_a_person(
    hub: HubUnderTest, shop: Tmall
) -> None:
    shop.connect(hub, CODE)
    garbled = (OWN / "tmc_not_strict_json.txt").read_bytes()
    response = post(hub, CODE, signed(shop, garbled))
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    (kept,) = [r for r in hub.inbound("rejected") if "3100000000000300" in r["body"]]
    assert kept["body"] == garbled.decode()
    assert hub.order(CODE, "3100000000000300") is None


def test_a_pulled_page_of_100_with_one_unreadable_trade_stores_99_and_rejects_that_one(
    hub: HubUnderTest, shop: Tmall
) -> None:
    top = shop.sim
    moment = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(minutes=20)
    skus = list(shop.mappings)
    tids = [top.new_trade([(skus[i % 3], 1)], at=moment) for i in range(100)]
    bad = tids[37]
    top.corrupt(bad)  # the 100 share one modified second, so one window holds them all
    assert top.trade(bad)["modified"] == top.trade(tids[0])["modified"]
    shop.connect(hub, CODE)

    def pulled() -> bool:
        status = hub.pull_status(CODE)
        return bool(status.get("rejected")) and len(hub.orders(CODE)) >= 99

    wait_until(pulled, timeout=30, what="the window of 100 trades pulled")
    assert max(count for *_, count in top.pages_served) == 100  # one page held all of them
    orders = orders_once(hub, CODE)
    assert set(orders) == set(tids) - {bad}
    rejected = [r for r in hub.inbound("rejected") if bad in r["body"]]
    assert rejected
    assert "'两件' is not a quantity" in rejected[0]["error"]


def test_the_pull_cursor_never_skips_a_trade_across_an_outage_of_hours_and_a_restart(
    hub: HubUnderTest, shop: Tmall
) -> None:
    top = shop.sim
    top.faults.down = True
    shop.connect(hub, CODE)
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    skus = list(shop.mappings)
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
        orders = orders_once(hub, CODE)
        return orders if set(orders) >= {*tids, late} else None

    orders = wait_until(caught_up, timeout=60, what="every trade of the outage pulled")
    assert set(orders) == {*tids, late}
    for i, tid in enumerate(tids):
        assert (orders[tid]["status"] in FULFILLING) is (i % 4 != 0), (i, orders[tid]["status"])
    cursor = datetime.fromisoformat(hub.pull_status(CODE)["cursor_at"])
    assert cursor > now - timedelta(minutes=5)
