"""The ERP port's contract: one suite, run against each ERP adapter and its simulator over real
HTTP on 127.0.0.1.

Each ERP starts with the same world in its own codes: materials TEE and MUG under our SKU
codes and CAP under the ERP's item code ``1.02.0007``; stock at WH-SH (TEE 10, CAP 4), at
WH-HZ (MUG 6), and in a warehouse the config does not map (TEE 3).
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from tests.backends.backend_world import AT, CAP, HZ_WH, MUG, SH_WH, TEE, backend, client, line, run

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.erp import erpnext, kingdee, odoo
from omnihub.adapters.backends.transport import HttpSender
from omnihub.adapters.backends.transport import run as drive
from omnihub.domain.backends import (
    ErpDocState,
    InboundReceipt,
    ReturnDoc,
    SalesOrderDoc,
    StockAdjustment,
    StockDocument,
    StockTake,
    occurred_at,
)
from omnihub.domain.values import Money
from omnihub.platforms.local_time import utc_now
from omnihub.ports import Answer, BackendConfig, CallRefused, ErpAdapter, OutboundRequest
from omnihub.simulators.backends.erp.erpnext import ErpNextSimulator
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator
from omnihub.simulators.backends.erp.odoo import OdooSimulator

pytestmark = pytest.mark.integration

CAP_CODE = "1.02.0007"
COSTS = {TEE: "12.50", MUG: "3.00", CAP_CODE: "8.80"}


@dataclass(frozen=True)
class Booked:
    """A document as the ERP holds it: state, lines by the ERP's item codes, warehouse."""

    state: ErpDocState
    lines: dict[str, int]
    warehouse: str


class ErpWorld(abc.ABC):
    """One ERP's simulator seeded with the world, and how to look inside it."""

    adapter: ErpAdapter
    config: BackendConfig
    warehouses: dict[str, str]
    unmapped: str

    def make_config(
        self, endpoint: str, credentials: dict[str, str], settings: dict[str, Any]
    ) -> BackendConfig:
        return backend(
            {
                "code": "erp",
                "kind": "erp",
                "adapter": self.adapter.name,
                "endpoint": endpoint,
                "credentials": credentials,
                "locations": [SH_WH, HZ_WH],
                "warehouses": self.warehouses,
                "skus": {CAP: CAP_CODE},
                "settings": settings,
            }
        )

    @property
    @abc.abstractmethod
    def simulator(self) -> Any: ...

    @abc.abstractmethod
    def order(self, reference: str) -> Booked | None: ...

    @abc.abstractmethod
    def orders_with(self, reference: str) -> int:
        """How many sales orders the ERP holds for our reference."""

    @abc.abstractmethod
    def returned(self, reference: str) -> Booked | None: ...

    @abc.abstractmethod
    def receive(self, location: str, lines: dict[str, int]) -> None:
        """A purchase receipt approved in the ERP (item codes are the ERP's)."""

    @abc.abstractmethod
    def count(self, location: str, counts: dict[str, int]) -> None:
        """A stock count approved in the ERP."""

    def with_password(self, password: str) -> BackendConfig:
        credentials = dict(self.config.credentials)
        key = "api_secret" if "api_secret" in credentials else "password"
        credentials[key] = password
        return backend(
            {
                "code": "erp",
                "kind": "erp",
                "adapter": self.adapter.name,
                "endpoint": self.config.endpoint,
                "credentials": credentials,
                "locations": list(self.config.locations),
                "warehouses": dict(self.config.warehouses),
                "skus": dict(self.config.skus),
                "settings": dict(self.config.settings),
            }
        )


class KingdeeWorld(ErpWorld):
    adapter = adapter_for("kingdee")  # type: ignore[assignment]
    warehouses = {SH_WH: "CK001", HZ_WH: "CK002"}
    unmapped = "CK900"

    def __init__(self, sim: KingdeeSimulator) -> None:
        self.sim = sim
        for code, cost in COSTS.items():
            sim.add_material(code, cost)
        sim.put_stock("CK001", TEE, 10)
        sim.put_stock("CK001", CAP_CODE, 4)
        sim.put_stock("CK002", MUG, 6)
        sim.put_stock("CK900", TEE, 3)
        self.config = self.make_config(
            sim.endpoint, sim.credentials(), {"sale_org": "100", "customer": "CUST0001"}
        )

    @property
    def simulator(self) -> Any:
        return self.sim

    def _booked(
        self, form: str, reference: str, entries: str, qty: str, stock: str
    ) -> Booked | None:
        bill = self.sim.bill(form, reference)
        if bill is None:
            return None
        lines: dict[str, int] = {}
        for entry in bill.model[entries]:
            code = entry["FMaterialId"]["FNumber"]
            lines[code] = lines.get(code, 0) + int(entry[qty])
        warehouse = bill.model[entries][0][stock]["FNumber"]
        return Booked(kingdee.mapper.doc_state(bill.status, bill.cancel), lines, warehouse)

    def order(self, reference: str) -> Booked | None:
        return self._booked("SAL_SaleOrder", reference, "FSaleOrderEntry", "FQty", "FSOStockId")

    def orders_with(self, reference: str) -> int:
        return int(self.sim.bill("SAL_SaleOrder", reference) is not None)

    def returned(self, reference: str) -> Booked | None:
        return self._booked("SAL_RETURNSTOCK", reference, "FEntity", "FRealQty", "FStockId")

    def receive(self, location: str, lines: dict[str, int]) -> None:
        self.sim.approve_receipt(
            f"CGRK{len(self.sim.bills.get('STK_InStock', {})) + 1:05d}",
            self.warehouses[location],
            lines,
        )

    def count(self, location: str, counts: dict[str, int]) -> None:
        self.sim.approve_count("PDZY00001", self.warehouses[location], counts)


class OdooWorld(ErpWorld):
    adapter = adapter_for("odoo")  # type: ignore[assignment]
    warehouses = {SH_WH: "SH", HZ_WH: "HZ"}
    unmapped = "OUT"

    def __init__(self, sim: OdooSimulator) -> None:
        self.sim = sim
        for code, cost in COSTS.items():
            sim.add_product(code, cost)
        for code in ("SH", "HZ", "OUT"):
            sim.add_warehouse(code)
        sim.put_stock("SH", TEE, 10)
        sim.put_stock("SH", CAP_CODE, 4)
        sim.put_stock("HZ", MUG, 6)
        sim.put_stock("OUT", TEE, 3)
        self.config = self.make_config(sim.url, sim.credentials(), {"customer": "7"})

    @property
    def simulator(self) -> Any:
        return self.sim

    def _code(self, product_id: int) -> str:
        return str(self.sim.records["product.product"][product_id]["default_code"])

    def order(self, reference: str) -> Booked | None:
        found = [o for o in self.sim.sales_orders() if o["client_order_ref"] == reference]
        if not found:
            return None
        order = found[0]
        lines: dict[str, int] = {}
        for row in self.sim.order_lines(order["id"]):
            code = self._code(row["product_id"])
            lines[code] = lines.get(code, 0) + int(row["product_uom_qty"])
        warehouse = self.sim.records["stock.warehouse"][order["warehouse_id"]]["code"]
        return Booked(odoo.mapper.SALE_STATES[order["state"]], lines, warehouse)

    def orders_with(self, reference: str) -> int:
        return sum(o["client_order_ref"] == reference for o in self.sim.sales_orders())

    def returned(self, reference: str) -> Booked | None:
        pickings = [
            p for p in self.sim.records["stock.picking"].values() if p["origin"] == reference
        ]
        if not pickings:
            return None
        moves = [
            m
            for m in self.sim.records["stock.move"].values()
            if m.get("picking_id") == pickings[0]["id"]
        ]
        lines = {self._code(m["product_id"]): int(m["product_uom_qty"]) for m in moves}
        stock = pickings[0]["location_dest_id"]
        warehouse = self.sim.records["stock.location"][stock]["name"].split("/")[0]
        state = ErpDocState.CONFIRMED if pickings[0]["state"] == "assigned" else ErpDocState.DRAFT
        return Booked(state, lines, warehouse)

    def receive(self, location: str, lines: dict[str, int]) -> None:
        self.sim.receive(f"{self.warehouses[location]}/IN/00001", self.warehouses[location], lines)

    def count(self, location: str, counts: dict[str, int]) -> None:
        for code, qty in counts.items():
            self.sim.count(self.warehouses[location], code, qty)


class ErpNextWorld(ErpWorld):
    adapter = adapter_for("erpnext")  # type: ignore[assignment]
    warehouses = {SH_WH: "Stores - SH", HZ_WH: "Stores - HZ"}
    unmapped = "Goods In Transit - OR"

    def __init__(self, sim: ErpNextSimulator) -> None:
        self.sim = sim
        for code, cost in COSTS.items():
            sim.add_item(code, cost)
        sim.put_stock("Stores - SH", TEE, 10)
        sim.put_stock("Stores - SH", CAP_CODE, 4)
        sim.put_stock("Stores - HZ", MUG, 6)
        sim.put_stock("Goods In Transit - OR", TEE, 3)
        self.config = self.make_config(sim.url, sim.credentials(), {"customer": "Demo Customer"})

    @property
    def simulator(self) -> Any:
        return self.sim

    def _booked(self, doctype: str, reference: str) -> Booked | None:
        found = self.sim.find(doctype, po_no=reference)
        if not found:
            return None
        doc = found[0]
        lines: dict[str, int] = {}
        for item in doc["items"]:
            lines[item["item_code"]] = lines.get(item["item_code"], 0) + abs(int(item["qty"]))
        return Booked(erpnext.mapper.doc_state(doc), lines, doc["set_warehouse"])

    def order(self, reference: str) -> Booked | None:
        return self._booked("Sales Order", reference)

    def orders_with(self, reference: str) -> int:
        return len(self.sim.find("Sales Order", po_no=reference))

    def returned(self, reference: str) -> Booked | None:
        return self._booked("Delivery Note", reference)

    def receive(self, location: str, lines: dict[str, int]) -> None:
        self.sim.submit_receipt(self.warehouses[location], lines)

    def count(self, location: str, counts: dict[str, int]) -> None:
        self.sim.submit_reconciliation(self.warehouses[location], counts)


def sales_order(reference: str = "OH-1001", location: str = SH_WH) -> SalesOrderDoc:
    return SalesOrderDoc(
        reference, location, AT, (line(TEE, 2, "59.00"), line(CAP, 1, "25.00")), channel="tmall"
    )


class CutOff:
    """Sends requests until the ``after``-th answer, which is lost (the call was made)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.sender = HttpSender(client(), "erp")

    def __call__(self, request: OutboundRequest) -> Answer:
        answer = self.sender(request)
        if len(self.sender.sent) > self.after:
            raise CallRefused("the connection dropped before the answer", retry=True)
        return answer


class ErpContract:
    @pytest.fixture
    def world(self) -> ErpWorld:
        raise NotImplementedError

    # -- sales orders -------------------------------------------------------------------------
    def test_a_created_order_is_confirmed_in_the_erp_at_its_warehouse_with_its_lines(
        self, world: ErpWorld
    ) -> None:
        ref = run(world.config, world.adapter.create_sales_order(world.config, sales_order()))
        assert (ref.reference, ref.state) == ("OH-1001", ErpDocState.CONFIRMED)
        assert ref.external_id
        assert world.order("OH-1001") == Booked(
            ErpDocState.CONFIRMED, {TEE: 2, CAP_CODE: 1}, world.warehouses[SH_WH]
        )

    def test_creating_the_same_order_again_finds_it_instead_of_booking_it_twice(
        self, world: ErpWorld
    ) -> None:
        first = run(world.config, world.adapter.create_sales_order(world.config, sales_order()))
        again = run(world.config, world.adapter.create_sales_order(world.config, sales_order()))
        assert again == first
        assert world.orders_with("OH-1001") == 1

    def test_a_create_cut_off_after_any_call_is_finished_by_the_next_attempt(
        self, world: ErpWorld
    ) -> None:
        probe = HttpSender(client(), "erp")
        drive(world.adapter.create_sales_order(world.config, sales_order("OH-PROBE")), probe)
        for after in range(len(probe.sent)):
            reference = f"OH-CUT-{after}"
            with pytest.raises(CallRefused):
                drive(
                    world.adapter.create_sales_order(world.config, sales_order(reference)),
                    CutOff(after),
                )
            ref = run(
                world.config, world.adapter.create_sales_order(world.config, sales_order(reference))
            )
            assert ref.state == ErpDocState.CONFIRMED, f"cut off after call {after}"
            assert world.orders_with(reference) == 1, f"cut off after call {after}"

    def test_a_cancelled_order_is_cancelled_in_the_erp_and_cancelling_again_changes_nothing(
        self, world: ErpWorld
    ) -> None:
        run(world.config, world.adapter.create_sales_order(world.config, sales_order()))
        cancelled = run(world.config, world.adapter.cancel_sales_order(world.config, "OH-1001"))
        again = run(world.config, world.adapter.cancel_sales_order(world.config, "OH-1001"))
        assert cancelled.state == again.state == ErpDocState.CANCELLED
        booked = world.order("OH-1001")
        assert booked is not None
        assert booked.state == ErpDocState.CANCELLED

    def test_an_order_the_erp_never_had_cannot_be_cancelled_and_a_retry_will_not_help(
        self, world: ErpWorld
    ) -> None:
        with pytest.raises(CallRefused) as refused:
            run(world.config, world.adapter.cancel_sales_order(world.config, "OH-NEVER"))
        assert (refused.value.retry, refused.value.code) == (False, "not_found")

    def test_an_item_the_erp_does_not_know_is_refused_for_good(self, world: ErpWorld) -> None:
        doc = SalesOrderDoc("OH-BAD", SH_WH, AT, (line("NOT-IN-ERP", 1),))
        with pytest.raises(CallRefused) as refused:
            run(world.config, world.adapter.create_sales_order(world.config, doc))
        assert refused.value.retry is False
        assert world.orders_with("OH-BAD") == 0

    # -- returns --------------------------------------------------------------------------------
    def test_a_return_is_booked_once_at_its_warehouse(self, world: ErpWorld) -> None:
        doc = ReturnDoc("RT-2001", "OH-1001", HZ_WH, AT, (line(MUG, 1),), reason="damaged")
        first = run(world.config, world.adapter.post_return(world.config, doc))
        again = run(world.config, world.adapter.post_return(world.config, doc))
        assert first.external_id == again.external_id
        assert world.returned("RT-2001") == Booked(
            ErpDocState.CONFIRMED, {MUG: 1}, world.warehouses[HZ_WH]
        )

    # -- stock and costs ------------------------------------------------------------------------
    def test_the_snapshot_holds_our_locations_and_skus_and_names_unmapped_warehouses(
        self, world: ErpWorld
    ) -> None:
        snapshot = run(world.config, world.adapter.stock_snapshot(world.config))
        assert snapshot.on_hand() == {(SH_WH, TEE): 10, (SH_WH, CAP): 4, (HZ_WH, MUG): 6}
        assert snapshot.unmapped == (world.unmapped,)
        assert snapshot.source == "erp"

    def test_a_snapshot_of_some_skus_holds_only_those(self, world: ErpWorld) -> None:
        snapshot = run(world.config, world.adapter.stock_snapshot(world.config, [CAP]))
        assert snapshot.on_hand() == {(SH_WH, CAP): 4}

    def test_item_costs_are_given_for_our_skus(self, world: ErpWorld) -> None:
        costs = run(world.config, world.adapter.item_costs(world.config, [TEE, CAP]))
        assert {c.sku: c.cost for c in costs} == {TEE: Money.of("12.50"), CAP: Money.of("8.80")}

    # -- receipts and counts ------------------------------------------------------------------
    def test_receipts_and_counts_since_the_cursor_are_read_in_our_codes_oldest_first(
        self, world: ErpWorld
    ) -> None:
        since = utc_now() - timedelta(seconds=2)
        world.receive(SH_WH, {TEE: 5, CAP_CODE: 2})
        world.count(HZ_WH, {MUG: 4})
        documents = run(world.config, world.adapter.stock_documents(world.config, since))
        receipts = [d for d in documents if isinstance(d, InboundReceipt)]
        assert [(r.location, set(r.lines)) for r in receipts] == [
            (SH_WH, {line(TEE, 5), line(CAP, 2)})
        ]
        assert stock_after(documents, {(HZ_WH, MUG): 6})[(HZ_WH, MUG)] == 4
        assert documents == sorted(documents, key=occurred_at)
        assert len({d.key for d in documents}) == len(documents)

    def test_documents_before_the_cursor_are_not_read_again(self, world: ErpWorld) -> None:
        world.receive(SH_WH, {TEE: 5})
        later = utc_now() + timedelta(seconds=2)
        assert run(world.config, world.adapter.stock_documents(world.config, later)) == []

    # -- faults ---------------------------------------------------------------------------------
    def test_wrong_credentials_are_refused_for_good(self, world: ErpWorld) -> None:
        config = world.with_password("wrong")
        with pytest.raises(CallRefused) as refused:
            run(config, world.adapter.create_sales_order(config, sales_order()))
        assert (refused.value.retry, refused.value.code) == (False, "auth")

    def test_an_erp_down_for_a_while_books_the_order_once_it_is_back(self, world: ErpWorld) -> None:
        world.simulator.faults.down = True
        for _ in range(3):
            with pytest.raises(CallRefused) as refused:
                run(world.config, world.adapter.create_sales_order(world.config, sales_order()))
            assert refused.value.retry is True
        world.simulator.faults.down = False
        run(world.config, world.adapter.create_sales_order(world.config, sales_order()))
        assert world.orders_with("OH-1001") == 1

    def test_an_erp_failing_or_limiting_calls_is_a_retry(self, world: ErpWorld) -> None:
        world.simulator.faults.error_rate = 1.0
        with pytest.raises(CallRefused) as failing:
            run(world.config, world.adapter.stock_snapshot(world.config))
        world.simulator.faults.error_rate = 0.0
        world.simulator.faults.rate_limited = 1
        with pytest.raises(CallRefused) as limited:
            run(world.config, world.adapter.stock_snapshot(world.config))
        assert failing.value.retry is limited.value.retry is True
        assert run(world.config, world.adapter.stock_snapshot(world.config)).lines


def stock_after(
    documents: list[StockDocument], before: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    """What the hub's ledger would hold after applying the documents."""
    stock = dict(before)
    for document in documents:
        if isinstance(document, InboundReceipt):
            for item in document.lines:
                key = (document.location, item.sku)
                stock[key] = stock.get(key, 0) + item.qty
        elif isinstance(document, StockTake):
            for item in document.counts:
                stock[(document.location, item.sku)] = item.qty
        elif isinstance(document, StockAdjustment):
            for item in document.lines:
                key = (document.location, item.sku)
                stock[key] = stock.get(key, 0) + item.qty
    return stock


class TestKingdee(ErpContract):
    @pytest.fixture
    def world(self, kingdee: KingdeeSimulator) -> ErpWorld:
        return KingdeeWorld(kingdee)


class TestOdoo(ErpContract):
    @pytest.fixture
    def world(self, odoo: OdooSimulator) -> ErpWorld:
        return OdooWorld(odoo)


class TestErpNext(ErpContract):
    @pytest.fixture
    def world(self, erpnext: ErpNextSimulator) -> ErpWorld:
        return ErpNextWorld(erpnext)


def test_kingdee_takes_the_data_as_json_text_as_its_sdks_send_it(kingdee: KingdeeSimulator) -> None:
    KingdeeWorld(kingdee)
    http = client()
    login = http.post(
        kingdee.endpoint + "/Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc",
        json={
            "acctID": kingdee.acct_id,
            "username": kingdee.username,
            "password": kingdee.password,
            "lcid": 2052,
        },
    )
    session = login.json()["KDSVCSessionId"]
    query = {
        "FormId": "STK_Inventory",
        "FieldKeys": "FStockId.FNumber,FMaterialId.FNumber,FBaseQty",
        "FilterString": "FStockId.FNumber='CK002'",
    }
    answer = http.post(
        kingdee.endpoint
        + "/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc",
        json={"data": json.dumps(query)},
        headers={"Cookie": f"kdservice-sessionid={session}"},
    )
    assert answer.json() == [["CK002", MUG, 6.0]]
