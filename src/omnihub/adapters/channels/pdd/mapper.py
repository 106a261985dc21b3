"""Pinduoduo ``order_info`` (as ``pdd.order.information.get`` and the increment list
``pdd.order.number.list.increment.get`` return it) to the hub's canonical order, and PDD's
status codes both ways. Pure functions, no I/O."""

from __future__ import annotations

from typing import Any, NamedTuple

from omnihub.adapters.native import field, is_masked, local_time, money, quantity, spread, text
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Address, Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

S = OrderStatus

#: order_status: 1 待发货 (paid, to ship), 2 已发货待签收 (shipped), 3 已签收 (signed for)
ORDER_STATUSES = {1: "待发货", 2: "已发货待签收", 3: "已签收"}
#: refund_status: 1 无售后或售后关闭, 2 售后处理中, 3 退款中, 4 退款成功
REFUND_STATUSES = {1: "无售后或售后关闭", 2: "售后处理中", 3: "退款中", 4: "退款成功"}
#: confirm_status: 0 未成交 (a group buy not formed yet), 1 已成交, 2 已取消
CONFIRM_STATUSES = {0: "未成交", 1: "已成交", 2: "已取消"}


class Reading(NamedTuple):
    """What a PDD status pair means to the hub."""

    status: OrderStatus
    refund_requested: bool = False
    """an after-sales request is open: the hub stops fulfilling an order not shipped yet"""


#: (order_status, refund_status) -> canonical status
STATUSES: dict[tuple[int, int], Reading] = {
    (1, 1): Reading(S.PAID),
    (1, 2): Reading(S.PAID, refund_requested=True),
    (1, 3): Reading(S.PAID, refund_requested=True),
    (1, 4): Reading(S.CANCELLED),  # refunded before shipment: the order is off
    (2, 1): Reading(S.SHIPPED),
    (2, 2): Reading(S.SHIPPED, refund_requested=True),
    (2, 3): Reading(S.SHIPPED, refund_requested=True),
    (2, 4): Reading(S.REFUNDED),
    (3, 1): Reading(S.DELIVERED),
    (3, 2): Reading(S.DELIVERED, refund_requested=True),
    (3, 3): Reading(S.DELIVERED, refund_requested=True),
    (3, 4): Reading(S.REFUNDED),
}

#: canonical status -> (order_status, refund_status) an order in it shows (the way back)
STATUS_OF: dict[OrderStatus, tuple[int, int]] = {
    S.PAID: (1, 1),
    S.SHIPPED: (2, 1),
    S.DELIVERED: (3, 1),
    S.CANCELLED: (1, 4),
    S.REFUNDED: (2, 4),
}

#: receiver fields newer PDD answers pair with a masked copy: the field itself is then masked
#: or encrypted ("~...~" ciphertext)
_MASK_COMPANIONS = {
    "receiver_name_mask": "name",
    "receiver_phone_mask": "phone",
    "receiver_address_mask": "address",
}


def _code(value: Any, what: str, known: dict[int, str]) -> int:
    try:
        code = int(str(value).strip())
    except (TypeError, ValueError):
        raise UnknownChannelStatus("pdd", f"{what}={value}") from None
    if code not in known:
        raise UnknownChannelStatus("pdd", f"{what}={value}")
    return code


def reading(
    order_status: Any, refund_status: Any, confirm_status: Any = 1, receive_time: Any = None
) -> Reading:
    """The canonical meaning of PDD's status codes; ``UnknownChannelStatus`` for a code not in
    PDD's tables (the order waits in the inbound log)."""
    order = _code(order_status, "order_status", ORDER_STATUSES)
    refund = _code(refund_status, "refund_status", REFUND_STATUSES)
    confirm = _code(
        1 if confirm_status in (None, "") else confirm_status, "confirm_status", CONFIRM_STATUSES
    )
    meaning = STATUSES[(order, refund)]
    if confirm == 2:
        return Reading(S.CANCELLED)
    if confirm == 0 and meaning.status is S.PAID:
        return Reading(S.CREATED, meaning.refund_requested)  # not to ship before the group forms
    if meaning.status is S.DELIVERED and text(receive_time):
        return Reading(S.COMPLETED, meaning.refund_requested)  # the buyer confirmed receipt
    return meaning


def line_identity(item: dict[str, Any]) -> str:
    """The channel SKU of an ``item_list`` entry: the merchant's ``outer_id`` (SKU code) when it
    has one, else PDD's ``sku_id``."""
    identity = text(item.get("outer_id")) or text(item.get("sku_id"))
    if identity is None:
        raise UnreadablePayload("an item_list entry has neither outer_id nor sku_id")
    return identity


def optional_time(value: Any) -> Any:
    return None if value in (None, "") else local_time(value)


def to_order(native: dict[str, Any], *, channel: str, raw: str = "") -> IngestOrder:
    """One ``order_info`` as the hub's ``IngestOrder``.

    Lines: ``outer_id`` else ``sku_id``, ``goods_count`` units at ``goods_price`` (yuan), the
    seller's discount (``seller_discount``) shared over them; shipping ``postage``. The total is
    the sale's value to the shop, ``goods_amount`` less the seller's discount plus postage, so it
    equals lines + shipping; what the buyer paid (``pay_amount``, lower by the platform's
    discounts, which PDD settles with the shop) is the payment's amount. Times without an offset
    are Beijing time. PDD gives no buyer id; the receiver's masked or encrypted fields are kept
    as given and named in ``masked``.
    """
    if not isinstance(native, dict):
        raise UnreadablePayload("a PDD order_info must be a JSON object")
    external_id = text(field(native, "order_sn"))
    if external_id is None:
        raise UnreadablePayload("the order_info has an empty order_sn")
    meaning = reading(
        field(native, "order_status"),
        field(native, "refund_status"),
        native.get("confirm_status"),
        native.get("receive_time"),
    )
    items = field(native, "item_list")
    if not isinstance(items, list) or not items:
        raise UnreadablePayload(f"PDD order {external_id} has no item_list entries")
    for item in items:
        if not isinstance(item, dict):
            raise UnreadablePayload(f"PDD order {external_id}: an item_list entry is no object")
    prices = [money(item.get("goods_price")) for item in items]
    counts = [quantity(field(item, "goods_count")) for item in items]
    discounts = spread(
        money(native.get("seller_discount")),
        [p.times(n) for p, n in zip(prices, counts, strict=True)],
    )
    lines = [
        IncomingLine(channel_sku=line_identity(item), qty=n, unit_price=p, discount=d)
        for item, p, n, d in zip(items, prices, counts, discounts, strict=True)
    ]
    created = local_time(field(native, "created_time"))
    updated = local_time(native.get("updated_at") or field(native, "created_time"))
    shipping = money(native.get("postage"))
    goods = native.get("goods_amount")
    goods_total = (
        money(goods)
        if goods not in (None, "")
        else sum((p.times(n) for p, n in zip(prices, counts, strict=True)), Money.of("0"))
    )
    total = goods_total - money(native.get("seller_discount")) + shipping
    paid_at = optional_time(native.get("confirm_time"))
    pay_no = text(native.get("pay_no"))
    payment = None
    if paid_at is not None and pay_no and meaning.status is not S.CREATED:
        payment = Payment(
            provider=(text(native.get("pay_type")) or "pdd").lower(),
            transaction_id=pay_no,
            amount=money(native.get("pay_amount")),
            paid_at=paid_at,
        )
    return IngestOrder(
        channel=channel,
        external_id=external_id,
        status=meaning.status,
        created_at=created,
        updated_at=max(updated, created),
        delivery=DeliveryMode.EXPRESS,
        lines=lines,
        buyer=Buyer(channel_buyer_id=text(native.get("buyer_id"))),
        ship_to=address(native),
        shipping_fee=shipping,
        total=total,
        payment=payment,
        remark=text(native.get("buyer_memo")) or "",
        refund_requested=meaning.refund_requested,
        raw=raw,
    )


def address(native: dict[str, Any]) -> Address:
    """The receiver: masked ("展**", "1866716****") or encrypted ("~...~") values kept as PDD
    sent them and named in ``masked``; a field with a ``*_mask`` companion counts as masked."""
    values = {
        "name": text(native.get("receiver_name")),
        "phone": text(native.get("receiver_phone")),
        "province": text(native.get("province")),
        "city": text(native.get("city")),
        "district": text(native.get("town")),
        "address": text(native.get("address")) or text(native.get("receiver_address")),
    }
    masked = {name for name, value in values.items() if is_masked(value)}
    masked |= {
        name
        for key, name in _MASK_COMPANIONS.items()
        if text(native.get(key)) and values[name] is not None
    }
    return Address(
        name=values["name"],
        phone=values["phone"],
        province=values["province"],
        city=values["city"],
        district=values["district"],
        address=values["address"],
        masked=tuple(n for n in values if n in masked),
    )
