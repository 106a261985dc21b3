"""Qimen (奇门) WMS XML ↔ the hub's documents: pure functions.

Outbound (hub → WMS) bodies: ``<request><deliveryOrder>...</deliveryOrder><orderLines>
<orderLine>...</orderLine></orderLines></request>`` and the like; answers
``<response><flag>success|failure</flag><code/><message/>...</response>``.

Callbacks (WMS → hub):

- ``deliveryorder.confirm``: ``deliveryOrder`` (``deliveryOrderCode`` ours,
  ``deliveryOrderId`` theirs, ``warehouseCode``, ``status`` DELIVERED / PARTDELIVERED,
  ``outBizCode`` the message id, ``confirmType`` 0 final / 1 intermediate,
  ``orderConfirmTime``), ``packages/package`` (``logisticsCode`` carrier, ``expressCode``
  tracking number, ``items/item`` itemCode + quantity), ``orderLines/orderLine`` (itemCode,
  ``actualQty`` shipped in this message).
- ``entryorder.confirm``: ``entryOrder`` (``entryOrderCode``, ``warehouseCode``,
  ``entryOrderType`` CGRK purchase / DBRK transfer / THRK return / other, ``outBizCode``,
  ``confirmType``, ``operateTime``), ``orderLines/orderLine`` (itemCode, ``inventoryType``,
  ``actualQty``). Only sellable (``ZP``, 正品) lines count; damaged (``CC``) stock is not
  sellable stock.
- ``stockchange.report``: ``items/item`` (warehouseCode, ``orderCode``, ``orderType``,
  ``outBizCode``, itemCode, inventoryType, signed ``quantity``, ``changeTime``): one
  adjustment per (warehouse, order, message), ``reason`` the order type. Changes of order
  types that are also confirmed (JYCK delivery, CGRK entry, ...) are left out: the hub's
  ledger moves on the confirmation (or the shipment) and must not move twice.
- ``inventory.report`` (盘点): ``warehouseCode``, ``checkOrderCode``, ``outBizCode``,
  ``checkTime``, ``adjustType`` CHECK / ADJUST, ``items/item`` with the gain (positive) or
  loss (negative) ``quantity``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from omnihub.adapters.backends.wire import local_text, read_time, whole_number
from omnihub.domain.backends import (
    DeliveryConfirmation,
    InboundReceipt,
    Line,
    OutboundOrder,
    Package,
    ReceiptKind,
    StockAdjustment,
    StockLine,
)
from omnihub.domain.values import Money
from omnihub.ports import BackendConfig, CallRefused, UnreadablePayload

DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
SELLABLE = "ZP"
#: answer codes a later attempt may get past: the gateway's isp.* (service side), limits
RETRY_CODES = frozenset({"SYSTEM_ERROR", "SYSTEM_BUSY", "isv.app-call-limited"})

PLATFORMS = {
    "taobao": "TB",
    "tmall": "TM",
    "jd": "JD",
    "pdd": "PDD",
    "douyin": "DY",
    "pos": "POS",
    "miniapp": "OTHER",
    "shopify": "OTHER",
    "woocommerce": "OTHER",
}
#: stock changes of these order types also come as a confirmation (delivery or entry order) and
#: the hub moves its ledger for those: a ``stockchange.report`` line of one is left out
CONFIRMED_ELSEWHERE = frozenset({"JYCK", "HHCK", "BFCK", "CGRK", "DBRK", "THRK", "B2BRK"})
RECEIPT_KINDS = {
    "CGRK": ReceiptKind.PURCHASE,
    "DBRK": ReceiptKind.TRANSFER,
    "THRK": ReceiptKind.RETURN,
    "B2BRK": ReceiptKind.TRANSFER,
}


# -- XML -------------------------------------------------------------------------------------
Tree = dict[str, Any]
"""An element's children: text values, nested dicts, or lists (repeated elements)."""


def _fill(parent: ET.Element, tree: Tree) -> None:
    for name, value in tree.items():
        if value is None:
            continue
        if isinstance(value, list):
            holder = ET.SubElement(parent, name)
            for child_name, child in value:
                _fill(ET.SubElement(holder, child_name), child)
        elif isinstance(value, dict):
            _fill(ET.SubElement(parent, name), value)
        else:
            ET.SubElement(parent, name).text = str(value)


def to_xml(root: str, tree: Tree) -> bytes:
    element = ET.Element(root)
    _fill(element, tree)
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return DECLARATION + body


def parse(body: bytes, what: str = "body") -> ET.Element:
    """The root element; ``UnreadablePayload`` for anything but plain XML (no DTDs, no
    entities: the parser must not be asked to expand anything)."""
    head = body[:2048].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in body.upper():
        raise UnreadablePayload(f"the {what} declares a DTD or entities; refused")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise UnreadablePayload(f"the {what} is not XML: {exc}") from exc


def text(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def required(element: ET.Element | None, path: str, what: str) -> str:
    value = text(element, path)
    if value is None:
        raise UnreadablePayload(f"the {what} has no {path}")
    return value


# -- hub → WMS -----------------------------------------------------------------------------------
def delivery_order(config: BackendConfig, order: OutboundOrder) -> bytes:
    owner = str(config.setting("owner_code"))
    created = local_text(order.created_at)
    receiver = order.receiver
    return to_xml(
        "request",
        {
            "deliveryOrder": {
                "deliveryOrderCode": order.reference,
                "orderType": config.setting("order_type", "JYCK"),
                "warehouseCode": config.warehouse_of(order.location),
                "sourcePlatformCode": PLATFORMS.get(order.channel or "", "OTHER"),
                "createTime": created,
                "placeOrderTime": created,
                "operateTime": created,
                "shopNick": config.setting("shop_nick", config.code),
                "logisticsCode": order.carrier or "OTHER",
                "receiverInfo": {
                    "name": receiver.name,
                    "mobile": receiver.phone,
                    "province": receiver.province,
                    "city": receiver.city,
                    "area": receiver.district,
                    "detailAddress": receiver.address,
                    "zipCode": receiver.postcode,
                },
                "remark": order.remark or f"order {order.order_reference}",
            },
            "orderLines": [
                (
                    "orderLine",
                    {
                        "orderLineNo": str(number),
                        "ownerCode": owner,
                        "itemCode": config.item_code(line.sku),
                        "inventoryType": SELLABLE,
                        "planQty": line.qty,
                        # required by the interface: a line the hub has no price for is free
                        "actualPrice": str(
                            line.unit_price if line.unit_price is not None else Money.of("0")
                        ),
                    },
                )
                for number, line in enumerate(order.lines, start=1)
            ],
        },
    )


def order_cancel(config: BackendConfig, reference: str, location: str) -> bytes:
    return to_xml(
        "request",
        {
            "warehouseCode": config.warehouse_of(location),
            "ownerCode": config.setting("owner_code"),
            "orderCode": reference,
            "orderType": config.setting("order_type", "JYCK"),
            "cancelReason": "cancelled by the hub",
        },
    )


def inventory_query(config: BackendConfig, location: str, skus: Sequence[str]) -> bytes:
    warehouse = config.warehouse_of(location)
    owner = config.setting("owner_code")
    return to_xml(
        "request",
        {
            "criteriaList": [
                (
                    "criteria",
                    {
                        "warehouseCode": warehouse,
                        "ownerCode": owner,
                        "itemCode": config.item_code(sku),
                        "inventoryType": SELLABLE,
                    },
                )
                for sku in skus
            ]
        },
    )


def read_response(body: bytes) -> ET.Element:
    """The ``<response>``; ``CallRefused`` when its flag is not success."""
    try:
        root = parse(body, "answer")
    except UnreadablePayload as exc:
        raise CallRefused(f"qimen: {exc.message}", retry=True, code="bad_answer") from exc
    flag = text(root, "flag")
    if flag == "success":
        return root
    code = text(root, "code") or "failure"
    message = text(root, "message") or "the WMS refused the call"
    retry = code in RETRY_CODES or code.startswith("isp.")
    raise CallRefused(f"qimen: {code}: {message}", retry=retry, code=code)


def snapshot_lines(config: BackendConfig, root: ET.Element) -> tuple[list[StockLine], list[str]]:
    totals: dict[tuple[str, str], list[int]] = {}
    unmapped: set[str] = set()
    for item in root.iterfind("items/item"):
        if (text(item, "inventoryType") or SELLABLE) != SELLABLE:
            continue
        warehouse = required(item, "warehouseCode", "inventory item")
        location = config.location_of(warehouse)
        if location is None:
            unmapped.add(warehouse)
            continue
        sku = config.sku_of(required(item, "itemCode", "inventory item"))
        entry = totals.setdefault((location, sku), [0, 0])
        entry[0] += whole_number(required(item, "quantity", "inventory item"), "quantity")
        entry[1] += whole_number(text(item, "lockQuantity") or 0, "lockQuantity")
    lines = [StockLine(loc, sku, qty, locked) for (loc, sku), (qty, locked) in totals.items()]
    return sorted(lines, key=lambda x: (x.location, x.sku)), sorted(unmapped)


# -- WMS → hub ---------------------------------------------------------------------------------
def method_name(value: str | None) -> str:
    """``taobao.qimen.deliveryorder.confirm`` or ``deliveryorder.confirm`` → the latter."""
    name = (value or "").strip()
    return name.removeprefix("taobao.qimen.")


def _location(config: BackendConfig, warehouse: str) -> str:
    location = config.location_of(warehouse)
    if location is None:
        raise UnreadablePayload(
            f"warehouse {warehouse} is not mapped in {config.label}.warehouses; the message is "
            "kept until it is"
        )
    return location


def _summed(config: BackendConfig, pairs: list[tuple[str, int]]) -> tuple[Line, ...]:
    totals: dict[str, int] = {}
    for code, qty in pairs:
        sku = config.sku_of(code)
        totals[sku] = totals.get(sku, 0) + qty
    return tuple(Line(sku, qty) for sku, qty in totals.items() if qty)


def _when(value: str | None, fallback: datetime | None, what: str) -> datetime:
    if value is None:
        if fallback is None:
            raise UnreadablePayload(f"the {what} has no time")
        return fallback
    return read_time(value, what)


def delivery_confirmation(
    config: BackendConfig, root: ET.Element, received_at: datetime | None = None
) -> DeliveryConfirmation:
    header = root.find("deliveryOrder")
    if header is None:
        raise UnreadablePayload("deliveryorder.confirm has no deliveryOrder")
    code = required(header, "deliveryOrderCode", "deliveryOrder")
    location = _location(config, required(header, "warehouseCode", "deliveryOrder"))
    final = (text(header, "confirmType") or "0") != "1"
    lines = _summed(
        config,
        [
            (
                required(line, "itemCode", "orderLine"),
                whole_number(required(line, "actualQty", "orderLine"), "actualQty"),
            )
            for line in root.iterfind("orderLines/orderLine")
        ],
    )
    packages = []
    for package in root.iterfind("packages/package"):
        packages.append(
            Package(
                carrier=required(package, "logisticsCode", "package"),
                tracking_number=required(package, "expressCode", "package"),
                lines=_summed(
                    config,
                    [
                        (
                            required(item, "itemCode", "package item"),
                            whole_number(required(item, "quantity", "package item"), "quantity"),
                        )
                        for item in package.iterfind("items/item")
                    ],
                ),
            )
        )
    if not packages and text(header, "expressCode"):
        packages.append(
            Package(
                required(header, "logisticsCode", "deliveryOrder"),
                required(header, "expressCode", "deliveryOrder"),
                lines,
            )
        )
    if not packages:
        raise UnreadablePayload(
            f"deliveryorder.confirm {code} has no package with an expressCode (tracking number)"
        )
    if not lines:  # some WMSs only list the packages' items
        lines = _summed(
            config,
            [
                (config.item_code(line.sku), line.qty)
                for package in packages
                for line in package.lines
            ],
        )
    message_id = text(header, "outBizCode") or (
        f"{code}:{'final' if final else 'part'}:" + ",".join(p.tracking_number for p in packages)
    )
    return DeliveryConfirmation(
        source=config.code,
        reference=code,
        external_id=text(header, "deliveryOrderId"),
        location=location,
        message_id=message_id,
        final=final,
        confirmed_at=_when(
            text(header, "orderConfirmTime") or text(header, "operateTime"),
            received_at,
            "deliveryOrder",
        ),
        lines=lines,
        packages=tuple(packages),
        status=text(header, "status") or ("DELIVERED" if final else "PARTDELIVERED"),
    )


def entry_confirmation(
    config: BackendConfig, root: ET.Element, received_at: datetime | None = None
) -> InboundReceipt:
    header = root.find("entryOrder")
    if header is None:
        raise UnreadablePayload("entryorder.confirm has no entryOrder")
    code = required(header, "entryOrderCode", "entryOrder")
    location = _location(config, required(header, "warehouseCode", "entryOrder"))
    final = (text(header, "confirmType") or "0") != "1"
    lines = _summed(
        config,
        [
            (
                required(line, "itemCode", "orderLine"),
                whole_number(required(line, "actualQty", "orderLine"), "actualQty"),
            )
            for line in root.iterfind("orderLines/orderLine")
            if (text(line, "inventoryType") or SELLABLE) == SELLABLE
        ],
    )
    return InboundReceipt(
        source=config.code,
        reference=code,
        location=location,
        lines=lines,
        received_at=_when(text(header, "operateTime"), received_at, "entryOrder"),
        kind=RECEIPT_KINDS.get(text(header, "entryOrderType") or "", ReceiptKind.OTHER),
        message_id=text(header, "outBizCode") or f"{code}:{'final' if final else 'part'}",
        final=final,
    )


def stock_changes(
    config: BackendConfig, root: ET.Element, received_at: datetime | None = None
) -> list[StockAdjustment]:
    groups: dict[tuple[str, str, str, str], tuple[datetime, list[tuple[str, int]]]] = {}
    for item in root.iterfind("items/item"):
        if (text(item, "inventoryType") or SELLABLE) != SELLABLE:
            continue
        if (text(item, "orderType") or "") in CONFIRMED_ELSEWHERE:
            continue
        location = _location(config, required(item, "warehouseCode", "stockchange item"))
        order = required(item, "orderCode", "stockchange item")
        key = (
            location,
            order,
            text(item, "orderType") or "adjustment",
            text(item, "outBizCode") or order,
        )
        at = _when(text(item, "changeTime"), received_at, "stockchange item")
        groups.setdefault(key, (at, []))[1].append(
            (
                required(item, "itemCode", "stockchange item"),
                whole_number(required(item, "quantity", "stockchange item"), "quantity"),
            )
        )
    return [
        StockAdjustment(
            config.code,
            order,
            location,
            at,
            _summed(config, pairs),
            reason=kind,
            message_id=message,
        )
        for (location, order, kind, message), (at, pairs) in groups.items()
    ]


def inventory_report(
    config: BackendConfig, root: ET.Element, received_at: datetime | None = None
) -> StockAdjustment:
    location = _location(config, required(root, "warehouseCode", "inventory.report"))
    code = required(root, "checkOrderCode", "inventory.report")
    adjust = (text(root, "adjustType") or "CHECK").upper()
    pairs = [
        (
            required(item, "itemCode", "inventory.report item"),
            whole_number(required(item, "quantity", "inventory.report item"), "quantity"),
        )
        for item in root.iterfind("items/item")
        if (text(item, "inventoryType") or SELLABLE) == SELLABLE
    ]
    return StockAdjustment(
        config.code,
        code,
        location,
        _when(text(root, "checkTime"), received_at, "inventory.report"),
        _summed(config, pairs),
        reason="stocktake" if adjust == "CHECK" else "adjustment",
        message_id=text(root, "outBizCode") or code,
    )


def response(flag: bool, code: str = "0", message: str = "ok") -> bytes:
    return to_xml(
        "response", {"flag": "success" if flag else "failure", "code": code, "message": message}
    )
