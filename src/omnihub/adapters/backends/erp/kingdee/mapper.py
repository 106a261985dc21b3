"""Kingdee K/3 Cloud (金蝶云星空) WebAPI documents ↔ the hub's: pure functions.

Forms we use and their fields:

- ``SAL_SaleOrder`` (销售订单): header ``FBillNo`` (our reference; the coding rule must allow
  a given number), ``FBillTypeID`` (``XSDD01_SYS`` standard sales order), ``FDate``,
  ``FSaleOrgId``, ``FCustId``, ``FNote``; finance ``FSaleOrderFinance.FSettleCurrId``;
  entries ``FSaleOrderEntry`` with ``FMaterialId``, ``FQty``, ``FTaxPrice`` and the warehouse
  in ``FSOStockId`` (``settings.warehouse_field`` names another field where a customer's form
  differs).
- ``SAL_RETURNSTOCK`` (销售退货单): ``FBillNo``, ``FBillTypeID`` (``XSTHD01_SYS``), ``FDate``,
  ``FSaleOrgId``, ``FStockOrgId``, ``FRetcustId``; entries ``FEntity`` with ``FMaterialId``,
  ``FRealQty``, ``FStockId``, ``FSrcBillNo`` (the sales order).
- Queries (``ExecuteBillQuery``) return rows as arrays in ``FieldKeys`` order:
  ``STK_Inventory`` (即时库存) ``FStockId.FNumber, FMaterialId.FNumber, FBaseQty``;
  ``BD_MATERIAL`` ``FNumber, FRefCost`` (参考成本);
  ``STK_InStock`` (采购入库单) ``FBillNo, FApproveDate, FStockId.FNumber, FMaterialId.FNumber,
  FRealQty``; ``STK_StockCountInput`` (物料盘点作业) ``FBillNo, FApproveDate,
  FStockId.FNumber, FMaterialId.FNumber, FCountQty``.

Document status ``FDocumentStatus``: Z draft (暂存), A created (创建), B in approval (审核中),
C audited (已审核), D re-audit (重新审核); ``FCancelStatus`` A normal, B cancelled (作废).

Every answer carries ``Result.ResponseStatus`` (``IsSuccess``, ``Errors[].Message``,
``MsgCode``). The MsgCode values we act on: 1 the session is lost (log in again: retry),
6 a database failure, 13 a network-control conflict (someone else holds the bill) and 14 a
call limit: these may pass, so they retry; every other failure (validation 11, no permission
2, data not found 10, ...) will not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from omnihub.adapters.backends.wire import local_text, read_time, whole_number
from omnihub.domain.backends import (
    ErpDocState,
    InboundReceipt,
    ItemCost,
    Line,
    ReceiptKind,
    ReturnDoc,
    SalesOrderDoc,
    StockLine,
    StockTake,
)
from omnihub.domain.values import Money
from omnihub.ports import BackendConfig, CallRefused, UnreadablePayload

SALES_ORDER = "SAL_SaleOrder"
SALES_RETURN = "SAL_RETURNSTOCK"
INVENTORY = "STK_Inventory"
MATERIAL = "BD_MATERIAL"
PURCHASE_RECEIPT = "STK_InStock"
STOCK_COUNT = "STK_StockCountInput"

SERVICE = "Kingdee.BOS.WebApi.ServicesStub"
LOGIN_PATH = f"/{SERVICE}.AuthService.ValidateUser.common.kdsvc"


def form_path(operation: str) -> str:
    """``Save``, ``Submit``, ``Audit``, ``UnAudit``, ``CancelAssign``, ``ExcuteOperation``
    (sic, the WebAPI's spelling), ``ExecuteBillQuery``."""
    return f"/{SERVICE}.DynamicFormService.{operation}.common.kdsvc"


SESSION_COOKIE = "kdservice-sessionid"
RETRY_MSG_CODES = frozenset({1, 6, 13, 14})
SESSION_LOST = 1

INVENTORY_FIELDS = "FStockId.FNumber,FMaterialId.FNumber,FBaseQty"
COST_FIELDS = "FNumber,FRefCost"
RECEIPT_FIELDS = "FBillNo,FApproveDate,FStockId.FNumber,FMaterialId.FNumber,FRealQty"
COUNT_FIELDS = "FBillNo,FApproveDate,FStockId.FNumber,FMaterialId.FNumber,FCountQty"
FIND_FIELDS = "FID,FBillNo,FDocumentStatus,FCancelStatus"


def number(value: str) -> dict[str, str]:
    """A base-data reference as K/3 Cloud writes it: ``{"FNumber": code}``."""
    return {"FNumber": value}


def quote(value: str) -> str:
    """A text literal for a ``FilterString`` (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def in_list(field: str, values: Sequence[str]) -> str:
    return f"{field} in ({','.join(quote(v) for v in values)})"


def _price(line: Line) -> float:
    return float(line.unit_price.amount) if line.unit_price is not None else 0.0


def login_body(config: BackendConfig) -> dict[str, Any]:
    return {
        "acctID": config.credential("acct_id"),
        "username": config.credential("username"),
        "password": config.credential("password"),
        "lcid": int(config.credentials.get("lcid", 2052)),
    }


def sales_order(config: BackendConfig, doc: SalesOrderDoc) -> dict[str, Any]:
    """The ``Save`` body of a sales order."""
    warehouse = config.warehouse_of(doc.location)
    warehouse_field = str(config.setting("warehouse_field", "FSOStockId"))
    model: dict[str, Any] = {
        "FID": 0,
        "FBillNo": doc.reference,
        "FBillTypeID": number(str(config.setting("bill_type", "XSDD01_SYS"))),
        "FDate": local_text(doc.ordered_at),
        "FSaleOrgId": number(str(config.setting("sale_org"))),
        "FCustId": number(doc.customer or str(config.setting("customer"))),
        "FNote": doc.note or (f"{doc.channel} order {doc.reference}" if doc.channel else ""),
        "FSaleOrderFinance": {
            "FSettleCurrId": number(str(config.setting("currency", "PRE001"))),
            "FIsIncludedTax": True,
        },
        "FSaleOrderEntry": [
            {
                "FMaterialId": number(config.item_code(line.sku)),
                "FQty": line.qty,
                "FTaxPrice": _price(line),
                warehouse_field: number(warehouse),
                "FStockOrgId": number(str(config.setting("stock_org", config.setting("sale_org")))),
            }
            for line in doc.lines
        ],
    }
    return {"formid": SALES_ORDER, "data": {"NeedReturnFields": ["FID", "FBillNo"], "Model": model}}


def sales_return(config: BackendConfig, doc: ReturnDoc) -> dict[str, Any]:
    warehouse = config.warehouse_of(doc.location)
    org = str(config.setting("sale_org"))
    model: dict[str, Any] = {
        "FID": 0,
        "FBillNo": doc.reference,
        "FBillTypeID": number(str(config.setting("return_bill_type", "XSTHD01_SYS"))),
        "FDate": local_text(doc.returned_at),
        "FSaleOrgId": number(org),
        "FStockOrgId": number(str(config.setting("stock_org", org))),
        "FRetcustId": number(str(config.setting("customer"))),
        "FHeadNote": doc.reason or "",
        "FEntity": [
            {
                "FMaterialId": number(config.item_code(line.sku)),
                "FRealQty": line.qty,
                "FTaxPrice": _price(line),
                "FStockId": number(warehouse),
                "FSrcBillNo": doc.order_reference,
            }
            for line in doc.lines
        ],
    }
    return {
        "formid": SALES_RETURN,
        "data": {"NeedReturnFields": ["FID", "FBillNo"], "Model": model},
    }


def by_numbers(form_id: str, numbers: Sequence[str]) -> dict[str, Any]:
    """The body of Submit / Audit / UnAudit / CancelAssign for bills by number."""
    return {"formid": form_id, "data": {"Numbers": list(numbers), "Ids": ""}}


def operation(form_id: str, op_number: str, numbers: Sequence[str]) -> dict[str, Any]:
    """``ExcuteOperation``: ``Cancel`` (作废) and the other named operations."""
    return {"formid": form_id, "opNumber": op_number, "data": {"Numbers": list(numbers), "Ids": ""}}


def bill_query(
    form_id: str, field_keys: str, filter_string: str = "", *, start: int = 0, limit: int = 2000
) -> dict[str, Any]:
    return {
        "data": {
            "FormId": form_id,
            "FieldKeys": field_keys,
            "FilterString": filter_string,
            "OrderString": "",
            "TopRowCount": 0,
            "StartRow": start,
            "Limit": limit,
        }
    }


# -- reading answers ---------------------------------------------------------------------------
def read_login(body: Any) -> str:
    """The session id of a ``ValidateUser`` answer; ``CallRefused`` when the login failed."""
    if not isinstance(body, dict):
        raise CallRefused(f"kingdee login answered {body!r}", retry=True, code="bad_answer")
    if "Result" in body:  # the service failed before it could judge the login
        read_result(body)
    if body.get("LoginResultType") != 1 or not body.get("KDSVCSessionId"):
        message = body.get("Message") or "login refused"
        raise CallRefused(f"kingdee refused the login: {message}", retry=False, code="auth")
    return str(body["KDSVCSessionId"])


def failure(status: Any) -> CallRefused:
    """The error of a failed ``ResponseStatus``."""
    errors = status.get("Errors") or []
    messages = (
        "; ".join(
            str(e.get("Message", "")) + (f" ({e['FieldName']})" if e.get("FieldName") else "")
            for e in errors
            if isinstance(e, dict)
        )
        or "the operation failed"
    )
    msg_code = status.get("MsgCode")
    retry = msg_code in RETRY_MSG_CODES
    code = "session_lost" if msg_code == SESSION_LOST else f"msg_code_{msg_code}"
    return CallRefused(f"kingdee: {messages}", retry=retry, code=code)


def read_result(body: Any) -> dict[str, Any]:
    """The ``Result`` of Save / Submit / Audit / ...; ``CallRefused`` for a failure."""
    result = body.get("Result") if isinstance(body, dict) else None
    status = result.get("ResponseStatus") if isinstance(result, dict) else None
    if not isinstance(status, dict):
        raise CallRefused(
            f"kingdee answered without a ResponseStatus: {str(body)[:200]}",
            retry=True,
            code="bad_answer",
        )
    if not status.get("IsSuccess"):
        raise failure(status)
    return result  # type: ignore[return-value]


def read_rows(body: Any) -> list[list[Any]]:
    """The rows of ``ExecuteBillQuery``; an error comes as ``[[{"Result": ...}]]``."""
    if isinstance(body, dict):
        read_result(body)
        return []
    if not isinstance(body, list):
        raise CallRefused(
            f"kingdee query answered {str(body)[:200]}", retry=True, code="bad_answer"
        )
    if body and isinstance(body[0], list) and body[0] and isinstance(body[0][0], dict):
        read_result(body[0][0])
    return [row for row in body if isinstance(row, list)]


def doc_state(document_status: str, cancel_status: str | None) -> ErpDocState:
    if cancel_status == "B":
        return ErpDocState.CANCELLED
    if document_status == "C":
        return ErpDocState.CONFIRMED
    return ErpDocState.DRAFT


def _qty(value: Any, what: str) -> int:
    return whole_number(value, what)


def snapshot_lines(
    config: BackendConfig, rows: list[list[Any]]
) -> tuple[list[StockLine], list[str]]:
    """Inventory rows (warehouse, material, base qty) as our lines, and the warehouse codes
    the config does not map."""
    lines: list[StockLine] = []
    unmapped: set[str] = set()
    for row in rows:
        warehouse, material, qty = (str(row[0]), str(row[1]), row[2])
        location = config.location_of(warehouse)
        if location is None:
            unmapped.add(warehouse)
            continue
        lines.append(StockLine(location, config.sku_of(material), _qty(qty, "FBaseQty")))
    return lines, sorted(unmapped)


def costs(config: BackendConfig, rows: list[list[Any]]) -> list[ItemCost]:
    currency = str(config.setting("currency_code", "CNY"))
    return [
        ItemCost(config.sku_of(str(row[0])), Money.of(Decimal(str(row[1] or 0)), currency))
        for row in rows
    ]


def _grouped(
    config: BackendConfig, rows: list[list[Any]], what: str
) -> dict[tuple[str, str], tuple[datetime, list[Line]]]:
    """Rows (bill, approved, warehouse, material, qty) grouped per (bill, location)."""
    groups: dict[tuple[str, str], tuple[datetime, list[Line]]] = {}
    for row in rows:
        if len(row) < 5:
            raise UnreadablePayload(f"a {what} row has {len(row)} fields, not 5")
        bill, approved, warehouse, material, qty = row[:5]
        location = config.location_of(str(warehouse))
        if location is None:
            continue  # a warehouse the hub does not hold stock for
        key = (str(bill), location)
        at = read_time(approved, f"{what} {bill} FApproveDate")
        groups.setdefault(key, (at, []))[1].append(
            Line(config.sku_of(str(material)), _qty(qty, f"{what} {bill} quantity"))
        )
    return groups


def receipts(config: BackendConfig, rows: list[list[Any]]) -> list[InboundReceipt]:
    return [
        InboundReceipt(
            config.code,
            bill,
            location,
            tuple(lines),
            at,
            ReceiptKind.PURCHASE,
            message_id=f"{bill}@{location}",
        )
        for (bill, location), (at, lines) in _grouped(config, rows, PURCHASE_RECEIPT).items()
    ]


def stock_takes(config: BackendConfig, rows: list[list[Any]]) -> list[StockTake]:
    return [
        StockTake(config.code, bill, location, at, tuple(lines), message_id=f"{bill}@{location}")
        for (bill, location), (at, lines) in _grouped(config, rows, STOCK_COUNT).items()
    ]


def approved_since(since: datetime) -> str:
    return f"FDocumentStatus='C' and FApproveDate>={quote(local_text(since))}"
