"""ERPNext: our documents as Frappe REST bodies, and Frappe documents, webhooks and errors
as ours, on fixtures written in Frappe's format."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.backends.backend_world import AT, CAP, HZ_WH, MUG, SH_WH, TEE, backend, line

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.erp.erpnext import mapper, signature
from omnihub.domain.backends import InboundReceipt, SalesOrderDoc, StockAdjustment, StockTake
from omnihub.platforms.local_time import SHANGHAI
from omnihub.ports import CallRefused, ChannelRefused, InboundRequest, UnreadablePayload

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "erpnext"
CONFIG = backend(
    {
        "code": "erp-next",
        "kind": "erp",
        "adapter": "erpnext",
        "endpoint": "https://erp.example.com",
        "credentials": {"api_key": "k", "api_secret": "s", "webhook_secret": "whsec-1"},
        "locations": [SH_WH, HZ_WH],
        "warehouses": {SH_WH: "Stores - SH", HZ_WH: "Stores - HZ"},
        "skus": {CAP: "1.02.0007"},
        "settings": {"customer": "Tmall Buyers", "company": "Omni Retail Ltd"},
    }
)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_a_sales_order_is_posted_submitted_with_our_reference_in_po_no() -> None:
    doc = SalesOrderDoc(
        "OH-20261111-0001",
        SH_WH,
        AT,
        (line(TEE, 2, "59.00"), line(CAP, 1, "25.00")),
        channel="tmall",
    )
    assert mapper.sales_order(CONFIG, doc) == fixture("sales_order.json")


def test_a_purchase_receipt_is_a_receipt_per_mapped_warehouse() -> None:
    documents = mapper.documents(CONFIG, fixture("webhook_purchase_receipt.json"))
    assert all(isinstance(d, InboundReceipt) for d in documents)
    assert [(d.location, d.lines) for d in documents] == [
        (SH_WH, (line(TEE, 24), line(CAP, 12))),
        (HZ_WH, (line(MUG, 30),)),
    ]
    assert documents[0].received_at == datetime(2026, 11, 11, 9, 30, tzinfo=SHANGHAI)
    assert documents[0].key == "erp-next:MAT-PRE-2026-00031@WH-SH"


def test_a_purchase_return_takes_the_goods_out_as_a_negative_adjustment() -> None:
    (document,) = mapper.documents(CONFIG, fixture("webhook_purchase_return.json"))
    assert isinstance(document, StockAdjustment)
    assert (document.location, document.lines, document.reason) == (
        SH_WH,
        (line(TEE, -3),),
        "purchase_return",
    )


def test_a_stock_reconciliation_gives_counted_quantities() -> None:
    (document,) = mapper.documents(CONFIG, fixture("webhook_stock_reconciliation.json"))
    assert isinstance(document, StockTake)
    assert (document.location, document.counts) == (HZ_WH, (line(MUG, 28), line(TEE, 0)))


@pytest.mark.parametrize("docstatus", [0, 2])
def test_drafts_and_cancelled_documents_move_no_stock(docstatus: int) -> None:
    doc = {**fixture("webhook_purchase_receipt.json"), "docstatus": docstatus}
    assert mapper.documents(CONFIG, doc) == []


def test_other_doctypes_move_no_stock() -> None:
    assert mapper.documents(CONFIG, {"doctype": "Sales Invoice", "name": "X"}) == []


def test_a_webhook_is_verified_with_the_webhook_secret_then_read() -> None:
    body = (FIXTURES / "webhook_purchase_receipt.json").read_bytes()
    good = signature.webhook_signature("whsec-1", body)
    adapter = adapter_for("erpnext")
    request = InboundRequest(body, {signature.HEADER: good}, {})
    assert len(adapter.parse_callback(CONFIG, request)) == 2
    with pytest.raises(ChannelRefused):
        adapter.parse_callback(CONFIG, InboundRequest(body + b" ", {signature.HEADER: good}, {}))


def test_a_webhook_missing_its_items_is_unreadable() -> None:
    body = json.dumps(
        {"doctype": "Purchase Receipt", "name": "X", "docstatus": 1, "posting_date": "2026-11-11"}
    ).encode()
    request = InboundRequest(
        body, {signature.HEADER: signature.webhook_signature("whsec-1", body)}, {}
    )
    with pytest.raises(UnreadablePayload, match="items"):
        adapter_for("erpnext").parse_callback(CONFIG, request)


@pytest.mark.parametrize(
    ("status", "name", "retry", "code"),
    [
        (417, "answer_validation_error.json", False, "LinkValidationError"),
        (417, "answer_timestamp_mismatch.json", True, "TimestampMismatchError"),
        (404, None, False, "not_found"),
        (403, None, False, "auth"),
        (502, None, True, "http_502"),
    ],
)
def test_errors_say_whether_a_retry_may_pass(
    status: int, name: str | None, retry: bool, code: str
) -> None:
    error = mapper.failure(status, fixture(name) if name else None)
    assert (error.retry, error.code) == (retry, code)


def test_the_server_message_is_kept_in_the_error() -> None:
    error = mapper.failure(417, fixture("answer_validation_error.json"))
    assert isinstance(error, CallRefused)
    assert "Could not find Item: CAP-XX" in str(error)


def test_bins_are_read_per_location_and_unmapped_warehouses_listed() -> None:
    lines, unmapped = mapper.snapshot_lines(CONFIG, fixture("bin_list.json")["data"])
    assert [(x.location, x.sku, x.on_hand, x.reserved) for x in lines] == [
        (HZ_WH, MUG, 6, 1),
        (SH_WH, CAP, 4, 0),
        (SH_WH, TEE, 10, 2),
    ]
    assert unmapped == ["Goods In Transit - OR"]
