"""饿了么 (Eleme) payloads ↔ the hub's canonical order: pure functions and tables.

Native shapes read here:

* the push envelope ``{"requestId", "type", "appId", "message", "shopId", "timestamp",
  "signature", "userId"}``; ``message`` is JSON text whose shape depends on ``type``;
* type 10 (订单生效, an order became effective): ``message`` is the whole order (``OOrder``):
  ``id``/``orderId``, ``shopId``, ``groups[].items[]``, fees, amounts in yuan, ``consignee``,
  ``phoneList``, ``deliveryGeo`` ("lon,lat"), local times without an offset (Asia/Shanghai),
  ``status`` and ``refundStatus``;
* types 12-18 (state changes) and 20-36 (cancel and refund requests): ``message`` names the
  order (``orderId``) and its new ``state``/``refundStatus``, not the order itself, so the
  order is fetched in full (``eleme.order.getOrder``) and read from the platform's answer;
* the platform's API answer ``{"id", "result", "error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from omnihub.adapters.native import local_time, masked_fields, money, quantity, text
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Address, Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.platforms.regions import region
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

S = OrderStatus

# -- order status (OOrder.status) and refund status (OOrder.refundStatus) --------------------

#: native status -> (meaning on the platform, canonical status)
ORDER_STATUS: dict[str, tuple[str, OrderStatus]] = {
    "pending": ("未生效订单 (not effective yet: not paid)", S.CREATED),
    "unprocessed": ("未处理订单 (effective, waiting for the shop to accept)", S.PAID),
    "refunding": ("退单处理中 (a cancel or refund request is open)", S.PAID),
    "valid": ("已处理的有效订单 (accepted by the shop)", S.PAID),
    "invalid": ("无效订单 (cancelled)", S.CANCELLED),
    "settled": ("已完成订单 (completed)", S.COMPLETED),
}
TO_CANONICAL: dict[str, OrderStatus] = {code: status for code, (_, status) in ORDER_STATUS.items()}
#: canonical -> the native status the platform shows for it (REFUNDED: a completed order whose
#: refund succeeded; the hub's fulfilment steps have no status of their own on the platform)
TO_NATIVE: dict[OrderStatus, str] = {
    S.CREATED: "pending",
    S.PAID: "valid",
    S.ALLOCATED: "valid",
    S.RELEASED: "valid",
    S.PICKED: "valid",
    S.SHIPPED: "valid",
    S.DELIVERED: "valid",
    S.COMPLETED: "settled",
    S.CANCELLED: "invalid",
    S.REFUNDED: "settled",
}
#: what the type-10 message announces when its body carries no status (older doc samples)
EFFECTIVE = "unprocessed"


class Refund(StrEnum):
    NONE = "none"
    OPEN = "open"
    """the buyer asked to cancel or to be refunded and nobody has decided yet"""
    CLOSED = "closed"
    """refused or failed: the order stands"""
    DONE = "done"


#: native refundStatus -> (meaning, what it means for the hub)
REFUND_STATUS: dict[str, tuple[str, Refund]] = {
    "noRefund": ("未申请退单 (no request)", Refund.NONE),
    "applied": ("用户申请退单 (requested)", Refund.OPEN),
    "rejected": ("店铺拒绝退单 (refused by the shop)", Refund.CLOSED),
    "arbitrating": ("客服仲裁中 (in arbitration)", Refund.OPEN),
    "failed": ("退单失败 (failed)", Refund.CLOSED),
    "successful": ("退单成功 (refunded)", Refund.DONE),
}


def _lookup(table: dict[str, Any], value: Any, what: str) -> str:
    """The table's key for ``value``, compared without case (the SDK enums are upper-case)."""
    if isinstance(value, str):
        for key in table:
            if key.lower() == value.strip().lower():
                return key
    raise UnknownChannelStatus(f"eleme {what}", value)


def canonical(status: Any, refund_status: Any) -> tuple[OrderStatus, bool]:
    """The hub's status for an order's ``status`` and ``refundStatus``, and whether a refund
    (or cancel) request is open."""
    native = _lookup(ORDER_STATUS, EFFECTIVE if status is None else status, "order status")
    refund = REFUND_STATUS[
        _lookup(
            REFUND_STATUS, "noRefund" if refund_status is None else refund_status, "refund status"
        )
    ][1]
    result = TO_CANONICAL[native]
    if result is S.COMPLETED and refund is Refund.DONE:
        return S.REFUNDED, False
    open_request = native == "refunding" or refund is Refund.OPEN
    return result, open_request and result in (S.CREATED, S.PAID)


# -- pushed messages -------------------------------------------------------------------------

ORDER_EFFECTIVE = 10
#: types whose ``message`` is only an id and a new state: the order is fetched in full
STATE_MESSAGES: dict[int, str] = {
    12: "商户接单 (the shop accepted)",
    14: "订单被取消 (cancelled before acceptance)",
    15: "订单置为无效 (made invalid)",
    17: "订单强制无效 (forced invalid)",
    18: "订单完结 (completed)",
    20: "用户申请取消单 (the buyer asks to cancel)",
    21: "用户取消取消单申请 (cancel request withdrawn)",
    22: "商户拒绝取消单 (the shop refused the cancel request)",
    23: "商户同意取消单 (the shop agreed to cancel)",
    24: "用户申请仲裁取消单 (cancel request taken to arbitration)",
    25: "客服仲裁取消单申请有效 (arbitration: cancel granted)",
    26: "客服仲裁取消单申请无效 (arbitration: cancel refused)",
    30: "用户申请退单 (the buyer asks for a refund)",
    31: "用户取消退单 (refund request withdrawn)",
    32: "商户拒绝退单 (the shop refused the refund)",
    33: "商户同意退单 (the shop agreed to refund)",
    34: "用户申请仲裁退单 (refund taken to arbitration)",
    35: "客服仲裁退单有效 (arbitration: refund granted)",
    36: "客服仲裁退单无效 (arbitration: refund refused)",
}
#: types the hub reads and does nothing with, and why
IGNORED_MESSAGES: dict[range, str] = {
    range(45, 47): "a hurry-up reminder (催单) and its reply: nothing changes in the order",
    range(51, 77): "a delivery state of the platform's rider: the hub does not track it",
}


@dataclass(frozen=True, slots=True)
class Envelope:
    request_id: str
    type: int
    shop_id: str
    timestamp: datetime
    message: dict[str, Any]


def read_envelope(body: bytes) -> dict[str, Any]:
    """The pushed JSON object, or ``UnreadablePayload`` saying why not."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadablePayload(f"the pushed envelope is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise UnreadablePayload("the pushed envelope must be a JSON object")
    return parsed


def envelope(raw: dict[str, Any]) -> Envelope:
    request_id = text(raw.get("requestId"))
    if request_id is None:
        raise UnreadablePayload("the envelope has no requestId")
    try:
        kind = int(str(raw.get("type")))
    except (TypeError, ValueError):
        raise UnreadablePayload(
            f"the envelope's type {raw.get('type')!r} is not a number"
        ) from None
    message = raw.get("message")
    if not isinstance(message, str):
        raise UnreadablePayload("the envelope's message must be JSON text")
    try:
        body = json.loads(message) if message.strip() else {}
    except ValueError as exc:
        raise UnreadablePayload(f"message of type {kind} is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise UnreadablePayload(f"message of type {kind} is not a JSON object")
    return Envelope(
        request_id, kind, text(raw.get("shopId")) or "", sent_at(raw.get("timestamp")), body
    )


def sent_at(value: Any) -> datetime:
    """The envelope's ``timestamp`` (Unix milliseconds)."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        raise UnreadablePayload(f"the envelope's timestamp {value!r} is not a time") from None


def ignored_reason(kind: int) -> str:
    for types, why in IGNORED_MESSAGES.items():
        if kind in types:
            return f"type {kind}: {why}"
    return f"type {kind}: not an order, cancel or refund message"


def order_named(message: dict[str, Any], kind: int) -> str:
    order_id = text(message.get("orderId")) or text(message.get("id"))
    if order_id is None:
        raise UnreadablePayload(f"message of type {kind} names no orderId")
    return order_id


# -- the order -------------------------------------------------------------------------------


def to_order(
    channel: str,
    shops: dict[str, str],
    native: dict[str, Any],
    raw: str,
    *,
    updated_at: datetime | None = None,
) -> IngestOrder:
    """An ``OOrder`` (or the platform's answer to ``eleme.order.getOrder``) as the hub's order.

    ``updated_at`` is when the platform last changed the order: a getOrder answer is the order
    as it stood when the hub asked (the request time the answer's ``id`` carries); a type-10
    body is the order as it became effective (``activeAt``)."""
    if "result" in native and "id" in native:  # an API answer: the order is its result
        asked_at = request_time(native.get("id"))
        native = native["result"] if isinstance(native.get("result"), dict) else {}
        updated_at = updated_at or asked_at
    order_id = text(native.get("orderId")) or text(native.get("id"))
    if order_id is None:
        raise UnreadablePayload("the order has neither orderId nor id")
    status, refund_requested = canonical(native.get("status"), native.get("refundStatus"))
    shop_id = text(native.get("shopId"))
    location = shops.get(shop_id or "")
    if location is None:
        raise UnreadablePayload(
            f"order {order_id} is for shop {shop_id}, which is not one of this channel's shops "
            f"(credentials.shops maps the platform's shop ids to the hub's stores)"
        )
    lines, fees = _lines(order_id, native.get("groups"))
    created_at = local_time(native.get("createdAt") or native.get("activeAt"))
    active = native.get("activeAt")
    active_at = local_time(active) if active else created_at
    online_paid = native.get("onlinePaid")
    cod = online_paid is False
    package_fee = native.get("packageFee")
    packing = money(package_fee) if package_fee is not None else fees
    total = money(native.get("totalPrice"))
    payment = None
    if not cod and status is not S.CREATED:
        payment = Payment(
            provider="eleme", transaction_id=order_id, amount=total, paid_at=active_at
        )
    return IngestOrder(
        channel=channel,
        external_id=order_id,
        status=status,
        created_at=created_at,
        updated_at=updated_at or active_at,
        delivery=DeliveryMode.SAME_DAY,
        lines=lines,
        buyer=_buyer(native),
        ship_to=_address(native),
        pickup_location=location,
        shipping_fee=money(native.get("deliverFee")) + packing,
        total=total,
        payment=payment,
        remark=text(native.get("description")) or "",
        cod=cod,
        refund_requested=refund_requested,
        raw=raw,
    )


def request_time(request_id: Any) -> datetime | None:
    """The time in an API request id ``<uuid>|<Unix ms>`` (the SDKs' format, echoed back as
    the answer's ``id``)."""
    _, _, millis = str(request_id or "").rpartition("|")
    if not millis.isdigit():
        return None
    return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)


GOODS, FEES = "normal", "extra"


def _lines(order_id: str, groups: Any) -> tuple[list[IncomingLine], Money]:
    """Goods lines of the ``normal`` baskets; the ``extra`` basket holds fees (餐盒费)."""
    if not isinstance(groups, list) or not groups:
        raise UnreadablePayload(f"order {order_id} has no groups")
    lines: list[IncomingLine] = []
    fees = Money.of("0")
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("items"), list):
            raise UnreadablePayload(f"order {order_id}: a group has no items")
        kind = str(group.get("type") or GOODS).lower()
        if kind not in (GOODS, FEES):
            raise UnreadablePayload(
                f"order {order_id}: group {group.get('name')!r} has type {group.get('type')!r}, "
                "neither normal (goods) nor extra (fees)"
            )
        for item in group["items"]:
            if not isinstance(item, dict):
                raise UnreadablePayload(f"order {order_id}: an item is not an object")
            if kind == FEES:
                fees = fees + _item_total(item)
                continue
            lines.append(_line(order_id, item))
    if not lines:
        raise UnreadablePayload(f"order {order_id} has no goods, only fees")
    return lines, fees


def _item_total(item: dict[str, Any]) -> Money:
    if item.get("total") is not None:
        return money(item["total"])
    return money(item.get("price")).times(quantity(item.get("quantity")))


def _line(order_id: str, item: dict[str, Any]) -> IncomingLine:
    identity = line_identity(item)
    if identity is None:
        raise UnreadablePayload(f"order {order_id}: an item has no extendCode, skuId or id")
    qty = quantity(item.get("quantity"))
    unit = money(item.get("price"))
    gross = unit.times(qty)
    paid = _item_total(item)
    discount = gross - paid if paid.amount < gross.amount else Money.of("0")
    return IncomingLine(channel_sku=identity, qty=qty, unit_price=unit, discount=discount)


def line_identity(item: dict[str, Any]) -> str | None:
    """The channel SKU of an item: the merchant's code (``extendCode``) when the shop set
    one, else the platform's spec id (``skuId``; -1 or 0 means none), else the item ``id``."""
    code = text(item.get("extendCode"))
    if code:
        return code
    sku_id = text(item.get("skuId"))
    if sku_id and sku_id not in ("-1", "0"):
        return sku_id
    return text(item.get("id"))


def _buyer(native: dict[str, Any]) -> Buyer:
    name = text(native.get("consignee"))
    phone = _phone(native)
    return Buyer(
        channel_buyer_id=text(native.get("userIdStr")) or text(native.get("userId")),
        name=name,
        phone=phone,
        masked=masked_fields(name=name, phone=phone),
    )


def _phone(native: dict[str, Any]) -> str | None:
    """The first number of ``phoneList``; a privacy number ("13800000000,1234") or a masked
    one ("138****1234") is kept exactly as given."""
    for key in ("phoneList", "consigneePhones"):
        phones = native.get(key)
        if isinstance(phones, list):
            for phone in phones:
                if text(phone):
                    return text(phone)
    return None


def _address(native: dict[str, Any]) -> Address:
    name = text(native.get("consignee"))
    phone = _phone(native)
    street = text(native.get("address")) or text(native.get("deliveryPoiAddress"))
    lon, lat = geo(native.get("deliveryGeo"))
    province, city, district = region(street)
    return Address(
        name=name,
        phone=phone,
        province=province,
        city=city,
        district=district,
        address=street,
        lat=lat,
        lon=lon,
        masked=masked_fields(name=name, phone=phone, address=street),
    )


def geo(value: Any) -> tuple[float | None, float | None]:
    """``deliveryGeo`` "longitude,latitude" (the platform's GCJ-02 coordinates)."""
    parts = str(value or "").split(",")
    if len(parts) != 2:
        return None, None
    try:
        return float(Decimal(parts[0].strip())), float(Decimal(parts[1].strip()))
    except ArithmeticError:
        return None, None


# -- calls to the platform -------------------------------------------------------------------

#: answer error codes (the SDKs' exception table) -> (meaning, whether a retry may work)
ERROR_CODES: dict[str, tuple[str, bool]] = {
    "SERVER_ERROR": ("platform error", True),
    "EXCEED_LIMIT": ("call rate limit exceeded", True),
    "ILLEGAL_REQUEST": ("malformed request", False),
    "UNAUTHORIZED": ("the token is not valid", False),
    "ACCESS_DENIED": ("access denied", False),
    "METHOD_NOT_ALLOWED": ("the action is not allowed", False),
    "PERMISSION_DENIED": ("the app may not call this action", False),
    "INVALID_SIGNATURE": ("wrong signature", False),
    "INVALID_TIMESTAMP": ("timestamp out of range", False),
    "VALIDATION_FAILED": ("a parameter is not valid", False),
}


@dataclass(frozen=True, slots=True)
class Answer:
    request_id: str | None
    result: Any
    error_code: str | None
    error_message: str

    @property
    def ok(self) -> bool:
        return self.error_code is None

    @property
    def retryable(self) -> bool:
        return ERROR_CODES.get(self.error_code or "", ("", False))[1]


def read_answer(body: bytes) -> Answer:
    parsed = json.loads(body)
    if not isinstance(parsed, dict):
        raise ValueError("the answer is not a JSON object")
    error = parsed.get("error")
    if error is None:
        return Answer(text(parsed.get("id")), parsed.get("result"), None, "")
    if not isinstance(error, dict):
        return Answer(text(parsed.get("id")), None, str(error), "")
    return Answer(
        text(parsed.get("id")),
        None,
        text(error.get("code")) or "UNKNOWN",
        text(error.get("message")) or "",
    )


def stock_map(spec_id: int, quantity_: int) -> dict[str, Any]:
    """``eleme.product.item.batchUpdateStock`` parameters: set (not add to) the stock of one
    spec (a JSON object's keys are text; the platform reads them as spec ids)."""
    return {"stockMap": {str(spec_id): max(0, int(quantity_))}}
