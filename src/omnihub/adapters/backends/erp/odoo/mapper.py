"""Odoo external API (JSON-RPC) documents ↔ the hub's: pure functions.

Every call is ``POST /jsonrpc`` with ``{"jsonrpc": "2.0", "method": "call", "params":
{"service": ..., "method": ..., "args": [...]}, "id": n}``: ``common.login(db, login,
password)`` gives the uid; ``object.execute_kw(db, uid, password, model, method, args,
kwargs)`` does the rest. Answers are ``{"result": ...}`` or ``{"error": {"code", "message",
"data": {"name": "odoo.exceptions.UserError", "message": ...}}}``.

Models and fields used (Odoo 17): ``sale.order`` (``client_order_ref`` holds our reference,
``partner_id``, ``warehouse_id``, ``date_order`` in UTC, ``order_line`` as ``(0, 0, vals)``
commands with ``product_id``, ``product_uom_qty``, ``price_unit``; ``state`` draft, sent,
sale, done, cancel); ``product.product`` (``default_code`` is the item code,
``standard_price`` the cost); ``stock.warehouse`` (``code`` is the warehouse code the config
maps, ``lot_stock_id``, ``in_type_id``); ``stock.quant`` (``quantity``,
``reserved_quantity``, ``location_id``, ``warehouse_id``); ``stock.move`` (done moves since a
time: receipts have ``picking_code`` incoming, inventory adjustments ``is_inventory``;
``quantity``); ``stock.location`` (``usage``, ``warehouse_id``); ``stock.picking`` (a return
is an incoming picking whose ``origin`` is our return reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from omnihub.adapters.backends.wire import whole_number
from omnihub.domain.backends import (
    ErpDocState,
    InboundReceipt,
    ItemCost,
    Line,
    ReceiptKind,
    SalesOrderDoc,
    StockAdjustment,
    StockDocument,
    StockLine,
)
from omnihub.domain.values import Money
from omnihub.ports import BackendConfig, CallRefused, UnreadablePayload

ODOO_TIME = "%Y-%m-%d %H:%M:%S"

#: error names a later attempt may get past (a concurrent update, the database restarting)
RETRY_ERRORS = frozenset(
    {
        "psycopg2.errors.SerializationFailure",
        "psycopg2.errors.LockNotAvailable",
        "psycopg2.OperationalError",
        "odoo.exceptions.ConcurrencyError",
    }
)
AUTH_ERRORS = frozenset({"odoo.exceptions.AccessDenied", "odoo.exceptions.AccessError"})

SALE_STATES = {
    "draft": ErpDocState.DRAFT,
    "sent": ErpDocState.DRAFT,
    "sale": ErpDocState.CONFIRMED,
    "done": ErpDocState.CONFIRMED,
    "cancel": ErpDocState.CANCELLED,
}


def rpc(service: str, method: str, args: list[Any], call_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": service, "method": method, "args": args},
        "id": call_id,
    }


def login(config: BackendConfig) -> dict[str, Any]:
    return rpc(
        "common",
        "login",
        [config.credential("db"), config.credential("login"), config.credential("password")],
    )


def execute_kw(
    config: BackendConfig,
    uid: int,
    model: str,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return rpc(
        "object",
        "execute_kw",
        [
            config.credential("db"),
            uid,
            config.credential("password"),
            model,
            method,
            args,
            kwargs or {},
        ],
    )


def read_result(body: Any) -> Any:
    """The ``result``, or ``CallRefused`` for the JSON-RPC error."""
    if not isinstance(body, dict) or ("result" not in body and "error" not in body):
        raise CallRefused(f"odoo answered {str(body)[:200]}", retry=True, code="bad_answer")
    error = body.get("error")
    if error is None:
        return body["result"]
    data = error.get("data") if isinstance(error, dict) else None
    name = str((data or {}).get("name") or "")
    message = str((data or {}).get("message") or (error or {}).get("message") or error)
    if name in AUTH_ERRORS:
        raise CallRefused(f"odoo refused our credentials: {message}", retry=False, code="auth")
    short = name.rsplit(".", 1)[-1] or "error"
    raise CallRefused(f"odoo: {short}: {message}", retry=name in RETRY_ERRORS, code=short)


def read_uid(result: Any) -> int:
    if isinstance(result, bool) or not isinstance(result, int):
        raise CallRefused(
            "odoo refused the login (wrong database, login or password)", retry=False, code="auth"
        )
    return result


def odoo_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ODOO_TIME)


def from_odoo_time(value: Any, what: str) -> datetime:
    try:
        return datetime.strptime(str(value), ODOO_TIME).replace(tzinfo=UTC)
    except ValueError as exc:
        raise UnreadablePayload(f"{what} {value!r} is not an Odoo time") from exc


def many2one_id(value: Any, what: str) -> int:
    """``[id, "display name"]`` (or a bare id) as the id."""
    if isinstance(value, list | tuple) and value:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnreadablePayload(f"{what} {value!r} is not a record reference")
    return value


def order_values(
    config: BackendConfig, doc: SalesOrderDoc, warehouse_id: int, products: dict[str, int]
) -> dict[str, Any]:
    """``sale.order`` create values; ``products`` maps item codes to ``product.product`` ids."""
    partner = doc.customer or config.setting("customer")
    return {
        "partner_id": int(partner),
        "client_order_ref": doc.reference,
        "warehouse_id": warehouse_id,
        "date_order": odoo_time(doc.ordered_at),
        "note": doc.note or (f"{doc.channel} order {doc.reference}" if doc.channel else False),
        "order_line": [
            [
                0,
                0,
                {
                    "product_id": products[config.item_code(line.sku)],
                    "product_uom_qty": line.qty,
                    "price_unit": float(line.unit_price.amount) if line.unit_price else 0.0,
                },
            ]
            for line in doc.lines
        ],
    }


def return_values(
    config: BackendConfig,
    reference: str,
    order_reference: str,
    lines: Sequence[Line],
    picking_type_id: int,
    customer_location_id: int,
    stock_location_id: int,
    products: dict[str, int],
) -> dict[str, Any]:
    """An incoming ``stock.picking`` bringing returned goods from the customer location."""
    return {
        "picking_type_id": picking_type_id,
        "partner_id": int(config.setting("customer")),
        "origin": reference,
        "location_id": customer_location_id,
        "location_dest_id": stock_location_id,
        "move_ids": [
            [
                0,
                0,
                {
                    "name": f"Return {order_reference}",
                    "product_id": products[config.item_code(line.sku)],
                    "product_uom_qty": line.qty,
                    "location_id": customer_location_id,
                    "location_dest_id": stock_location_id,
                },
            ]
            for line in lines
        ],
    }


def products_by_code(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {str(row["default_code"]): int(row["id"]) for row in rows if row.get("default_code")}


def snapshot_lines(
    config: BackendConfig,
    quants: list[dict[str, Any]],
    codes: dict[int, str],
    warehouses: dict[int, str],
) -> tuple[list[StockLine], list[str]]:
    """Quants as lines per (location, SKU), and the warehouse codes the config leaves out."""
    totals: dict[tuple[str, str], list[int]] = {}
    unmapped: set[str] = set()
    for quant in quants:
        if not quant.get("warehouse_id"):
            continue  # an internal location outside any warehouse
        warehouse = warehouses.get(many2one_id(quant["warehouse_id"], "stock.quant warehouse"))
        location = config.location_of(warehouse) if warehouse else None
        if location is None:
            unmapped.add(warehouse or "?")
            continue
        code = codes.get(many2one_id(quant["product_id"], "stock.quant product_id"))
        if code is None:
            continue
        entry = totals.setdefault((location, config.sku_of(code)), [0, 0])
        entry[0] += whole_number(quant.get("quantity", 0), "stock.quant quantity")
        entry[1] += whole_number(quant.get("reserved_quantity", 0), "reserved_quantity")
    lines = [
        StockLine(loc, sku, qty, reserved) for (loc, sku), (qty, reserved) in sorted(totals.items())
    ]
    return lines, sorted(unmapped)


def costs(config: BackendConfig, rows: list[dict[str, Any]]) -> list[ItemCost]:
    currency = str(config.setting("currency_code", "CNY"))
    return [
        ItemCost(
            config.sku_of(str(row["default_code"])),
            Money.of(Decimal(str(row.get("standard_price") or 0)), currency),
        )
        for row in rows
        if row.get("default_code")
    ]


def stock_documents(
    config: BackendConfig,
    moves: list[dict[str, Any]],
    locations: dict[int, dict[str, Any]],
    codes: dict[int, str],
    warehouses: dict[int, str],
) -> list[StockDocument]:
    """Done moves as documents: receipts per (picking, location); inventory adjustments as
    signed stocktake adjustments, one per move."""
    receipts: dict[tuple[str, str], tuple[datetime, list[Line]]] = {}
    counts: dict[tuple[str, str], tuple[datetime, list[Line]]] = {}
    for move in moves:
        source = locations.get(many2one_id(move["location_id"], "stock.move location_id"), {})
        dest = locations.get(many2one_id(move["location_dest_id"], "location_dest_id"), {})
        inbound = dest.get("usage") == "internal"
        where = dest if inbound else source
        warehouse_ref = where.get("warehouse_id")
        warehouse = (
            warehouses.get(many2one_id(warehouse_ref, "warehouse")) if warehouse_ref else None
        )
        location = config.location_of(warehouse) if warehouse else None
        code = codes.get(many2one_id(move["product_id"], "stock.move product_id"))
        if location is None or code is None:
            continue
        qty = whole_number(move.get("quantity", 0), f"stock.move {move.get('id')} quantity")
        at = from_odoo_time(move.get("date"), f"stock.move {move.get('id')} date")
        reference = str(move.get("reference") or move.get("id"))
        line = Line(config.sku_of(code), qty if inbound else -qty)
        if move.get("is_inventory"):
            # adjustments share a label ("Product Quantity Updated"): the move is the document
            counts[(f"stock.move:{move.get('id')}", location)] = (at, [line])
        elif inbound:
            receipts.setdefault((reference, location), (at, []))[1].append(line)
    documents: list[StockDocument] = [
        InboundReceipt(
            config.code, ref, loc, tuple(lines), at, ReceiptKind.PURCHASE, message_id=f"{ref}@{loc}"
        )
        for (ref, loc), (at, lines) in receipts.items()
    ]
    documents.extend(
        StockAdjustment(
            config.code, ref, loc, at, tuple(lines), reason="stocktake", message_id=f"{ref}@{loc}"
        )
        for (ref, loc), (at, lines) in counts.items()
    )
    return documents
