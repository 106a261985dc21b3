"""The WMS port's contract, run against each WMS adapter and its simulated warehouse over real
HTTP on 127.0.0.1, the warehouse calling a stand-in of the hub's callback receiver."""

from __future__ import annotations

import abc
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from tests.backends.backend_world import (
    AT,
    BUYER,
    CAP,
    MUG,
    SH_WH,
    TEE,
    CallbackReceiver,
    backend,
    line,
    run,
)

from omnihub.adapters.backends import adapter_for
from omnihub.domain.backends import (
    DeliveryConfirmation,
    InboundReceipt,
    OutboundOrder,
    ReceiptKind,
    StockAdjustment,
)
from omnihub.ports import BackendConfig, CallRefused, WmsAdapter
from omnihub.simulators.backends.wms.qimen import QimenWmsSimulator

pytestmark = pytest.mark.integration

CAP_CODE = "1.02.0007"


class WmsWorld(abc.ABC):
    """A warehouse system seeded with TEE 10, MUG 5 and CAP (their code) 4 at WH-SH, calling
    the receiver back."""

    adapter: WmsAdapter
    config: BackendConfig
    simulator: Any
    receiver: CallbackReceiver

    @abc.abstractmethod
    def ship(self) -> int:
        """Let the warehouse work (one step); how many shipments it made."""

    @abc.abstractmethod
    def held(self, reference: str) -> tuple[str, dict[str, int], str] | None:
        """(status, lines by their item code, warehouse) of a delivery order in the WMS."""

    @abc.abstractmethod
    def receive(self, reference: str, lines: dict[str, int]) -> None: ...

    @abc.abstractmethod
    def count(self, reference: str, counts: dict[str, int]) -> None: ...

    @abc.abstractmethod
    def damage(self, reference: str, changes: dict[str, int]) -> None: ...


class QimenWorld(WmsWorld):
    adapter = adapter_for("qimen")  # type: ignore[assignment]

    def __init__(self, sim: QimenWmsSimulator, receiver: CallbackReceiver) -> None:
        self.simulator, self.receiver = sim, receiver
        for item, qty in ((TEE, 10), (MUG, 5), (CAP_CODE, 4)):
            sim.put_stock("QM-SH-01", item, qty)
        self.config = backend(
            {
                "code": "wms",
                "kind": "wms",
                "adapter": "qimen",
                "endpoint": sim.endpoint,
                "credentials": sim.credentials(),
                "locations": [SH_WH],
                "warehouses": {SH_WH: "QM-SH-01"},
                "skus": {CAP: CAP_CODE},
                "settings": {"owner_code": "OMNI"},
            }
        )
        receiver.backends["wms"] = self.config
        sim.callback_url = receiver.url_for("wms")

    def ship(self) -> int:
        return int(self.simulator.tick())

    def held(self, reference: str) -> tuple[str, dict[str, int], str] | None:
        order = self.simulator.delivery_orders.get(reference)
        return None if order is None else (order.status, order.lines, order.warehouse)

    def receive(self, reference: str, lines: dict[str, int]) -> None:
        self.simulator.receive(reference, "QM-SH-01", lines)

    def count(self, reference: str, counts: dict[str, int]) -> None:
        self.simulator.count(reference, "QM-SH-01", counts)

    def damage(self, reference: str, changes: dict[str, int]) -> None:
        self.simulator.report_change(reference, "QM-SH-01", changes)


def delivery(reference: str = "FF-3001", lines: tuple[Any, ...] | None = None) -> OutboundOrder:
    return OutboundOrder(
        reference,
        "OH-3001",
        SH_WH,
        AT,
        lines or (line(TEE, 3, "59.00"), line(CAP, 1, "25.00")),
        BUYER,
        channel="tmall",
    )


def confirmations(world: WmsWorld) -> list[DeliveryConfirmation]:
    return [d for d in world.receiver.documents() if isinstance(d, DeliveryConfirmation)]


class WmsContract:
    @pytest.fixture
    def world(self) -> WmsWorld:
        raise NotImplementedError

    def create(self, world: WmsWorld, order: OutboundOrder | None = None) -> Any:
        order = order or delivery()
        return run(world.config, world.adapter.create_delivery_order(world.config, order))

    def test_a_delivery_order_reaches_the_warehouse_with_their_codes(self, world: WmsWorld) -> None:
        ref = self.create(world)
        assert (ref.reference, ref.location) == ("FF-3001", SH_WH)
        assert ref.external_id
        status, lines, warehouse = world.held("FF-3001") or ("", {}, "")
        assert (lines, warehouse) == ({TEE: 3, CAP_CODE: 1}, world.config.warehouses[SH_WH])

    def test_sending_the_same_delivery_order_again_is_the_same_order(self, world: WmsWorld) -> None:
        assert self.create(world) == self.create(world)
        world.ship()
        assert len(confirmations(world)) == 1

    def test_a_shipped_order_is_confirmed_with_carrier_tracking_number_and_every_line(
        self, world: WmsWorld
    ) -> None:
        ref = self.create(world)
        world.ship()
        (confirmation,) = world.receiver.wait_for(1)
        assert isinstance(confirmation, DeliveryConfirmation)
        assert (confirmation.reference, confirmation.external_id, confirmation.location) == (
            "FF-3001",
            ref.external_id,
            SH_WH,
        )
        assert confirmation.final
        assert confirmation.carrier
        assert confirmation.tracking_numbers
        assert set(confirmation.lines) == {line(TEE, 3), line(CAP, 1)}

    def test_a_partial_shipment_is_confirmed_in_parts_that_add_up_to_the_order(
        self, world: WmsWorld
    ) -> None:
        world.simulator.faults.partial_rate = 1.0
        self.create(world)
        world.ship()
        world.ship()
        first, last = confirmations(world)
        assert (first.final, last.final) == (False, True)
        shipped: dict[str, int] = {}
        for confirmation in (first, last):
            for item in confirmation.lines:
                shipped[item.sku] = shipped.get(item.sku, 0) + item.qty
        assert shipped == {TEE: 3, CAP: 1}
        assert first.message_id != last.message_id
        assert set(first.tracking_numbers).isdisjoint(last.tracking_numbers)

    def test_a_confirmation_sent_before_the_create_is_answered_is_received_whole(
        self, world: WmsWorld
    ) -> None:
        world.simulator.faults.callback_before_answer = True
        ref = self.create(world)
        (confirmation,) = confirmations(world)  # already there when the create returned
        assert (confirmation.reference, confirmation.external_id) == (
            ref.reference,
            ref.external_id,
        )
        assert world.ship() == 0  # nothing left to ship

    def test_a_confirmation_sent_twice_reads_as_the_same_document(self, world: WmsWorld) -> None:
        world.simulator.faults.duplicate_rate = 1.0
        self.create(world)
        world.ship()
        first, second = confirmations(world)
        assert first == second

    def test_an_order_not_yet_shipped_can_be_cancelled(self, world: WmsWorld) -> None:
        self.create(world)
        assert (
            run(world.config, world.adapter.cancel_delivery_order(world.config, "FF-3001", SH_WH))
            is True
        )
        assert world.ship() == 0
        assert confirmations(world) == []

    def test_a_shipped_order_cannot_be_cancelled_and_a_retry_will_not_help(
        self, world: WmsWorld
    ) -> None:
        self.create(world)
        world.ship()
        with pytest.raises(CallRefused) as refused:
            run(world.config, world.adapter.cancel_delivery_order(world.config, "FF-3001", SH_WH))
        assert refused.value.retry is False

    def test_the_warehouse_reports_its_sellable_stock_in_our_codes(self, world: WmsWorld) -> None:
        snapshot = run(world.config, world.adapter.inventory(world.config, SH_WH, [TEE, MUG, CAP]))
        assert snapshot.on_hand() == {(SH_WH, TEE): 10, (SH_WH, MUG): 5, (SH_WH, CAP): 4}

    def test_goods_received_come_back_as_a_receipt(self, world: WmsWorld) -> None:
        world.receive("PO-88", {TEE: 6, CAP_CODE: 2})
        (receipt,) = world.receiver.wait_for(1)
        assert isinstance(receipt, InboundReceipt)
        assert (receipt.reference, receipt.location, receipt.kind) == (
            "PO-88",
            SH_WH,
            ReceiptKind.PURCHASE,
        )
        assert set(receipt.lines) == {line(TEE, 6), line(CAP, 2)}

    def test_a_stock_take_comes_back_as_gains_and_losses(self, world: WmsWorld) -> None:
        world.count("PD-1", {TEE: 8, MUG: 5, CAP_CODE: 6})
        (adjustment,) = world.receiver.wait_for(1)
        assert isinstance(adjustment, StockAdjustment)
        assert adjustment.reason == "stocktake"
        assert set(adjustment.lines) == {line(TEE, -2), line(CAP, 2)}

    def test_other_stock_changes_come_back_with_their_reason(self, world: WmsWorld) -> None:
        world.damage("DMG-7", {MUG: -1})
        (adjustment,) = world.receiver.wait_for(1)
        assert isinstance(adjustment, StockAdjustment)
        assert (adjustment.reference, adjustment.lines) == ("DMG-7", (line(MUG, -1),))

    def test_a_warehouse_that_is_down_failing_or_limiting_calls_is_a_retry(
        self, world: WmsWorld
    ) -> None:
        for fault, value in (("down", True), ("error_rate", 1.0), ("rate_limited", 1)):
            setattr(world.simulator.faults, fault, value)
            with pytest.raises(CallRefused) as refused:
                self.create(world)
            assert refused.value.retry is True, fault
            world.simulator.faults.down, world.simulator.faults.error_rate = False, 0.0
        assert self.create(world).reference == "FF-3001"
        assert world.held("FF-3001") is not None


class TestQimen(WmsContract):
    @pytest.fixture
    def world(self, qimen: QimenWmsSimulator, receiver: CallbackReceiver) -> WmsWorld:
        return QimenWorld(qimen, receiver)


def test_a_qimen_line_the_hub_has_no_price_for_is_sent_as_free_since_the_price_is_required(
    qimen: QimenWmsSimulator, receiver: CallbackReceiver
) -> None:
    world = QimenWorld(qimen, receiver)
    order = delivery("FF-FREE", (line(TEE, 1), line(MUG, 2, "12.00")))
    ref = run(world.config, world.adapter.create_delivery_order(world.config, order))
    assert ref.external_id
    assert world.held("FF-FREE") == ("ACCEPT", {TEE: 1, MUG: 2}, "QM-SH-01")
    (create,) = [c for c in qimen.calls if c.query.get("method", "").endswith(".create")]
    prices = [
        p.text for p in ET.fromstring(create.body).iterfind("orderLines/orderLine/actualPrice")
    ]
    assert prices == ["0.00", "12.00"]
