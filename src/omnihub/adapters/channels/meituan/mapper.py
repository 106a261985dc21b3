"""美团闪购/外卖 (Meituan) payloads ↔ the hub's canonical order: pure functions and tables.

Native shapes read here:

* a pushed callback: form parameters (``app_id``, ``timestamp``, ``sig`` and the message's
  own), all text. An order callback (已支付/已确认/已完成订单) carries the whole order with
  ``detail`` as JSON text; a cancel callback names the order (``order_id``, ``reason_code``,
  ``reason``); a refund callback names it with ``notify_type`` (apply, agree, reject,
  cancelRefund, cancelRefundComplaint); a delivery callback carries ``logistics_status``;
* ``order/getOrderDetail``'s ``data``: the same order with typed values and ``detail`` a list;
* the platform's answer ``{"data": "ok"}`` / ``{"data": {...}}``, or ``{"data": "ng",
  "error": {"code", "msg"}}``.

Some callbacks arrive with every value URL-encoded once more inside the form
(``detail=%5B%7B...``); ``decoded`` undoes that before anything is read or signed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from omnihub.adapters.native import local_time, masked_fields, money, quantity, text
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Address, Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.platforms.regions import region
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

S = OrderStatus

# -- order status ----------------------------------------------------------------------------

#: native status -> (meaning on the platform, canonical status)
ORDER_STATUS: dict[int, tuple[str, OrderStatus]] = {
    1: ("用户已提交订单 (submitted, not paid)", S.CREATED),
    2: ("可推送到App方平台也可推送到商家 (paid, sent to the shop)", S.PAID),
    3: ("商家已收到 (received by the shop)", S.PAID),
    4: ("商家已确认 (accepted by the shop)", S.PAID),
    6: ("已配送 (with the rider)", S.SHIPPED),
    7: ("已送达 (delivered)", S.DELIVERED),
    8: ("已完成 (completed)", S.COMPLETED),
    9: ("已取消 (cancelled)", S.CANCELLED),
}
TO_CANONICAL: dict[int, OrderStatus] = {code: status for code, (_, status) in ORDER_STATUS.items()}
#: canonical -> the native status the platform shows for it (a refunded order is cancelled on
#: the platform; the hub's fulfilment steps are all "accepted" there)
TO_NATIVE: dict[OrderStatus, int] = {
    S.CREATED: 1,
    S.PAID: 2,
    S.ALLOCATED: 4,
    S.RELEASED: 4,
    S.PICKED: 4,
    S.SHIPPED: 6,
    S.DELIVERED: 7,
    S.COMPLETED: 8,
    S.CANCELLED: 9,
    S.REFUNDED: 9,
}


def canonical_status(status: Any) -> OrderStatus:
    try:
        return TO_CANONICAL[int(status)]
    except (KeyError, TypeError, ValueError):
        raise UnknownChannelStatus("meituan", status) from None


class Refund(StrEnum):
    OPEN = "open"
    """the buyer asked and nobody has decided yet"""
    CLOSED = "closed"
    """refused or withdrawn: the order stands"""
    DONE = "done"


#: refund callback notify_type -> (meaning, what it means for the hub)
REFUND_NOTICES: dict[str, tuple[str, Refund]] = {
    "apply": ("用户发起退款申请 (the buyer asks for a refund)", Refund.OPEN),
    "agree": ("商家/客服同意退款 (refund agreed)", Refund.DONE),
    "reject": ("商家/客服驳回退款 (refund refused)", Refund.CLOSED),
    "cancelRefund": ("用户取消退款申请 (request withdrawn)", Refund.CLOSED),
    "cancelRefundComplaint": ("用户取消退款申诉 (appeal withdrawn)", Refund.CLOSED),
}


def refund_notice(notify_type: Any) -> Refund:
    entry = REFUND_NOTICES.get(str(notify_type or "").strip())
    if entry is None:
        raise UnknownChannelStatus("meituan refund notify_type", notify_type)
    return entry[1]


# -- pushed callbacks ------------------------------------------------------------------------


class Kind(StrEnum):
    ORDER = "order"
    """the whole order (已支付/已确认/已完成订单)"""
    CANCEL = "cancel"
    REFUND = "refund"
    DELIVERY = "delivery"
    STATUS = "status"
    """an id and a status only"""


def decoded(form: dict[str, str]) -> dict[str, str]:
    """Form values as meant: when the platform URL-encoded each value before form-encoding
    (its ``detail`` then starts ``%5B``/``%7B``), every value is decoded once more."""
    sample = form.get("detail", "")
    if sample[:3].upper() in ("%5B", "%7B"):
        return {name: unquote_plus(value) for name, value in form.items()}
    return form


def form_params(body: bytes, query: dict[str, str]) -> dict[str, str]:
    """The query and the urlencoded body together, as text."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise UnreadablePayload(f"the callback body is not UTF-8 form data: {exc}") from exc
    params = dict(query)
    params.update(pairs)
    return decoded(params)


def kind_of(params: dict[str, Any]) -> Kind:
    if "detail" in params:
        return Kind.ORDER
    if "notify_type" in params:
        return Kind.REFUND
    if "logistics_status" in params:
        return Kind.DELIVERY
    if "reason_code" in params:
        return Kind.CANCEL
    return Kind.STATUS


def order_id_of(params: dict[str, Any]) -> str:
    order_id = text(params.get("order_id"))
    if order_id is None:
        raise UnreadablePayload("the callback names no order_id")
    return order_id


# -- a refund callback's word on a fetched order ---------------------------------------------

#: a fetch key ``<order_id>#refund=<notify_type>@<timestamp>``: fetch the order, then apply
#: what the refund callback said (the order itself shows no refund request)
_NOTICE = re.compile(r"^(?P<order>[^#]+)#refund=(?P<type>[A-Za-z]+)@(?P<at>\d+)$")


def notice_key(order_id: str, notify_type: str, timestamp: str) -> str:
    return f"{order_id}#refund={notify_type}@{timestamp}"


def order_of_key(key: str) -> str:
    return key.partition("#")[0]


def with_notice(key: str, order: IngestOrder) -> IngestOrder:
    """The fetched order as the refund callback leaves it: an open request holds it, a
    refused or withdrawn one releases it, an agreed one refunds a completed order; the
    callback's time when it is later than the order's ``utime``."""
    match = _NOTICE.match(key)
    if match is None:
        return order
    refund = refund_notice(match.group("type"))
    at = local_time(match.group("at"))
    changed = replace(order, updated_at=max(order.updated_at, at))
    if refund is Refund.OPEN:
        return replace(changed, refund_requested=order.status in (S.CREATED, S.PAID))
    if refund is Refund.DONE and order.status in (S.COMPLETED, S.DELIVERED):
        return replace(changed, status=S.REFUNDED, refund_requested=False)
    return replace(changed, refund_requested=False)


# -- the order -------------------------------------------------------------------------------


def to_order(channel: str, shops: dict[str, str], native: dict[str, Any], raw: str) -> IngestOrder:
    """An order callback's parameters, or ``order/getOrderDetail``'s ``data``, as the hub's
    order."""
    order_id = text(native.get("order_id"))
    if order_id is None:
        raise UnreadablePayload("the order has no order_id")
    status = canonical_status(native.get("status"))
    poi = text(native.get("app_poi_code"))
    location = shops.get(poi or "")
    if location is None:
        raise UnreadablePayload(
            f"order {order_id} is for shop {poi}, which is not one of this channel's shops "
            "(credentials.shops maps app_poi_code to the hub's stores)"
        )
    lines, boxes = _lines(order_id, native.get("detail"))
    created_at = local_time(native.get("ctime"))
    utime = native.get("utime")
    updated_at = local_time(utime) if utime not in (None, "", 0, "0") else created_at
    cod = str(native.get("pay_type", "2")).strip() == CASH_ON_DELIVERY
    total = money(native.get("total"))
    payment = None
    if not cod and status is not S.CREATED:
        payment = Payment(
            provider="meituan", transaction_id=order_id, amount=total, paid_at=created_at
        )
    bag = native.get("package_bag_money_yuan")
    return IngestOrder(
        channel=channel,
        external_id=order_id,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        delivery=DeliveryMode.SAME_DAY,
        lines=lines,
        buyer=_buyer(native),
        ship_to=_address(native),
        pickup_location=location,
        shipping_fee=money(native.get("shipping_fee")) + boxes + money(bag),
        total=total,
        payment=payment,
        remark=text(native.get("caution")) or "",
        cod=cod,
        raw=raw,
    )


#: pay_type: 1 货到付款 (cash on delivery), 2 在线支付 (paid online)
CASH_ON_DELIVERY = "1"


def _lines(order_id: str, detail: Any) -> tuple[list[IncomingLine], Money]:
    """The foods of ``detail`` and the packing boxes they need (box_num × box_price)."""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail) if detail.strip() else []
        except ValueError as exc:
            raise UnreadablePayload(f"order {order_id}: detail is not valid JSON: {exc}") from exc
    if not isinstance(detail, list) or not detail:
        raise UnreadablePayload(f"order {order_id} has no detail (no foods)")
    lines: list[IncomingLine] = []
    boxes = Money.of("0")
    for food in detail:
        if not isinstance(food, dict):
            raise UnreadablePayload(f"order {order_id}: a detail entry is not an object")
        lines.append(_line(order_id, food))
        box_num, box_price = food.get("box_num"), food.get("box_price")
        if box_num not in (None, "", 0) and box_price not in (None, "", 0):
            boxes = boxes + Money.of(money(box_price).amount * money(box_num).amount)
    return lines, boxes


def _line(order_id: str, food: dict[str, Any]) -> IncomingLine:
    identity = line_identity(food)
    if identity is None:
        raise UnreadablePayload(f"order {order_id}: a food has neither sku_id nor app_food_code")
    qty = quantity(food.get("quantity"))
    unit = money(food.get("price"))
    gross = unit.times(qty)
    discount = Money.of("0")
    share = _decimal(food.get("food_discount"))
    if share is not None and 0 < share < 1:  # 折扣: 0.8 is 20 % off
        discount = Money.of(gross.amount * (1 - share))
    return IncomingLine(channel_sku=identity, qty=qty, unit_price=unit, discount=discount)


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise UnreadablePayload(f"{value!r} is not a number") from None


def line_identity(food: dict[str, Any]) -> str | None:
    """The channel SKU of a food: the merchant's ``sku_id`` when it has one, else its
    ``app_food_code`` (the merchant's product code)."""
    return text(food.get("sku_id")) or text(food.get("app_food_code"))


def _buyer(native: dict[str, Any]) -> Buyer:
    name = text(native.get("recipient_name"))
    phone = text(native.get("recipient_phone"))
    return Buyer(
        channel_buyer_id=text(native.get("user_id")) or text(native.get("openUid")),
        name=name,
        phone=phone,
        masked=masked_fields(name=name, phone=phone),
    )


def _address(native: dict[str, Any]) -> Address:
    name = text(native.get("recipient_name"))
    phone = text(native.get("recipient_phone"))
    street = text(native.get("recipient_address"))
    province, city, district = region(street)
    return Address(
        name=name,
        phone=phone,
        province=province,
        city=city,
        district=district,
        address=street,
        lat=_coordinate(native.get("latitude")),
        lon=_coordinate(native.get("longitude")),
        masked=masked_fields(name=name, phone=phone, address=street),
    )


def _coordinate(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number else None


# -- the platform's answers and our calls ----------------------------------------------------

#: error codes -> (meaning, whether a retry may work). The platform's full table is longer;
#: these are the codes the hub acts on differently (all others: a retry will not help).
ERROR_CODES: dict[int, tuple[str, bool]] = {
    700: ("系统繁忙 (platform busy)", True),
    701: ("参数错误 (a parameter is missing or wrong)", False),
    703: ("签名验证错误 (wrong sig)", False),
    711: ("调用频率超过限制 (rate limited)", True),
    808: ("订单不存在或状态不允许 (no such order, or not in that state)", False),
}


@dataclass(frozen=True, slots=True)
class Answer:
    data: Any
    error_code: int | None
    error_message: str

    @property
    def ok(self) -> bool:
        return self.error_code is None

    @property
    def retryable(self) -> bool:
        return ERROR_CODES.get(self.error_code or 0, ("", False))[1]


def read_answer(body: bytes) -> Answer:
    parsed = json.loads(body)
    if not isinstance(parsed, dict):
        raise ValueError("the answer is not a JSON object")
    error = parsed.get("error")
    if error in (None, {}, "") and parsed.get("data") != "ng":
        return Answer(parsed.get("data"), None, "")
    code, message = -1, ""
    if isinstance(error, dict):
        try:
            code = int(str(error.get("code")))
        except (TypeError, ValueError):
            code = -1
        message = text(error.get("msg")) or text(error.get("message")) or ""
    return Answer(None, code, message)


def food_data(app_food_code: str, sku_id: str, quantity_: int) -> str:
    """``retail/sku/stock``'s ``food_data``: set (not add to) the stock of one SKU."""
    return json.dumps(
        [
            {
                "app_food_code": app_food_code,
                "skus": [{"sku_id": sku_id, "stock": str(max(0, int(quantity_)))}],
            }
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def timestamp_of(params: dict[str, Any]) -> datetime:
    value = text(params.get("timestamp"))
    if value is None or not value.isdigit():
        raise UnreadablePayload(f"the timestamp {params.get('timestamp')!r} is not Unix seconds")
    return local_time(value)
