"""饿了么 end to end: a real hub (``omnihub serve`` on SQLite) and the Eleme simulator over
HTTP. The shop's orders arrive as signed message envelopes (the whole order, then state and
cancel messages the hub answers by fetching the order), some twice and some in the wrong
order; each reserves at the shop's store, which accepts it on the platform; the hub sets the
shop's stock with ``batchUpdateStock``. Refused envelopes store nothing; unreadable ones are
kept for a person.

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
from tests.channels.harness import stock_matches as stock_in_sync
from tests.channels.platforms import JSON, Eleme

from omnihub.simulators.channels.eleme import ElemeSimulator, push_signature

pytestmark = pytest.mark.e2e

CODE = "ele-jingan"
#: an order the store reserved and that is handed to it (the platform's rider collects it)
FULFILLING = "released"


@pytest.fixture
def platform() -> Iterator[Eleme]:
    """The shop's items carry the retailer's SKU codes as their merchant codes (extendCode)."""
    platform = Eleme()
    with platform.sim:
        yield platform


@pytest.fixture
def shop(platform: Eleme) -> ElemeSimulator:
    return platform.sim


def by_external_id(hub: HubUnderTest) -> dict[str, dict[str, Any]]:
    return orders_once(hub, CODE)


def settle(
    hub: HubUnderTest, expected: dict[str, str], timeout: float = 30
) -> dict[str, dict[str, Any]]:
    return settle_channel(hub, CODE, {k: {v} for k, v in expected.items()}, timeout)


def stock_matches(hub: HubUnderTest, shop: ElemeSimulator) -> bool:
    return stock_in_sync(hub, CODE, shop.stock, {sku: sku for sku in (TEE, MUG, CAP)})


def store_available(hub: HubUnderTest, sku: str) -> int:
    levels = hub.get(f"/api/v1/inventory/{sku}")["locations"]
    return int(next(level["available"] for level in levels if level["location"] == STORE))


def test_a_day_of_shop_orders_reserves_at_the_store_once_each_at_its_newest_state(
    hub: HubUnderTest, platform: Eleme, shop: ElemeSimulator
) -> None:
    platform.connect(hub, CODE)
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
    hub: HubUnderTest, platform: Eleme, shop: ElemeSimulator
) -> None:
    platform.connect(hub, CODE)
    order = shop.place_order([(MUG, 1)])
    settle(hub, {order: FULFILLING})
    wait_until(
        lambda: order in shop.accepted,
        timeout=8,
        what="confirmOrderLite for the order the store reserved",
    )
    assert shop.orders[order]["status"] == "valid"


def test_a_stale_envelope_is_refused_a_cut_message_kept_and_a_rider_update_ignored(
    hub: HubUnderTest, platform: Eleme, shop: ElemeSimulator
) -> None:
    platform.connect(hub, CODE)
    shop.hub_url = None  # envelopes are posted by the test itself
    order_id = shop.place_order([(TEE, 1)], push=False)
    order = shop.orders[order_id]
    before = len(hub.inbound())

    ten_minutes_ago = int((time.time() - 600) * 1000)
    stale = hub.post_native(CODE, shop.envelope(10, order, timestamp_ms=ten_minutes_ago), JSON)
    assert stale.status_code == 401, stale.text
    assert stale.json()["error"]["code"] == "request_expired"
    assert len(hub.inbound()) == before
    assert hub.order(CODE, order_id) is None

    accepted = hub.post_native(CODE, shop.envelope(10, order), JSON)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["message"] == "ok"  # what the platform wants back
    assert accepted.json()["orders"][0]["status"] == FULFILLING

    raw = json.loads(shop.envelope(10, order))
    raw["message"] = raw["message"][:-30]  # cut short, and signed as the platform would
    raw["signature"] = push_signature(raw, shop.secret)
    garbled = json.dumps(raw, ensure_ascii=False).encode()
    response = hub.post_native(CODE, garbled, JSON)
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.text
    assert garbled.decode() in {r["body"] for r in hub.inbound("rejected")}

    rider = hub.post_native(CODE, shop.envelope(52, {"orderId": order_id}), JSON)
    assert rider.status_code == 200, rider.text
    assert rider.json()["message"] == "ok"
    assert "rider" in rider.json()["ignored"]
    assert [o["external_id"] for o in hub.orders(CODE)] == [order_id]
