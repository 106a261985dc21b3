"""Kingdee K/3 Cloud: our documents as WebAPI bodies and WebAPI answers as ours, on fixtures
written in the WebAPI's documented format."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.backends.backend_world import AT, CAP, HZ_WH, MUG, SH_WH, TEE, backend, line

from omnihub.adapters.backends.erp.kingdee import mapper
from omnihub.domain.backends import ErpDocState, SalesOrderDoc
from omnihub.platforms.local_time import SHANGHAI
from omnihub.ports import CallRefused

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "kingdee"
CONFIG = backend(
    {
        "code": "erp-kd",
        "kind": "erp",
        "adapter": "kingdee",
        "endpoint": "https://erp.example.com/K3Cloud",
        "credentials": {"acct_id": "62a1b2c3d4e5f6", "username": "api", "password": "secret"},
        "locations": [SH_WH, HZ_WH],
        "warehouses": {SH_WH: "CK001", HZ_WH: "CK002"},
        "skus": {CAP: "1.02.0007"},
        "settings": {"sale_org": "100", "customer": "CUST0001"},
    }
)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_a_sales_order_is_saved_with_our_reference_as_bill_number_and_their_codes() -> None:
    lines = (line(TEE, 2, "59.00"), line(CAP, 1, "25.00"))
    doc = SalesOrderDoc("OH-20261111-0001", SH_WH, AT, lines, channel="tmall")
    assert mapper.sales_order(CONFIG, doc) == fixture("save_sales_order.json")


def test_the_warehouse_field_of_a_customer_form_can_be_renamed() -> None:
    config = backend(
        {
            **_raw(),
            "settings": {"sale_org": "100", "customer": "C", "warehouse_field": "F_WMS_StockId"},
        }
    )
    doc = SalesOrderDoc("OH-1", SH_WH, AT, (line(TEE, 1),))
    entry = mapper.sales_order(config, doc)["data"]["Model"]["FSaleOrderEntry"][0]
    assert entry["F_WMS_StockId"] == {"FNumber": "CK001"}
    assert "FSOStockId" not in entry


def _raw() -> dict[str, Any]:
    return {
        "code": "erp-kd",
        "kind": "erp",
        "adapter": "kingdee",
        "endpoint": "https://erp.example.com/K3Cloud",
        "credentials": {"acct_id": "a", "username": "u", "password": "p"},
        "locations": [SH_WH],
        "warehouses": {SH_WH: "CK001"},
    }


def test_a_login_answer_gives_the_session_id() -> None:
    assert (
        mapper.read_login(fixture("login_answer_success.json"))
        == "1b0c6e3a-1d5b-4c0e-9d7a-3f1e2a4b5c6d"
    )


def test_a_refused_login_is_an_authentication_error_no_retry_fixes() -> None:
    with pytest.raises(CallRefused, match="用户名或密码错误") as refused:
        mapper.read_login(fixture("login_answer_refused.json"))
    assert (refused.value.retry, refused.value.code) == (False, "auth")


def test_a_successful_save_gives_the_bill_id_and_number() -> None:
    result = mapper.read_result(fixture("save_answer_success.json"))
    assert (result["Id"], result["Number"]) == (100235, "OH-20261111-0001")


def test_a_validation_failure_names_the_field_and_is_not_retried() -> None:
    with pytest.raises(CallRefused, match="物料编码.*FMaterialId") as refused:
        mapper.read_result(fixture("save_answer_invalid_material.json"))
    assert (refused.value.retry, refused.value.code) == (False, "msg_code_11")


def test_a_lost_session_in_a_query_answer_is_a_retry() -> None:
    with pytest.raises(CallRefused, match="会话信息已丢失") as refused:
        mapper.read_rows(fixture("query_answer_session_lost.json"))
    assert (refused.value.retry, refused.value.code) == (True, "session_lost")


@pytest.mark.parametrize(
    ("msg_code", "retry"),
    [(1, True), (6, True), (13, True), (14, True), (2, False), (10, False), (11, False)],
)
def test_only_passing_troubles_are_retried(msg_code: int, retry: bool) -> None:
    status = {"IsSuccess": False, "Errors": [{"Message": "x"}], "MsgCode": msg_code}
    assert mapper.failure(status).retry is retry


@pytest.mark.parametrize(
    ("document_status", "cancel_status", "state"),
    [
        ("Z", "A", ErpDocState.DRAFT),
        ("A", "A", ErpDocState.DRAFT),
        ("B", "A", ErpDocState.DRAFT),
        ("C", "A", ErpDocState.CONFIRMED),
        ("D", "A", ErpDocState.DRAFT),
        ("A", "B", ErpDocState.CANCELLED),
    ],
)
def test_document_statuses_map_to_ours(
    document_status: str, cancel_status: str, state: ErpDocState
) -> None:
    assert mapper.doc_state(document_status, cancel_status) == state


def test_inventory_rows_are_summed_per_location_and_sku_and_unknown_warehouses_listed() -> None:
    lines, unmapped = mapper.snapshot_lines(CONFIG, fixture("inventory_rows.json"))
    totals: dict[tuple[str, str], int] = {}
    for stock in lines:
        totals[(stock.location, stock.sku)] = (
            totals.get((stock.location, stock.sku), 0) + stock.on_hand
        )
    assert totals == {(SH_WH, TEE): 12, (SH_WH, CAP): 4, (HZ_WH, MUG): 6}
    assert unmapped == ["CK900"]


def test_purchase_receipts_group_per_bill_and_location_in_our_codes() -> None:
    receipts = mapper.receipts(CONFIG, fixture("instock_rows.json"))
    assert [(r.reference, r.location, r.lines) for r in receipts] == [
        ("CGRK00021", SH_WH, (line(TEE, 24), line(CAP, 12))),
        ("CGRK00022", HZ_WH, (line(MUG, 30),)),
    ]
    assert receipts[0].received_at == datetime(2026, 11, 11, 9, 30, tzinfo=SHANGHAI)
    assert receipts[0].key == "erp-kd:CGRK00021@WH-SH"


def test_stock_counts_are_absolute_quantities_including_zero() -> None:
    (take,) = mapper.stock_takes(CONFIG, fixture("count_rows.json"))
    assert (take.reference, take.location, take.counts) == (
        "PDZY000031",
        HZ_WH,
        (line(MUG, 28), line(TEE, 0)),
    )


def test_filters_quote_text_so_a_reference_cannot_end_the_literal() -> None:
    assert mapper.quote("O'Brien") == "'O''Brien'"
    assert mapper.in_list("FNumber", ["A", "B'"]) == "FNumber in ('A','B''')"
