"""ERP flows end to end: a real hub (``omnihub serve``) and the Kingdee and ERPNext simulators
over HTTP. Released orders are booked as sales orders (once, whatever the retries); an ERP down
for a while gets every one of them once it is back, nothing lost. Purchase receipts and stock
counts approved in the ERP move the hub's ledger (Kingdee polled, ERPNext by its signed
webhook, each once) and the channels are shown the new stock. The full compare runs by itself
at its interval."""

from __future__ import annotations

import pytest
from tests.backends.flow_hub import (
    CAP,
    ERPNEXT_WAREHOUSES,
    MUG,
    STORE,
    TEE,
    WAREHOUSE,
    StartHub,
    erpnext_backend,
    kingdee_backend,
)
from tests.channels.harness import wait_until

from omnihub.services.backends import return_reference
from omnihub.simulators.backends.erp.erpnext import ErpNextSimulator
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator

pytestmark = pytest.mark.e2e


@pytest.mark.slow  # the circuit opens while the ERP is down and tries again after 10 s
def test_an_erp_down_for_a_while_gets_every_sales_order_once_it_is_back(
    sqlite_url: str, start_hub: StartHub, kingdee: KingdeeSimulator
) -> None:
    running = start_hub(sqlite_url, [kingdee_backend(kingdee)])
    kingdee.faults.down = True
    orders = [running.order(f"APP-ERP-{n}", [(MUG, 6)])["id"] for n in range(4)]
    parts = [p["id"] for o in orders for p in running.routing(o)["fulfilments"]]
    assert len(parts) == 4

    def waiting() -> bool:
        pending = running.deliveries("erp", "pending")
        return len(pending) == 4 and all(d["attempts"] >= 1 for d in pending)

    wait_until(waiting, what="every sales order tried and waiting")
    assert all(kingdee.bill("SAL_SaleOrder", p) is None for p in parts)
    kingdee.faults.down = False

    wait_until(
        lambda: len(running.deliveries("erp", "delivered")) == 4,
        timeout=40,
        what="every sales order booked once the ERP is back",
    )
    for part in parts:
        bill = kingdee.bill("SAL_SaleOrder", part)
        assert bill is not None, part
        assert bill.status == "C"  # saved, submitted and audited
    assert len(kingdee.bills["SAL_SaleOrder"]) == 4
    assert running.deliveries("erp", "dead") == []


def test_erp_receipts_and_counts_move_the_ledger_once_and_the_channel_follows(
    sqlite_url: str, start_hub: StartHub, kingdee: KingdeeSimulator, erpnext: ErpNextSimulator
) -> None:
    running = start_hub(
        sqlite_url, [kingdee_backend(kingdee), erpnext_backend(erpnext, poll=False)]
    )
    erpnext.webhook_url = running.callback_url("erpnext")

    # Kingdee: audited receipt and count, read by the hub's poll
    kingdee.approve_receipt("CGRK00001", "CK001", {TEE: 20, MUG: 5})
    kingdee.approve_count("PDZY00001", "CK101", {CAP: 1})
    wait_until(
        lambda: (
            running.level(WAREHOUSE, TEE)["on_hand"] == 120
            and running.level(STORE, CAP)["on_hand"] == 1
        ),
        what="the receipt and the count in the hub",
    )
    assert running.level(WAREHOUSE, MUG)["on_hand"] == 65

    # ERPNext: a submitted purchase receipt and stock reconciliation, each a signed webhook
    erpnext.faults.duplicate_rate = 1.0
    erpnext.submit_receipt(ERPNEXT_WAREHOUSES[STORE], {MUG: 4})
    erpnext.submit_reconciliation(ERPNEXT_WAREHOUSES[WAREHOUSE], {CAP: 25})
    assert [status for _, status in erpnext.callbacks] == [200, 200, 200, 200]
    assert running.level(STORE, MUG)["on_hand"] == 9
    assert running.level(WAREHOUSE, CAP)["on_hand"] == 25

    # the polls go on over the same window: nothing moves twice
    polled = running.hub.get("/api/v1/backends/erp")["poll"]
    wait_until(
        lambda: running.hub.get("/api/v1/backends/erp")["poll"]["cursor_at"] > polled["cursor_at"],
        what="another poll of the same window",
    )
    assert running.level(WAREHOUSE, TEE)["on_hand"] == 120
    assert running.level(STORE, CAP)["on_hand"] == 1

    # the channel is shown the new stock (warehouse and store, all of it)
    wait_until(
        lambda: (
            running.inbox.stock.get(TEE) == 120 + 8
            and running.inbox.stock.get(MUG) == 65 + 9
            and running.inbox.stock.get(CAP) == 25 + 1
        ),
        what="the channel's stock after the receipts and counts",
    )
    assert running.hub.books_balance()
    kept = [e for e in running.hub.inbound() if e["channel"] == "backend:erpnext"]
    assert [e["result"] for e in kept] == ["applied"] * 4


def test_the_full_compare_runs_by_itself_at_its_interval(
    sqlite_url: str, start_hub: StartHub, kingdee: KingdeeSimulator
) -> None:
    running = start_hub(sqlite_url, [kingdee_backend(kingdee)], OMNIHUB_STOCK_COMPARE_SECONDS="1")
    kingdee.put_stock("CK001", TEE, 98)
    kingdee.put_stock("CK999", TEE, 7)  # a warehouse the config does not map
    expected = [
        {
            "location": WAREHOUSE,
            "sku": TEE,
            "hub": 100,
            "backend": 98,
            "difference": -2,
            "corrected": False,
            "note": None,
        }
    ]

    def compares() -> list[dict[str, object]]:
        return list(running.hub.get("/api/v1/backends/erp/compares", limit=50)["items"])

    wait_until(
        lambda: [r for r in compares() if r["differences"] == expected][1:],
        what="two compares an interval apart, each listing the tees",
    )
    latest = running.hub.get("/api/v1/backends/erp/compare")
    assert (latest["mode"], latest["unmapped"], latest["corrected"]) == ("report", ["CK999"], 0)
    assert running.level(WAREHOUSE, TEE)["on_hand"] == 100  # reported, not corrected


def test_item_costs_are_read_from_the_erp_with_clear_answers_when_they_cannot_be(
    sqlite_url: str, start_hub: StartHub, kingdee: KingdeeSimulator
) -> None:
    running = start_hub(sqlite_url, [kingdee_backend(kingdee)])
    kingdee.add_material(MUG, "23.40")
    http, url = running.hub.http, f"{running.hub.base_url}/api/v1/backends/erp/costs"

    costs = http.get(url, params={"sku": [TEE, MUG, "NOT-IN-THE-ERP", TEE]})
    assert costs.status_code == 200, costs.text
    body = costs.json()
    assert {item["sku"]: item["cost"] for item in body["items"]} == {TEE: "10.00", MUG: "23.40"}
    assert body["missing"] == ["NOT-IN-THE-ERP"]

    none = http.get(url)
    assert none.status_code == 422
    assert "name the SKUs" in none.json()["error"]["message"]
    too_many = http.get(url, params={"sku": [f"SKU-{n}" for n in range(201)]})
    assert too_many.status_code == 422
    assert "at most 200" in too_many.json()["error"]["message"]

    kingdee.faults.down = True
    down = http.get(url, params={"sku": [TEE]})
    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "backend_unavailable"
    assert down.headers["Retry-After"]


def test_goods_returned_to_a_node_the_erp_books_are_booked_there_as_one_sales_return(
    sqlite_url: str, start_hub: StartHub, kingdee: KingdeeSimulator
) -> None:
    running = start_hub(sqlite_url, [kingdee_backend(kingdee)])
    for sku, qty in ((TEE, 2), (MUG, 1), (TEE, 2)):  # the tees twice: recorded once
        running.hub.post(
            "/api/v1/inventory/movements",
            {
                "location": WAREHOUSE,
                "sku": sku,
                "kind": "return",
                "qty": qty,
                "reference": "RMA-2026-0001" if sku == TEE else "RMA-2026-0002",
            },
        )
    tees, mug = (return_reference(WAREHOUSE, f"RMA-2026-000{n}") for n in (1, 2))

    def booked() -> list[object]:
        return [kingdee.bill("SAL_RETURNSTOCK", number) for number in (tees, mug)]

    wait_until(lambda: all(booked()), what="both returns booked in the ERP")
    bill = kingdee.bill("SAL_RETURNSTOCK", tees)
    assert bill is not None
    assert bill.status == "C"  # saved, submitted and audited
    (line,) = bill.model["FEntity"]
    assert line["FMaterialId"] == {"FNumber": TEE}
    assert line["FRealQty"] == 2
    assert line["FSrcBillNo"] == "RMA-2026-0001"
    assert len(kingdee.bills["SAL_RETURNSTOCK"]) == 2
    wait_until(
        lambda: (
            len(
                [
                    d
                    for d in running.deliveries("erp", "delivered")
                    if d["event_type"] == "erp.post_return"
                ]
            )
            == 2
        ),
        what="both return deliveries marked delivered",
    )
    assert running.deliveries("erp", "dead") == []
