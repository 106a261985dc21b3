"""Qimen (奇门): delivery orders as the protocol's XML, its signature, and the warehouse's
confirmations, receipts and stock reports as our documents, on fixtures written in the
protocol's format."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
from tests.backends.backend_world import AT, BUYER, CAP, MUG, SH_WH, TEE, backend, line

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.wms.qimen import mapper, signature
from omnihub.domain.backends import OutboundOrder, Package, ReceiptKind
from omnihub.platforms.local_time import SHANGHAI
from omnihub.ports import CallRefused, ChannelRefused, InboundRequest, UnreadablePayload

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "qimen"
CONFIG = backend(
    {
        "code": "wms-sh",
        "kind": "wms",
        "adapter": "qimen",
        "endpoint": "https://wms.example.com/router/qimen/service",
        "credentials": {"app_key": "23001234", "app_secret": "qm-secret", "customer_id": "C-OMNI"},
        "locations": [SH_WH],
        "warehouses": {SH_WH: "QM-SH-01"},
        "skus": {CAP: "1.02.0007"},
        "settings": {"owner_code": "OMNI", "shop_nick": "omni-flagship"},
    }
)


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def canonical(xml: bytes) -> list[tuple[str, str]]:
    """Every element as (path, text), whitespace between elements ignored."""
    out: list[tuple[str, str]] = []

    def walk(element: ET.Element, path: str) -> None:
        here = f"{path}/{element.tag}"
        out.append((here, (element.text or "").strip()))
        for child in element:
            walk(child, here)

    walk(ET.fromstring(xml), "")
    return out


def test_a_delivery_order_is_the_protocols_xml_with_their_codes() -> None:
    order = OutboundOrder(
        "FF-20261111-0001",
        "OH-20261111-0001",
        SH_WH,
        AT,
        (line(TEE, 2, "59.00"), line(CAP, 1)),
        BUYER,
        carrier="SF",
        channel="tmall",
    )
    assert canonical(mapper.delivery_order(CONFIG, order)) == canonical(
        read("deliveryorder_create.xml")
    )


def test_the_sign_is_md5_of_secret_sorted_params_body_and_secret_in_upper_hex() -> None:
    params = {
        "method": "taobao.qimen.deliveryorder.create",
        "timestamp": "2026-11-11 16:00:01",
        "format": "xml",
        "app_key": "23001234",
        "v": "2.0",
        "sign_method": "md5",
        "customerId": "C-OMNI",
        "sign": "ignored",
    }
    body = b"<request/>"
    text = (
        "qm-secret"
        "app_key23001234"
        "customerIdC-OMNI"
        "formatxml"
        "methodtaobao.qimen.deliveryorder.create"
        "sign_methodmd5"
        "timestamp2026-11-11 16:00:01"
        "v2.0"
        "<request/>"
        "qm-secret"
    )
    assert (
        signature.sign("qm-secret", params, body) == hashlib.md5(text.encode()).hexdigest().upper()
    )


def test_a_request_carries_the_system_parameters_and_their_sign() -> None:
    adapter = adapter_for("qimen")
    body = b"<request/>"
    request = adapter.request(CONFIG, "deliveryorder.create", body)  # type: ignore[attr-defined]
    assert request.params["method"] == "taobao.qimen.deliveryorder.create"
    assert request.params["customerId"] == "C-OMNI"
    assert request.params["sign"] == signature.sign("qm-secret", request.params, body)


def test_a_success_answer_gives_the_wms_order_id() -> None:
    root = mapper.read_response(read("answer_create_success.xml"))
    assert mapper.text(root, "deliveryOrderId") == "WMS-DO-778812"


def test_a_refusal_is_final_and_a_service_timeout_is_a_retry() -> None:
    with pytest.raises(CallRefused, match="已发货") as refused:
        mapper.read_response(read("answer_already_shipped.xml"))
    assert (refused.value.retry, refused.value.code) == (False, "ORDER_SHIPPED")
    with pytest.raises(CallRefused) as busy:
        mapper.read_response(read("answer_system_busy.xml"))
    assert busy.value.retry is True


def test_a_partial_confirmation_ships_part_with_its_carrier_and_tracking_number() -> None:
    confirmation = mapper.delivery_confirmation(
        CONFIG, mapper.parse(read("deliveryorder_confirm_partial.xml"))
    )
    assert (confirmation.reference, confirmation.external_id, confirmation.location) == (
        "FF-20261111-0001",
        "WMS-DO-778812",
        SH_WH,
    )
    assert confirmation.final is False
    assert confirmation.lines == (line(TEE, 2),)
    assert confirmation.packages == (Package("SF", "SF1402261822301", (line(TEE, 2),)),)
    assert (confirmation.carrier, confirmation.tracking_numbers) == ("SF", ("SF1402261822301",))
    assert confirmation.message_id == "WMS-DO-778812-1"
    assert confirmation.confirmed_at == datetime(2026, 11, 11, 18, 20, tzinfo=SHANGHAI)


def test_the_final_confirmation_ships_the_rest() -> None:
    confirmation = mapper.delivery_confirmation(
        CONFIG, mapper.parse(read("deliveryorder_confirm_final.xml"))
    )
    assert confirmation.final is True
    assert confirmation.lines == (line(CAP, 1),)
    assert confirmation.status == "DELIVERED"


def test_a_confirmation_without_packages_takes_the_orders_tracking_number() -> None:
    confirmation = mapper.delivery_confirmation(
        CONFIG, mapper.parse(read("deliveryorder_confirm_without_packages.xml"))
    )
    assert confirmation.tracking_numbers == ("78120033445566",)
    assert confirmation.carrier == "ZTO"
    assert confirmation.lines == (line(MUG, 3),)
    assert confirmation.message_id.startswith("FF-20261111-0002:final:")


def test_an_entry_order_confirmation_receives_only_sellable_goods() -> None:
    receipt = mapper.entry_confirmation(CONFIG, mapper.parse(read("entryorder_confirm.xml")))
    assert (receipt.reference, receipt.location, receipt.kind) == (
        "PO-20261110-0042",
        SH_WH,
        ReceiptKind.PURCHASE,
    )
    assert receipt.lines == (line(TEE, 23), line(CAP, 12))
    assert receipt.message_id == "WMS-IN-55102-1"


def test_stock_changes_keep_their_order_type_and_leave_out_confirmed_ones() -> None:
    changes = mapper.stock_changes(CONFIG, mapper.parse(read("stockchange_report.xml")))
    # the JYCK line is the delivery order already confirmed: the shipment moves the ledger
    assert [(c.reference, c.reason, c.lines, c.message_id) for c in changes] == [
        ("DMG-881", "QTCK", (line(MUG, -2),), "CHG-0091"),
    ]


def test_a_stock_take_report_gives_gains_and_losses() -> None:
    adjustment = mapper.inventory_report(CONFIG, mapper.parse(read("inventory_report.xml")))
    assert (adjustment.reference, adjustment.reason) == ("PD-20261111-01", "stocktake")
    assert adjustment.lines == (line(TEE, -1), line(CAP, 2))


def test_an_inventory_answer_sums_sellable_stock_per_item() -> None:
    lines, unmapped = mapper.snapshot_lines(
        CONFIG, mapper.read_response(read("answer_inventory_query.xml"))
    )
    assert [(x.sku, x.on_hand, x.reserved) for x in lines] == [(CAP, 4, 0), (TEE, 13, 2)]
    assert unmapped == []


def test_xml_declaring_entities_is_refused_before_parsing() -> None:
    with pytest.raises(UnreadablePayload, match="DTD or entities"):
        mapper.parse(read("entity_expansion.xml"))


def test_a_confirmation_from_an_unmapped_warehouse_is_kept_as_unreadable() -> None:
    body = read("deliveryorder_confirm_final.xml").replace(b"QM-SH-01", b"QM-BJ-09")
    with pytest.raises(UnreadablePayload, match="QM-BJ-09 is not mapped"):
        mapper.delivery_confirmation(CONFIG, mapper.parse(body))


def test_a_callback_for_another_customer_is_refused() -> None:
    body = read("deliveryorder_confirm_final.xml")
    params = {
        "method": "taobao.qimen.deliveryorder.confirm",
        "app_key": "23001234",
        "customerId": "SOMEONE-ELSE",
        "timestamp": "2026-11-12 09:05:01",
        "format": "xml",
        "v": "2.0",
        "sign_method": "md5",
    }
    params["sign"] = signature.sign("qm-secret", params, body)
    with pytest.raises(ChannelRefused, match="customerId"):
        adapter_for("qimen").parse_callback(CONFIG, InboundRequest(body, {}, params))


def test_the_answer_to_a_callback_is_the_protocols_response() -> None:
    reply = adapter_for("qimen").reply()
    root = ET.fromstring(reply.body)
    assert (mapper.text(root, "flag"), mapper.text(root, "code")) == ("success", "0")
    failure = ET.fromstring(adapter_for("qimen").reply("bad sign").body)
    assert mapper.text(failure, "flag") == "failure"
