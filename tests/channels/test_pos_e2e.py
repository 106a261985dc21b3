"""POS end to end: a real hub (``omnihub serve`` on SQLite) and a store's tills (the simulator)
over HTTP. Sales leave the store's shelf at once and returns put the units back, whatever the
order the receipts arrive in and however often; the tills show the hub's sellable quantity of
their store. Refused receipts store nothing; an unreadable one is kept for a person.

What every channel does (signatures, replays, unknown statuses, stock, retries) is in
``test_channel_contract.py``; here is what only this platform does."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tests.channels.harness import CAP, MUG, STOCK, STORE, TEE, HubUnderTest, wait_until
from tests.channels.platforms import Pos

from omnihub.simulators.channels.pos import PosSimulator

pytestmark = pytest.mark.e2e

CODE = "pos-jingan"
TEE_CODE, MUG_CODE = Pos.TEE_CODE, Pos.MUG_CODE
#: barcodes printed on the goods -> hub SKU (the cap is rung up by its SKU code)
BARCODES = {TEE_CODE: TEE, MUG_CODE: MUG}


@pytest.fixture
def platform() -> Iterator[Pos]:
    platform = Pos()
    with platform.sim:
        yield platform


@pytest.fixture
def tills(platform: Pos) -> PosSimulator:
    return platform.sim


def on_shelf(hub: HubUnderTest, sku: str) -> int:
    stock = hub.get(f"/api/v1/inventory/{sku}")
    return int(next(lv["on_hand"] for lv in stock["locations"] if lv["location"] == STORE))


def test_sales_and_returns_move_the_store_shelf_once_and_the_tills_show_the_hub_stock(
    hub: HubUnderTest, platform: Pos, tills: PosSimulator
) -> None:
    tills.faults.duplicate_rate = 1.0  # every receipt sent twice (new request id)
    tills.faults.rate_limited = 1  # the first stock push answers 429
    platform.connect(hub, CODE)

    kept = tills.sale(
        STORE,
        [(TEE_CODE, 2, "59.00"), (MUG_CODE, 1, "39.00")],
        payments=[("cash", "50.00"), ("wechat", "107.00")],
        member_id="M0001",
    )
    by_sku = tills.sale(STORE, [(CAP, 1, "79.00")], by_sku=True)
    returned = tills.sale(STORE, [(TEE_CODE, 1, "59.00")])
    tills.return_sale(returned)

    def stored() -> dict[str, dict[str, Any]] | None:
        orders = {o["external_id"]: o for o in hub.orders(CODE)}
        want = {
            kept: "completed",
            by_sku: "completed",
            returned: "refunded",
        }
        done = all(orders.get(k, {}).get("status") == v for k, v in want.items())
        return orders if done and len(orders) == len(want) else None

    orders = wait_until(stored, timeout=30, what="every receipt's order at its newest state")
    counts = Counter(o["external_id"] for o in hub.orders(CODE))
    assert set(counts.values()) == {1}, counts
    assert orders[kept]["delivery"] == "pickup"
    assert orders[kept]["pickup_location"] == STORE
    # each receipt went twice: taken once (201, or 200 for a return), then a duplicate (200)
    assert len(tills.duplicated) == 4
    assert Counter(status for _, status in tills.pushed) == Counter({201: 3, 200: 5})
    detail = hub.get(f"/api/v1/orders/{orders[kept]['id']}")
    assert detail["buyer"]["member_id"] == "M0001"

    # the kept sale took 2 tees, 1 mug; the cap sale took 1 cap; returns gave everything back
    assert on_shelf(hub, TEE) == STOCK[(STORE, TEE)] - 2
    assert on_shelf(hub, MUG) == STOCK[(STORE, MUG)] - 1
    assert on_shelf(hub, CAP) == STOCK[(STORE, CAP)] - 1
    assert hub.books_balance()

    def tills_show_the_hub() -> bool:
        published = hub.published(CODE)
        shelf = tills.shelves.get(STORE, {})
        return all(
            sku in published and shelf.get(code) == published[sku]["published"]
            for code, sku in BARCODES.items()
        )

    wait_until(tills_show_the_hub, timeout=30, what="the tills' stock equal to the hub's")
    assert tills.shelves[STORE][TEE_CODE] == STOCK[(STORE, TEE)] - 2
    assert not tills.refused, tills.refused
    assert tills.faults.rate_limited == 0


def test_a_return_that_reaches_the_hub_before_its_sale_moves_no_stock(
    hub: HubUnderTest, platform: Pos, tills: PosSimulator
) -> None:
    platform.connect(hub, CODE)
    tills.faults.out_of_order = True  # the sale is held back until the return has gone
    sale = tills.sale(STORE, [(MUG_CODE, 2, "39.00")])
    returned = tills.return_sale(sale)
    tills.faults.out_of_order = False
    assert tills.pushed == [(returned, 201), (sale, 200)]  # the sale came in stale
    order = hub.order(CODE, sale)
    assert order is not None
    assert order["status"] == "refunded"
    assert on_shelf(hub, MUG) == STOCK[(STORE, MUG)]  # sold 2 and got 2 back
    assert hub.books_balance()


def test_a_stale_receipt_or_another_stores_is_refused_and_kept_and_moves_no_stock(
    hub: HubUnderTest, platform: Pos, tills: PosSimulator
) -> None:
    platform.connect(hub, CODE)
    receipt_no = tills.sale(STORE, [(TEE_CODE, 1, "59.00")], push=False)
    body = tills.body(receipt_no)
    before = len(hub.inbound())

    stale = hub.post_native(CODE, body, tills.headers(body, timestamp=int(time.time()) - 3600))
    assert stale.status_code == 401, stale.text
    assert stale.json()["error"]["code"] == "request_expired"
    assert len(hub.inbound()) == before
    assert on_shelf(hub, TEE) == STOCK[(STORE, TEE)]

    accepted = hub.post_native(CODE, body, tills.headers(body))
    assert accepted.status_code == 201, accepted.text
    assert on_shelf(hub, TEE) == STOCK[(STORE, TEE)] - 1

    garbled = body[:-15]
    response = hub.post_native(CODE, garbled, tills.headers(garbled))
    assert response.status_code == 400, response.text
    elsewhere = dict(json.loads(body), store="ST-SH-XUHUI", receipt_no="ST-SH-XUHUI-1")
    other = json.dumps(elsewhere).encode()
    response = hub.post_native(CODE, other, tills.headers(other))
    assert response.status_code == 400, response.text  # a till of another store
    rejected = {r["body"]: r for r in hub.inbound("rejected")}
    assert garbled.decode() in rejected
    assert "ST-SH-XUHUI" in rejected[other.decode()]["error"]
    assert [o["external_id"] for o in hub.orders(CODE)] == [receipt_no]
    assert on_shelf(hub, TEE) == STOCK[(STORE, TEE)] - 1
