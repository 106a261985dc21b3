"""ERPNext (Frappe REST) documents ↔ the hub's: pure functions.

Documents are JSON objects with ``doctype``, ``name``, ``docstatus`` (0 draft, 1 submitted,
2 cancelled) and child tables (``items``). Dates are the site's local ``posting_date``
("2026-05-01") and ``posting_time`` ("10:00:00" or "10:00:00.123456").

Errors are HTTP statuses with ``exc_type``: 417 ``ValidationError`` and friends (no retry),
404 ``DoesNotExistError``, 409 ``DuplicateEntryError``, 401/403 ``AuthenticationError`` /
``PermissionError``; ``TimestampMismatchError`` (someone saved the document meanwhile),
``QueryDeadlockError``, ``QueryTimeoutError``, 429 and 5xx may pass and retry.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnihub.adapters.backends.wire import whole_number
from omnihub.adapters.native import field, text
from omnihub.domain.backends import (
    ErpDocState,
    InboundReceipt,
    ItemCost,
    Line,
    ReceiptKind,
    ReturnDoc,
    SalesOrderDoc,
    StockAdjustment,
    StockDocument,
    StockLine,
    StockTake,
)
from omnihub.domain.values import Money
from omnihub.platforms.retry import retryable_status
from omnihub.ports import BackendConfig, CallRefused, UnreadablePayload

SALES_ORDER = "Sales Order"
DELIVERY_NOTE = "Delivery Note"
PURCHASE_RECEIPT = "Purchase Receipt"
STOCK_RECONCILIATION = "Stock Reconciliation"
BIN = "Bin"
ITEM = "Item"

RETRY_EXC_TYPES = frozenset(
    {"TimestampMismatchError", "QueryDeadlockError", "QueryTimeoutError", "RateLimitExceededError"}
)
DOC_STATES = {0: ErpDocState.DRAFT, 1: ErpDocState.CONFIRMED, 2: ErpDocState.CANCELLED}


def resource(doctype: str, name: str | None = None) -> str:
    return f"/api/resource/{doctype}" + (f"/{name}" if name else "")


def zone(config: BackendConfig) -> ZoneInfo:
    name = str(config.settings.get("timezone", "Asia/Shanghai"))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnreadablePayload(f"{config.label}.settings.timezone {name!r} is unknown") from exc


def site_time(config: BackendConfig, moment: datetime) -> str:
    return moment.astimezone(zone(config)).strftime("%Y-%m-%d %H:%M:%S")


def list_params(
    fields: list[str],
    filters: list[list[Any]],
    *,
    start: int = 0,
    page: int = 500,
    order_by: str | None = None,
) -> dict[str, str]:
    params = {
        "fields": json.dumps(fields),
        "filters": json.dumps(filters),
        "limit_start": str(start),
        "limit_page_length": str(page),
    }
    if order_by:
        params["order_by"] = order_by
    return params


def _rate(line: Line) -> float:
    return float(line.unit_price.amount) if line.unit_price is not None else 0.0


def sales_order(config: BackendConfig, doc: SalesOrderDoc) -> dict[str, Any]:
    """A submitted (``docstatus`` 1) Sales Order; ``po_no`` holds our reference."""
    warehouse = config.warehouse_of(doc.location)
    date = site_time(config, doc.ordered_at)[:10]
    body: dict[str, Any] = {
        "doctype": SALES_ORDER,
        "customer": doc.customer or str(config.setting("customer")),
        "po_no": doc.reference,
        "transaction_date": date,
        "delivery_date": date,
        "set_warehouse": warehouse,
        "items": [
            {
                "item_code": config.item_code(line.sku),
                "qty": line.qty,
                "rate": _rate(line),
                "warehouse": warehouse,
                "delivery_date": date,
            }
            for line in doc.lines
        ],
        "docstatus": 1,
    }
    if config.settings.get("company"):
        body["company"] = config.settings["company"]
    if doc.channel:
        body["remarks"] = f"{doc.channel} order {doc.reference}"
    return body


def return_note(config: BackendConfig, doc: ReturnDoc) -> dict[str, Any]:
    """A submitted return Delivery Note: goods come back into the warehouse."""
    warehouse = config.warehouse_of(doc.location)
    return {
        "doctype": DELIVERY_NOTE,
        "customer": str(config.setting("customer")),
        "is_return": 1,
        "po_no": doc.reference,
        "posting_date": site_time(config, doc.returned_at)[:10],
        "set_warehouse": warehouse,
        "remarks": f"return of {doc.order_reference}" + (f": {doc.reason}" if doc.reason else ""),
        "items": [
            {
                "item_code": config.item_code(line.sku),
                "qty": -line.qty,
                "rate": _rate(line),
                "warehouse": warehouse,
            }
            for line in doc.lines
        ],
        "docstatus": 1,
    }


def failure(status: int, body: Any) -> CallRefused:
    """The error of a non-2xx answer."""
    exc_type = str(body.get("exc_type") or "") if isinstance(body, dict) else ""
    message = exc_type or f"HTTP {status}"
    if isinstance(body, dict):
        detail = _server_message(body) or str(body.get("exception") or body.get("message") or "")
        if detail:
            message = f"{message}: {detail}"
    if status in (401, 403) or exc_type in ("AuthenticationError", "PermissionError"):
        return CallRefused(f"erpnext refused our credentials: {message}", retry=False, code="auth")
    retry = retryable_status(status) or exc_type in RETRY_EXC_TYPES
    code = "not_found" if status == 404 else (exc_type or f"http_{status}")
    return CallRefused(f"erpnext: {message}"[:500], retry=retry, code=code)


def _server_message(body: dict[str, Any]) -> str:
    """``_server_messages`` is a JSON list of JSON objects, each with a ``message``."""
    raw = body.get("_server_messages")
    if not isinstance(raw, str):
        return ""
    try:
        return "; ".join(str(json.loads(item).get("message", item)) for item in json.loads(raw))
    except (ValueError, TypeError, AttributeError):
        return raw[:200]


def doc_state(doc: dict[str, Any]) -> ErpDocState:
    return DOC_STATES.get(int(doc.get("docstatus") or 0), ErpDocState.DRAFT)


def snapshot_lines(
    config: BackendConfig, bins: list[dict[str, Any]]
) -> tuple[list[StockLine], list[str]]:
    lines: list[StockLine] = []
    unmapped: set[str] = set()
    for row in bins:
        warehouse = str(row.get("warehouse"))
        location = config.location_of(warehouse)
        if location is None:
            unmapped.add(warehouse)
            continue
        lines.append(
            StockLine(
                location,
                config.sku_of(str(row["item_code"])),
                whole_number(row.get("actual_qty", 0), "Bin actual_qty"),
                whole_number(row.get("reserved_qty", 0), "Bin reserved_qty"),
            )
        )
    return sorted(lines, key=lambda x: (x.location, x.sku)), sorted(unmapped)


def costs(config: BackendConfig, items: list[dict[str, Any]]) -> list[ItemCost]:
    currency = str(config.setting("currency_code", "CNY"))
    return [
        ItemCost(
            config.sku_of(str(row["item_code"])),
            Money.of(Decimal(str(row.get("valuation_rate") or 0)), currency),
        )
        for row in items
    ]


def posted_at(config: BackendConfig, doc: dict[str, Any]) -> datetime:
    date = text(field(doc, "posting_date"))
    time = (text(doc.get("posting_time")) or "00:00:00").split(".")[0]
    try:
        local = datetime.fromisoformat(f"{date}T{time}")
    except ValueError as exc:
        raise UnreadablePayload(f"{doc.get('name')}: {date} {time} is not a posting time") from exc
    return local.replace(tzinfo=zone(config))


def _per_warehouse(
    config: BackendConfig, doc: dict[str, Any], quantity: str
) -> dict[str, list[Line]]:
    items = field(doc, "items")
    if not isinstance(items, list):
        raise UnreadablePayload(f"{doc.get('name')}: items must be a list")
    grouped: dict[str, list[Line]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise UnreadablePayload(f"{doc.get('name')}: an item is not an object")
        warehouse = text(item.get("warehouse")) or text(doc.get("set_warehouse"))
        location = config.location_of(warehouse) if warehouse else None
        if location is None:
            continue  # a warehouse the hub does not keep stock for
        sku = config.sku_of(str(field(item, "item_code")))
        grouped.setdefault(location, []).append(
            Line(sku, whole_number(field(item, quantity), f"{doc.get('name')} {quantity}"))
        )
    return grouped


def documents(config: BackendConfig, doc: dict[str, Any]) -> list[StockDocument]:
    """A submitted Purchase Receipt (receipts; a purchase return as a negative adjustment)
    or Stock Reconciliation (counts) as the hub's documents; drafts, cancelled documents and
    other doctypes give none (a cancelled receipt is left to the nightly compare)."""
    doctype = field(doc, "doctype")
    if doctype not in (PURCHASE_RECEIPT, STOCK_RECONCILIATION):
        return []
    name = str(field(doc, "name"))
    if int(doc.get("docstatus") or 0) != 1:
        return []
    at = posted_at(config, doc)
    out: list[StockDocument] = []
    if doctype == PURCHASE_RECEIPT:
        for location, lines in _per_warehouse(config, doc, "qty").items():
            message_id = f"{name}@{location}"
            if doc.get("is_return"):
                out.append(
                    StockAdjustment(
                        config.code,
                        name,
                        location,
                        at,
                        tuple(lines),
                        reason="purchase_return",
                        message_id=message_id,
                    )
                )
            else:
                out.append(
                    InboundReceipt(
                        config.code,
                        name,
                        location,
                        tuple(lines),
                        at,
                        ReceiptKind.PURCHASE,
                        message_id=message_id,
                    )
                )
    else:
        for location, lines in _per_warehouse(config, doc, "qty").items():
            out.append(
                StockTake(
                    config.code, name, location, at, tuple(lines), message_id=f"{name}@{location}"
                )
            )
    return out
