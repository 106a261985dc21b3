"""The POS adapter without a hub: receipts as counter sales and returns, the receipt-type table,
the tills' signature, the stock call back to the tills, and the till simulator."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.pos import mapper
from omnihub.adapters.channels.pos.client import PosAdapter
from omnihub.adapters.channels.pos.signature import signature, signed_headers, verify
from omnihub.adapters.channels.transport import call
from omnihub.domain.errors import ErrorCode
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import OrderStatus
from omnihub.platforms.local_time import SHANGHAI
from omnihub.ports import (
    CallRefused,
    ChannelConfig,
    ChannelRefused,
    InboundRequest,
    ShipmentUpdate,
    StockUpdate,
    UnknownChannelStatus,
    UnreadablePayload,
)
from omnihub.simulators.channels.pos import PosSimulator

OWN = Path(__file__).parent / "fixtures" / "pos"
SECRET = "pos-till-secret-0001"
STORE = "ST-SH-JINGAN"
CONFIG = ChannelConfig(
    code="pos-jingan",
    adapter="pos",
    secret=SECRET,
    credentials={"store": STORE},
    endpoint="https://tills.example.test",
)
S = OrderStatus
pytestmark = pytest.mark.unit


def own(name: str) -> dict[str, Any]:
    return dict(json.loads((OWN / name).read_text(encoding="utf-8")))


def inbound(body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest(body=body, headers={k.lower(): v for k, v in headers.items()}, query={})


# -- the mapper ------------------------------------------------------------------------------


def test_a_sale_is_a_completed_counter_sale_picked_up_at_the_till_store() -> None:
    order = mapper.to_order("pos-jingan", own("sale_split_payment.json"), "raw", store=STORE)
    assert (order.external_id, order.status) == ("ST-SH-JINGAN-20261111-00042", S.COMPLETED)
    assert (order.delivery, order.pickup_location, order.counter_sale) == (
        DeliveryMode.PICKUP,
        STORE,
        True,
    )
    assert [(ln.channel_sku, ln.sku, ln.qty) for ln in order.lines] == [
        ("6901234567892", None, 2),
        ("6901234567908", None, 1),
    ]
    assert order.lines[0].discount.amount == Decimal("5.00")
    sold_at = datetime(2026, 11, 11, 14, 5, 9, tzinfo=SHANGHAI)
    assert order.created_at == order.updated_at == sold_at
    assert order.payment is not None
    assert (order.payment.provider, order.payment.amount.amount, order.payment.paid_at) == (
        "cash+wechat",
        Decimal("152.00"),
        sold_at,
    )
    assert order.payment.transaction_id == "ST-SH-JINGAN:ST-SH-JINGAN-20261111-00042"
    assert order.total.amount == Decimal("152.00")
    assert (order.buyer.channel_buyer_id, order.buyer.member_id) == ("M000123456", "M000123456")
    assert not order.refund_requested


def test_a_return_updates_the_original_receipt_order_to_refunded() -> None:
    sale = mapper.to_order("pos", own("sale_split_payment.json"), "")
    order = mapper.to_order("pos", own("return_of_sale.json"), "")
    assert (order.external_id, order.status, order.counter_sale) == (
        sale.external_id,
        S.REFUNDED,
        True,
    )
    assert [(ln.channel_sku, ln.qty) for ln in order.lines] == [
        ("6901234567892", 2),
        ("6901234567908", 1),
    ]  # negative quantities on the return receipt read as units coming back
    assert order.updated_at > sale.updated_at
    assert order.payment is None
    assert "ST-SH-JINGAN-20261111-R00051" in order.remark
    assert order.pickup_location == STORE


def test_a_line_rung_up_by_sku_carries_it_as_the_master_sku() -> None:
    order = mapper.to_order("pos", own("sale_by_sku.json"), "")
    assert [(ln.channel_sku, ln.sku) for ln in order.lines] == [("CAP-NAVY", "CAP-NAVY")]
    assert order.lines[0].unit_price.amount == Decimal("79")
    assert order.payment is not None
    assert order.payment.provider == "card"
    assert order.created_at == datetime(2026, 11, 11, 14, 20, tzinfo=SHANGHAI)


@pytest.mark.parametrize("kind", sorted(mapper.STATUS))
def test_every_receipt_type_maps_to_a_canonical_status_and_back(kind: str) -> None:
    assert mapper.canonical_status(kind) is mapper.STATUS[kind]
    assert mapper.TO_NATIVE[mapper.STATUS[kind]] == kind


@pytest.mark.parametrize("kind", ["exchange", "void", None])
def test_a_receipt_type_not_in_the_table_is_a_clear_error(kind: Any) -> None:
    receipt = own("sale_split_payment.json")
    receipt["type"] = kind
    with pytest.raises(UnreadablePayload) as caught:
        mapper.to_order("pos", receipt, "")
    if kind is not None:
        assert isinstance(caught.value, UnknownChannelStatus)
        assert caught.value.code is ErrorCode.UNKNOWN_CHANNEL_STATUS
        assert repr(kind) in caught.value.message


@pytest.mark.parametrize(
    ("name", "change", "why"),
    [
        ("return_of_sale.json", lambda r: r.pop("original_receipt_no"), "original_receipt_no"),
        ("sale_split_payment.json", lambda r: r.pop("store"), "store"),
        ("sale_split_payment.json", lambda r: r.update(receipt_no=" "), "receipt_no"),
        ("sale_split_payment.json", lambda r: r.update(lines=[]), "no lines"),
        ("sale_split_payment.json", lambda r: r["lines"][0].update(qty=-2), "positive"),
        ("sale_split_payment.json", lambda r: r["lines"][0].update(qty="two"), "count"),
        ("sale_split_payment.json", lambda r: r["lines"][0].pop("barcode"), "barcode nor sku"),
        ("sale_split_payment.json", lambda r: r["lines"][0].update(price="-1"), "negative"),
        ("sale_split_payment.json", lambda r: r["lines"][0].update(discount="999"), "larger"),
        ("sale_split_payment.json", lambda r: r.update(payments={"cash": 1}), "list"),
        ("sale_split_payment.json", lambda r: r["payments"][0].pop("method"), "method"),
        ("sale_split_payment.json", lambda r: r.update(sold_at="noon"), "time"),
    ],
)
def test_a_receipt_the_mapper_cannot_read_says_what_is_wrong(
    name: str, change: Any, why: str
) -> None:
    receipt = own(name)
    change(receipt)
    with pytest.raises(UnreadablePayload, match=why):
        mapper.to_order("pos", receipt, "")


def test_a_receipt_of_another_store_is_refused_on_a_store_channel() -> None:
    receipt = own("sale_split_payment.json")
    receipt["store"] = "ST-SH-XUHUI"
    with pytest.raises(UnreadablePayload, match="ST-SH-XUHUI came in on the channel of store"):
        PosAdapter().to_order(CONFIG, receipt, "")
    everywhere = ChannelConfig(code="pos-all", adapter="pos", secret=SECRET)
    assert PosAdapter().to_order(everywhere, receipt, "").pickup_location == "ST-SH-XUHUI"


# -- the signature and the calls -------------------------------------------------------------


def test_the_tills_sign_as_the_mini_program_does() -> None:
    body = (OWN / "sale_split_payment.json").read_bytes()
    headers = signed_headers(SECRET, body, "till-0001")
    verified = PosAdapter().verify(CONFIG, inbound(body, headers))
    assert verified.message_id == "till-0001"
    assert verified.sent_at is not None
    assert headers["X-Omnihub-Signature"] == signature(SECRET, headers["X-Omnihub-Timestamp"], body)


def test_a_receipt_signed_with_another_secret_or_altered_is_refused() -> None:
    body = (OWN / "sale_split_payment.json").read_bytes()
    with pytest.raises(ChannelRefused, match="does not match"):
        PosAdapter().verify(CONFIG, inbound(body, signed_headers("not-ours", body, "t1")))
    headers = signed_headers(SECRET, body, "t2")
    with pytest.raises(ChannelRefused, match="does not match"):
        PosAdapter().verify(CONFIG, inbound(body.replace(b'"qty": 2', b'"qty": 1'), headers))


def test_a_stock_push_names_the_store_and_is_signed() -> None:
    request = PosAdapter().stock_request(CONFIG, StockUpdate("6901234567892", 6, "TEE", 9))
    assert request.url == "https://tills.example.test/stock"
    assert json.loads(request.body) == {
        "store": STORE,
        "channel_sku": "6901234567892",
        "sku": "TEE",
        "quantity": 6,
        "version": 9,
    }
    assert verify(SECRET, inbound(request.body, request.headers)).message_id == (
        "stock:6901234567892:9"
    )


@pytest.mark.parametrize("status", ["shipped", "delivered", "cancelled", "refunded"])
def test_nothing_is_pushed_back_for_an_order_status(status: str) -> None:
    assert PosAdapter().shipment_request(CONFIG, ShipmentUpdate("R1", "SF", "1", status)) is None
    assert not PosAdapter.pushes


@pytest.mark.parametrize(("status", "retry"), [(429, True), (502, True), (422, False)])
def test_errors_are_refused_and_only_rate_limits_and_outages_are_retried(
    status: int, retry: bool
) -> None:
    PosAdapter().check_response(204, b"")
    with pytest.raises(CallRefused) as caught:
        PosAdapter().check_response(status, b"")
    assert caught.value.retry is retry


def test_the_registry_speaks_pos_through_this_adapter() -> None:
    adapter = adapter_for("pos")
    assert isinstance(adapter, PosAdapter)
    assert adapter.line_identity.startswith("lines[].barcode")


# -- the simulator ---------------------------------------------------------------------------


@pytest.fixture
def simulator() -> Any:
    with PosSimulator(secret=SECRET) as running:
        yield running


def test_the_simulator_rings_up_sales_and_returns_the_hub_reads_in_order(
    simulator: PosSimulator,
) -> None:
    sale = simulator.sale(STORE, [("6901234567892", 2, "59.00")], push=False)
    back = simulator.return_sale(sale, push=False)
    receipt, refund = simulator.receipts[sale], simulator.receipts[back]
    assert (receipt["type"], refund["type"], refund["original_receipt_no"]) == (
        "sale",
        "return",
        sale,
    )
    assert receipt["payments"] == refund["payments"] == [{"method": "wechat", "amount": "118.00"}]
    assert refund["sold_at"] > receipt["sold_at"]  # the tills' clock never repeats a second
    # the adapter reads both receipts as the hub will: one order, sold then refunded
    config = ChannelConfig(code="pos", adapter="pos", secret=SECRET, endpoint=simulator.url)
    sold = PosAdapter().to_order(config, json.loads(simulator.body(sale)), "")
    returned = PosAdapter().to_order(config, json.loads(simulator.body(back)), "")
    assert (sold.status, returned.status) == (S.COMPLETED, S.REFUNDED)
    assert returned.external_id == sold.external_id == sale
    assert returned.updated_at > sold.updated_at
    assert sold.payment is not None
    assert sold.payment.amount.amount == Decimal("118.00")


def test_the_simulator_keeps_signed_stock_per_store(simulator: PosSimulator) -> None:
    adapter = PosAdapter()
    config = ChannelConfig(
        code="pos-jingan",
        adapter="pos",
        secret=SECRET,
        credentials={"store": STORE},
        endpoint=simulator.url,
    )
    forged = ChannelConfig(code="pos-jingan", adapter="pos", secret="nope", endpoint=simulator.url)
    with httpx.Client(timeout=5) as client:
        call(client, adapter, adapter.stock_request(config, StockUpdate("6901", 5, "TEE", 1)))
        with pytest.raises(CallRefused) as refused:
            call(client, adapter, adapter.stock_request(forged, StockUpdate("6901", 0, "T", 2)))
        simulator.faults.rate_limited = 1
        with pytest.raises(CallRefused) as limited:
            call(client, adapter, adapter.stock_request(config, StockUpdate("6901", 4, "T", 3)))
    assert simulator.shelves == {STORE: {"6901": 5}}
    assert (refused.value.code, refused.value.retry) == ("401", False)
    assert (limited.value.code, limited.value.retry) == ("429", True)
