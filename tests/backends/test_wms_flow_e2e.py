"""Warehouse flow end to end: a real hub (``omnihub serve``) and the Qimen WMS simulator over
HTTP. An order the hub releases to its warehouse becomes a WMS delivery order; the WMS's
signed ``deliveryorder.confirm`` ships the order, and the channel (the Shopify simulator, or a
channel on the canonical API) is told with the WMS's carrier and tracking number. The WMS
confirming twice, before the create is answered, or in parts ships once; a cancelled order's
delivery order is cancelled in the WMS; the full compare lists and corrects differences."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import sqlalchemy as sa
from tests.backends.flow_hub import (
    CAP,
    MUG,
    QM_WAREHOUSE,
    TEE,
    WAREHOUSE,
    BackendHub,
    StartHub,
    kingdee_backend,
    qimen_backend,
)
from tests.channels.harness import wait_until

from omnihub.adapters.db.engine import create_engine
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator
from omnihub.simulators.backends.wms.qimen import QimenWmsSimulator
from omnihub.simulators.channels.shopify import ShopifySimulator

pytestmark = pytest.mark.e2e


def wms_hub(
    start_hub: StartHub,
    database_url: str,
    qimen: QimenWmsSimulator,
    *extra: dict[str, Any],
    **settings: Any,
) -> BackendHub:
    """A hub whose warehouse WH-SH is run by the Qimen WMS, which calls it back."""
    running = start_hub(database_url, [qimen_backend(qimen, **settings), *extra])
    qimen.callback_url = running.callback_url("wms")
    return running


def warehouse_part(running: BackendHub, order_id: str) -> dict[str, Any]:
    (part,) = running.routing(order_id)["fulfilments"]
    assert part["location"] == WAREHOUSE
    return dict(part)


def sent_to_wms(qimen: QimenWmsSimulator, reference: str) -> Any:
    return wait_until(
        lambda: qimen.delivery_orders.get(reference), what=f"delivery order {reference} in the WMS"
    )


def test_a_channel_order_ships_through_the_wms_and_the_channel_gets_its_tracking_number(
    database_url: str,
    start_hub: StartHub,
    stack: contextlib.ExitStack,
    qimen: QimenWmsSimulator,
) -> None:
    running = wms_hub(start_hub, database_url, qimen)
    shop = stack.enter_context(ShopifySimulator(seed=3))
    cap = shop.add_variant("CAP-NAVY", variant_id=4401, product_id=8801, inventory_item_id=4901)
    running.hub.map_sku("shopify-cn", cap, CAP)
    running.hub.add_channel(
        "shopify-cn",
        "shopify",
        shop.url,
        secret=shop.secret,
        credentials=shop.credentials(),
        locations=[WAREHOUSE],
    )
    shop.hub_url = f"{running.base_url}/api/v1/channels/shopify-cn"

    external = str(shop.new_order([(cap, 4, "79.00")])["id"])  # more caps than the store has
    order = wait_until(lambda: running.hub.order("shopify-cn", external), what="the order")
    part = warehouse_part(running, order["id"])
    held = sent_to_wms(qimen, part["id"])
    assert (held.warehouse, held.lines, held.status) == (QM_WAREHOUSE, {CAP: 4}, "ACCEPT")
    assert running.status(order["id"]) == "released"

    assert qimen.tick() == 1  # picked, packed, shipped: deliveryorder.confirm to the hub
    assert qimen.callbacks == [(f"confirm {part['id']} #1", 200)]
    wait_until(lambda: running.status(order["id"]) == "shipped", what="the order shipped")
    (shipped,) = running.routing(order["id"])["fulfilments"]
    tracking = f"{held.carrier}{held.wms_id[3:]}01"
    assert (shipped["status"], shipped["carrier"], shipped["tracking_number"]) == (
        "shipped",
        held.carrier,
        tracking,
    )
    wait_until(lambda: shop.shipments, what="the fulfillment at Shopify")
    assert [(s["order_id"], s["tracking_number"]) for s in shop.shipments] == [(external, tracking)]
    assert running.level(WAREHOUSE, CAP)["on_hand"] == 26
    assert running.hub.books_balance()
    described = running.hub.get("/api/v1/backends/wms")
    assert described["deliveries"] == {"delivered": 1}
    applied = [e for e in running.hub.inbound() if e["channel"] == "backend:wms"]
    assert [(e["result"], e["order_id"]) for e in applied] == [("applied", order["id"])]


def test_a_confirmation_sent_twice_and_before_the_create_is_answered_ships_once(
    sqlite_url: str, start_hub: StartHub, qimen: QimenWmsSimulator
) -> None:
    running = wms_hub(start_hub, sqlite_url, qimen)
    qimen.faults.callback_before_answer = True  # the WMS ships inside the create call
    qimen.faults.duplicate_rate = 1.0  # and says so twice

    orders = [running.order(f"APP-{n}", [(MUG, 6)])["id"] for n in range(3)]
    for order_id in orders:
        wait_until(lambda o=order_id: running.status(o) == "shipped", what=f"{order_id} shipped")

    wait_until(lambda: len(qimen.callbacks) == 6, what="every confirmation sent twice")
    assert {status for _, status in qimen.callbacks} == {200}
    assert running.level(WAREHOUSE, MUG) == {
        "location": WAREHOUSE,
        "on_hand": 60 - 18,
        "reserved": 0,
        "safety": 0,
        "available": 42,
    }
    wait_until(
        lambda: len(running.deliveries("wms", "delivered")) == 3,
        what="every create recorded as delivered",
    )
    assert running.deliveries("wms", "dead") == []
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            sales = conn.execute(
                sa.text("SELECT count(*) FROM stock_ledger WHERE kind = 'sale' AND sku = :sku"),
                {"sku": MUG},
            ).scalar()
            bound = conn.execute(
                sa.text("SELECT count(*) FROM external_refs WHERE channel = 'backend:wms'")
            ).scalar()
    finally:
        engine.dispose()
    assert (sales, bound) == (3, 3)
    assert running.hub.books_balance()


def test_a_delivery_shipped_in_two_parts_ships_the_order_with_both_tracking_numbers(
    sqlite_url: str, start_hub: StartHub, qimen: QimenWmsSimulator
) -> None:
    running = wms_hub(start_hub, sqlite_url, qimen)
    qimen.faults.partial_rate = 1.0
    order_id = running.order("APP-PART", [(MUG, 6), (CAP, 4)])["id"]
    part = warehouse_part(running, order_id)
    held = sent_to_wms(qimen, part["id"])

    qimen.tick()  # the mugs first
    notes = [t["cause"] for t in running.hub.get(f"/api/v1/orders/{order_id}")["transitions"]]
    assert any("shipped part of it: 6 x MUG-CERAMIC-350" in n for n in notes)
    assert running.status(order_id) == "released"
    qimen.tick()  # then the caps

    wait_until(lambda: running.status(order_id) == "shipped", what="the order shipped")
    (shipped,) = running.routing(order_id)["fulfilments"]
    prefix = f"{held.carrier}{held.wms_id[3:]}"
    assert shipped["tracking_number"] == f"{prefix}01,{prefix}02"
    assert wait_until(lambda: running.inbox.statuses_of(order_id), what="the push") == ["shipped"]


def test_an_order_cancelled_after_release_is_cancelled_in_the_wms(
    sqlite_url: str, start_hub: StartHub, qimen: QimenWmsSimulator
) -> None:
    running = wms_hub(start_hub, sqlite_url, qimen)
    order_id = running.order("APP-CXL", [(MUG, 6)])["id"]
    part = warehouse_part(running, order_id)
    sent_to_wms(qimen, part["id"])

    running.hub.post(f"/api/v1/orders/{order_id}/actions/cancel", {"reason": "buyer"}, 200)

    wait_until(
        lambda: qimen.delivery_orders[part["id"]].status == "CANCELED",
        what="the delivery order cancelled in the WMS",
    )
    assert qimen.tick() == 0  # nothing left to ship
    assert running.level(WAREHOUSE, MUG)["reserved"] == 0
    wait_until(lambda: len(running.deliveries("wms", "delivered")) == 2, what="both recorded")


def test_the_full_compare_lists_differences_corrects_them_by_rule_and_skips_stock_on_its_way(
    sqlite_url: str, start_hub: StartHub, qimen: QimenWmsSimulator, kingdee: KingdeeSimulator
) -> None:
    running = wms_hub(
        start_hub,
        sqlite_url,
        qimen,
        kingdee_backend(kingdee),
        compare="correct",
        correct_max_units=10,
    )
    order_id = running.order("APP-CMP", [(CAP, 4)])["id"]  # released to the WMS, not shipped
    sent_to_wms(qimen, warehouse_part(running, order_id)["id"])
    qimen.put_stock(QM_WAREHOUSE, TEE, 97)  # three tees lost
    qimen.put_stock(QM_WAREHOUSE, MUG, 61)  # a mug found
    qimen.put_stock(QM_WAREHOUSE, CAP, 26)  # the caps may have left: not compared now
    kingdee.put_stock("CK001", TEE, 90)  # the ERP is only listened to (compare = report)

    report = running.hub.post("/api/v1/backends/wms/compare", {}, 200)

    assert report["mode"] == "correct"
    assert [(d["sku"], d["hub"], d["backend"], d["corrected"]) for d in report["differences"]] == [
        (MUG, 60, 61, True),
        (TEE, 100, 97, True),
    ]
    assert [(s["sku"], s["hub"], s["backend"]) for s in report["skipped"]] == [(CAP, 30, 26)]
    assert running.level(WAREHOUSE, TEE)["on_hand"] == 97
    assert running.level(WAREHOUSE, MUG)["on_hand"] == 61
    assert running.hub.get("/api/v1/backends/wms/compare") == report
    wait_until(
        lambda: running.inbox.stock.get(TEE) == 97 + 8, what="the channel shown the corrected tees"
    )

    erp = running.hub.post("/api/v1/backends/erp/compare", {}, 200)
    assert erp["mode"] == "report"
    assert [(d["sku"], d["hub"], d["backend"], d["corrected"]) for d in erp["differences"]] == [
        (MUG, 61, 60, False),
        (TEE, 97, 90, False),
    ]  # listed, left as they are
    assert running.level(WAREHOUSE, TEE)["on_hand"] == 97
    assert running.hub.books_balance()

    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            actions = [
                r.action
                for r in conn.execute(
                    sa.text("SELECT action FROM audit_log WHERE actor LIKE 'backend:%' ORDER BY id")
                )
            ]
    finally:
        engine.dispose()
    assert actions.count("backend.stock_compared") == 2
    assert actions.count("stock.stocktake") == 2
    costs = running.hub.http.get(
        f"{running.hub.base_url}/api/v1/backends/wms/costs", params={"sku": [TEE]}
    )
    assert costs.status_code == 404  # a warehouse keeps no item costs; the ERP does
    assert "item costs come from an ERP" in costs.json()["error"]["message"]


def test_goods_received_counted_and_written_off_in_the_warehouse_move_the_hubs_ledger_once(
    sqlite_url: str, start_hub: StartHub, qimen: QimenWmsSimulator
) -> None:
    running = wms_hub(start_hub, sqlite_url, qimen)
    qimen.faults.duplicate_rate = 1.0  # every callback twice

    qimen.receive("CGRK-0001", QM_WAREHOUSE, {TEE: 12, MUG: 3})  # entryorder.confirm
    qimen.count("PD-0001", QM_WAREHOUSE, {CAP: 28})  # inventory.report: two caps short
    qimen.report_change("QTCK-0001", QM_WAREHOUSE, {MUG: -1})  # stockchange.report: damaged

    assert [status for _, status in qimen.callbacks] == [200] * 6
    assert running.level(WAREHOUSE, TEE)["on_hand"] == 112
    assert running.level(WAREHOUSE, MUG)["on_hand"] == 62
    assert running.level(WAREHOUSE, CAP)["on_hand"] == 28
    wait_until(
        lambda: running.inbox.stock.get(CAP) == 28 + 3,
        what="the channel shown the caps after the count",
    )
    report = running.hub.post("/api/v1/backends/wms/compare", {}, 200)
    assert (report["differences"], report["skipped"]) == ([], [])  # the hub and the WMS agree
    assert running.hub.books_balance()
