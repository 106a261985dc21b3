"""Odoo: our documents as JSON-RPC calls and Odoo's answers as ours, on fixtures written in
the external API's format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.backends.backend_world import AT, CAP, HZ_WH, MUG, SH_WH, TEE, backend, line

from omnihub.adapters.backends.erp.odoo import mapper
from omnihub.domain.backends import InboundReceipt, SalesOrderDoc, StockAdjustment
from omnihub.ports import CallRefused

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "odoo"
CONFIG = backend(
    {
        "code": "erp-odoo",
        "kind": "erp",
        "adapter": "odoo",
        "endpoint": "https://odoo.example.com",
        "credentials": {"db": "retail", "login": "api@example.com", "password": "odoo-api-key"},
        "locations": [SH_WH, HZ_WH],
        "warehouses": {SH_WH: "SH", HZ_WH: "HZ"},
        "skus": {CAP: "1.02.0007"},
        "settings": {"customer": "7"},
    }
)
WAREHOUSES = {1: "SH", 2: "HZ", 9: "OUT"}
CODES = {41: TEE, 42: MUG, 43: "1.02.0007"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_a_sales_order_is_created_with_our_reference_and_their_product_ids() -> None:
    doc = SalesOrderDoc(
        "OH-20261111-0001",
        SH_WH,
        AT,
        (line(TEE, 2, "59.00"), line(CAP, 1, "25.00")),
        channel="tmall",
    )
    values = mapper.order_values(CONFIG, doc, 1, {TEE: 41, "1.02.0007": 43})
    assert mapper.execute_kw(CONFIG, 2, "sale.order", "create", [values]) == fixture(
        "create_sale_order_call.json"
    )


def test_order_times_go_to_odoo_in_utc() -> None:
    shanghai_evening = datetime.fromisoformat("2026-11-11T16:00:01+08:00")
    assert mapper.odoo_time(shanghai_evening) == "2026-11-11 08:00:01"


@pytest.mark.parametrize(
    ("name", "retry", "code"),
    [
        ("answer_validation_error.json", False, "ValidationError"),
        ("answer_access_denied.json", False, "auth"),
        ("answer_serialization_failure.json", True, "SerializationFailure"),
    ],
)
def test_json_rpc_errors_say_whether_a_retry_may_pass(name: str, retry: bool, code: str) -> None:
    with pytest.raises(CallRefused) as refused:
        mapper.read_result(fixture(name))
    assert (refused.value.retry, refused.value.code) == (retry, code)


def test_a_failed_login_is_false_and_refused_for_good() -> None:
    with pytest.raises(CallRefused) as refused:
        mapper.read_uid(False)
    assert (refused.value.retry, refused.value.code) == (False, "auth")


def test_quants_are_summed_per_warehouse_and_sku_outside_warehouses_are_ignored() -> None:
    quants = mapper.read_result(fixture("stock_quant_search_read.json"))
    lines, unmapped = mapper.snapshot_lines(CONFIG, quants, CODES, WAREHOUSES)
    assert [(x.location, x.sku, x.on_hand, x.reserved) for x in lines] == [
        (HZ_WH, MUG, 6, 1),
        (SH_WH, CAP, 4, 0),
        (SH_WH, TEE, 13, 2),
    ]
    assert unmapped == ["OUT"]


def test_done_moves_become_receipts_and_signed_inventory_adjustments() -> None:
    moves = mapper.read_result(fixture("stock_move_search_read.json"))
    locations = {
        row["id"]: row for row in mapper.read_result(fixture("stock_location_search_read.json"))
    }
    documents = mapper.stock_documents(CONFIG, moves, locations, CODES, {1: "SH", 2: "HZ"})
    receipts = [d for d in documents if isinstance(d, InboundReceipt)]
    adjustments = [d for d in documents if isinstance(d, StockAdjustment)]
    assert [(r.reference, r.location, r.lines) for r in receipts] == [
        ("SH/IN/00012", SH_WH, (line(TEE, 24), line(CAP, 12)))
    ]
    assert receipts[0].received_at == datetime(2026, 11, 11, 1, 30, tzinfo=UTC)
    assert [(a.location, a.lines, a.reason) for a in adjustments] == [
        (HZ_WH, (line(MUG, -2),), "stocktake"),
        (HZ_WH, (line(TEE, 1),), "stocktake"),
    ]
    assert len({a.key for a in adjustments}) == 2  # one document per move: labels repeat


def test_a_many2one_is_read_as_its_id() -> None:
    assert mapper.many2one_id([41, "[TEE-RED-M] Tee"], "product_id") == 41
    assert mapper.many2one_id(41, "product_id") == 41
