"""Mini-program end to end: a real hub (``omnihub serve`` on SQLite) and our mini-program's back
end (the simulator) over HTTP. The back end sends signed canonical orders for express,
same-day and pickup delivery (some twice, an order's first state after its second); the hub
sends stock and order statuses back, signed. Refused requests store nothing; an unreadable
body is kept for a person.

What every channel does (signatures, replays, unknown statuses, stock, retries) is in
``test_channel_contract.py``; here is what only this platform does."""

from __future__ import annotations

import json
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
from tests.channels.platforms import Miniapp

from omnihub.simulators.channels.miniapp import MiniappSimulator

pytestmark = pytest.mark.e2e

CODE = "wx-mini"
FULFILLING = {"paid", "allocated", "released"}
#: the mini-program sells by our own SKU codes, except the cap, listed under its own item code
ITEM = {sku: channel_sku for channel_sku, sku in Miniapp().mappings.items()}


@pytest.fixture
def platform() -> Iterator[Miniapp]:
    platform = Miniapp()
    with platform.sim:
        yield platform


@pytest.fixture
def app(platform: Miniapp) -> MiniappSimulator:
    return platform.sim


def by_external_id(hub: HubUnderTest) -> dict[str, dict[str, Any]]:
    return orders_once(hub, CODE)


def settle(hub: HubUnderTest, expected: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    return settle_channel(hub, CODE, expected)


def test_a_day_of_orders_ends_with_one_order_per_order_at_its_newest_state_and_stock_in_sync(
    hub: HubUnderTest, platform: Miniapp, app: MiniappSimulator
) -> None:
    app.faults.rate_limited = 2  # the first calls back answer 429 with Retry-After
    app.faults.duplicate_rate = 0.5  # the back end retries some jobs: same order, new id
    platform.connect(hub, CODE)
    tee, mug, cap = ITEM[TEE], ITEM[MUG], ITEM[CAP]

    express = app.place_order([(tee, 2, "59.00"), (mug, 1, "39.00")], shipping_fee="8.00")
    app.pay(express)
    same_day = app.place_order([(mug, 1, "39.00")], delivery="same_day")
    app.pay(same_day)
    pickup = app.place_order([(cap, 1, "79.00")], delivery="pickup", pickup_location=STORE)
    app.pay(pickup)
    cancelled = app.place_order([(tee, 1, "59.00")])
    app.pay(cancelled)
    app.cancel(cancelled)
    # a refund asked before the order was routed (heard of with the payment): held
    refund_asked = app.place_order([(cap, 1, "79.00")], push=False)
    app.pay(refund_asked, push=False)
    app.request_refund(refund_asked)
    # a refund asked and withdrawn: the order goes on
    withdrawn = app.place_order([(mug, 2, "39.00")], push=False)
    app.pay(withdrawn, push=False)
    app.request_refund(withdrawn)
    app.withdraw_refund(withdrawn)
    refunded = app.place_order([(tee, 1, "59.00")])
    app.pay(refunded)
    app.refund(refunded)
    # the order's created state arrives after its paid state (and is then stale)
    app.faults.out_of_order = True
    late_first = app.place_order([(tee, 1, "59.00")])
    app.pay(late_first)
    app.faults.out_of_order = False
    unpaid = app.place_order([(mug, 1, "39.00")])
    unmapped = app.place_order([("MP-SOCKS-01", 1, "19.00")])
    app.pay(unmapped)
    app.flush()

    expected = {
        express: FULFILLING,
        same_day: FULFILLING,
        pickup: FULFILLING,
        cancelled: {"cancelled"},
        refund_asked: {"held"},
        withdrawn: FULFILLING,
        refunded: {"refunded"},
        late_first: FULFILLING,
        unpaid: {"created"},
        unmapped: {"held"},
    }
    orders = settle(hub, expected)
    assert orders[refund_asked]["hold_reason"] == "refund_requested"
    assert orders[unmapped]["hold_reason"] == "unmapped_sku"
    assert orders[pickup]["delivery"] == "pickup"
    assert orders[same_day]["delivery"] == "same_day"
    statuses = Counter(status for _, status in app.pushed)
    assert set(statuses) <= {200, 201}, statuses
    assert app.duplicated, "no order was sent twice"
    detail = hub.get(f"/api/v1/orders/{orders[express]['id']}")
    assert detail["buyer"]["channel_buyer_id"] == app.orders[express]["buyer"]["openid"]
    assert detail["total"] == "165.00"  # 2 x 59.00 + 39.00 + shipping 8.00

    released = hub.map_sku(CODE, "MP-SOCKS-01", MUG)["released_orders"]
    assert released == [orders[unmapped]["id"]]

    # the hub ships the express order: the back end hears "shipped" with the tracking number
    order = orders[express]
    if order["status"] == "allocated":
        hub.post(f"/api/v1/orders/{order['id']}/actions/release", {}, 200)
    routing = hub.get(f"/api/v1/orders/{order['id']}/routing")
    for part in routing["fulfilments"]:
        hub.post(
            f"/api/v1/fulfilments/{part['id']}/actions/ship",
            {"carrier": "SF", "tracking_number": "SF1402226699"},
            200,
        )
    wait_until(lambda: app.statuses.get(express), what="the shipped status at the back end")
    assert app.statuses[express][0] == {
        "external_id": express,
        "status": "shipped",
        "carrier": "SF",
        "tracking_number": "SF1402226699",
    }

    def stock_matches() -> bool:
        published = hub.published(CODE)
        mapped = {channel_sku: sku for sku, channel_sku in ITEM.items()} | {"MP-SOCKS-01": MUG}
        return all(
            sku in published and app.stock.get(channel_sku) == published[sku]["published"]
            for channel_sku, sku in mapped.items()
        )

    wait_until(stock_matches, timeout=30, what="the back end's stock equal to the hub's")
    assert not app.refused, app.refused
    assert app.faults.rate_limited == 0
    assert hub.books_balance()
    assert set(by_external_id(hub)) == set(expected)


def test_a_stale_request_is_refused_and_a_garbled_one_kept_for_a_person(
    hub: HubUnderTest, platform: Miniapp, app: MiniappSimulator
) -> None:
    platform.connect(hub, CODE)
    external_id = app.place_order([(TEE, 1, "59.00")], push=False)
    body = app.body(external_id)
    before = len(hub.inbound())

    an_hour_ago = int(time.time()) - 3600
    stale = hub.post_native(CODE, body, app.headers(body, timestamp=an_hour_ago))
    assert stale.status_code == 401, stale.text
    assert stale.json()["error"]["code"] == "request_expired"
    assert len(hub.inbound()) == before
    assert hub.order(CODE, external_id) is None

    accepted = hub.post_native(CODE, body, app.headers(body))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["orders"][0]["external_id"] == external_id

    garbled = body[:-20]
    response = hub.post_native(CODE, garbled, app.headers(garbled))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unreadable_payload"
    assert garbled.decode() in {r["body"] for r in hub.inbound("rejected")}
    assert json.loads(body)["external_id"] == external_id
    assert [o["external_id"] for o in hub.orders(CODE)] == [external_id]
