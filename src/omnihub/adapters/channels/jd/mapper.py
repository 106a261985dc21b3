"""JD POP ``orderInfo`` (as ``jingdong.pop.order.search`` and ``jingdong.pop.order.get`` return
it) to the hub's canonical order, and the JD order states both ways. Pure functions, no I/O."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from omnihub.adapters.native import field, is_masked, local_time, money, quantity, spread, text
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Address, Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

S = OrderStatus


class Reading(NamedTuple):
    """What a JD order state means to the hub."""

    status: OrderStatus
    refund_requested: bool = False
    """the hub must stop fulfilling: the buyer asked to cancel, or JD paused the order"""


#: orderState -> canonical status. JD's documented states of a POP order.
STATES: dict[str, Reading] = {
    "NOT_PAY": Reading(S.CREATED),  # 未付款
    "WAIT_SELLER_STOCK_OUT": Reading(S.PAID),  # 等待出库
    "WAIT_SELLER_DELIVERY": Reading(S.PAID),  # 等待发货 (cross-border: waiting to ship in China)
    "WAIT_SEND_CODE": Reading(S.PAID),  # 等待发码 (vouchers, virtual goods)
    "LOCKED": Reading(S.PAID, refund_requested=True),  # 已锁定: the buyer asked to cancel
    "POP_ORDER_PAUSE": Reading(S.PAID, refund_requested=True),  # POP暂停
    "PAUSE": Reading(S.PAID, refund_requested=True),  # 暂停
    "WAIT_GOODS_RECEIVE_CONFIRM": Reading(S.SHIPPED),  # 等待确认收货
    "FINISHED_L": Reading(S.COMPLETED),  # 完成
    "TRADE_CANCELED": Reading(S.CANCELLED),  # 取消
}

#: canonical status -> the JD state an order in it shows (the way back)
STATE_OF: dict[OrderStatus, str] = {
    S.CREATED: "NOT_PAY",
    S.PAID: "WAIT_SELLER_STOCK_OUT",
    S.SHIPPED: "WAIT_GOODS_RECEIVE_CONFIRM",
    S.COMPLETED: "FINISHED_L",
    S.CANCELLED: "TRADE_CANCELED",
}

#: every state the pull asks for (``order_state`` is required by jingdong.pop.order.search)
ALL_STATES = ",".join(STATES)

#: the fields the pull asks for (``optional_fields``)
ORDER_FIELDS = ",".join(
    (
        "orderId",
        "venderId",
        "orderType",
        "payType",
        "orderTotalPrice",
        "orderSellerPrice",
        "orderPayment",
        "freightPrice",
        "sellerDiscount",
        "orderState",
        "orderStateRemark",
        "deliveryType",
        "invoiceInfo",
        "orderRemark",
        "orderStartTime",
        "orderEndTime",
        "modified",
        "paymentConfirmTime",
        "consigneeInfo",
        "itemInfoList",
        "pin",
        "open_id_buyer",
        "xid_buyer",
        "returnOrder",
        "balanceUsed",
        "venderRemark",
        "storeOrder",
        "storeId",
    )
)

#: JD's encrypted personal fields (since 2022): long base64 ciphertext such as "AAS/ZFJF...="
_CIPHERTEXT = re.compile(r"^[A-Za-z0-9+/]{32,}={0,2}$")

#: consigneeInfo desensitised companions (``desen_*``): the field they stand for is masked
_DESENSITISED = {
    "desen_mobile": "phone",
    "desen_telephone": "phone",
    "desen_fullname": "name",
    "desen_fullAddress": "address",
}

#: JD's "no time" value (e.g. outBoundDate of an order not out of the warehouse yet)
_NO_TIME = "0001-01-01"


def reading(state: Any) -> Reading:
    """The canonical meaning of a JD ``orderState``; ``UnknownChannelStatus`` if JD's table
    does not have it (the order waits in the inbound log)."""
    try:
        return STATES[str(state)]
    except KeyError:
        raise UnknownChannelStatus("jd", state) from None


def is_encrypted(value: Any) -> bool:
    """JD ciphertext or a masked value ("136*******5"): kept as given, never decrypted here."""
    if not isinstance(value, str):
        return False
    return is_masked(value) or (bool(_CIPHERTEXT.match(value)) and any(c.isdigit() for c in value))


def line_identity(item: dict[str, Any]) -> str:
    """The channel SKU of an ``itemInfoList`` entry: the merchant's ``outerSkuId`` when it has
    one, else JD's ``skuId``."""
    identity = text(item.get("outerSkuId")) or text(item.get("skuId"))
    if identity is None:
        raise UnreadablePayload("an itemInfoList entry has neither outerSkuId nor skuId")
    return identity


def optional_time(value: Any) -> Any:
    """A JD time, or None for an empty value or JD's 0001-01-01 placeholder."""
    if value in (None, "") or str(value).startswith(_NO_TIME):
        return None
    return local_time(value)


def to_order(native: dict[str, Any], *, channel: str, raw: str = "") -> IngestOrder:
    """One ``orderInfo`` as the hub's ``IngestOrder``.

    Lines: ``outerSkuId`` else ``skuId``, ``itemTotal`` units at ``jdPrice``, the seller's
    discount (``sellerDiscount``) shared over them; shipping ``freightPrice``. The total is the
    sale's value to the shop, ``orderSellerPrice`` (goods less the seller's discount) plus
    freight, so it equals lines + shipping; what the buyer pays (``orderPayment``, lower by the
    discounts JD funds and settles with the shop) is the payment's amount. Times without an
    offset are Beijing time. The buyer is the JD account (``pin``, else
    ``open_id_buyer``/``xid_buyer``); the consignee's encrypted or masked fields are kept as
    given and named in ``masked``.
    """
    if not isinstance(native, dict):
        raise UnreadablePayload("a JD orderInfo must be a JSON object")
    external_id = text(field(native, "orderId"))
    if external_id is None:
        raise UnreadablePayload("the orderInfo has an empty orderId")
    meaning = reading(field(native, "orderState"))
    items = field(native, "itemInfoList")
    if not isinstance(items, list) or not items:
        raise UnreadablePayload(f"JD order {external_id} has no itemInfoList entries")
    for item in items:
        if not isinstance(item, dict):
            raise UnreadablePayload(f"JD order {external_id}: an itemInfoList entry is no object")
    prices = [money(item.get("jdPrice")) for item in items]
    counts = [quantity(field(item, "itemTotal")) for item in items]
    discounts = spread(
        money(native.get("sellerDiscount")),
        [p.times(n) for p, n in zip(prices, counts, strict=True)],
    )
    lines = [
        IncomingLine(channel_sku=line_identity(item), qty=n, unit_price=p, discount=d)
        for item, p, n, d in zip(items, prices, counts, discounts, strict=True)
    ]
    created = local_time(field(native, "orderStartTime"))
    updated = local_time(field(native, "modified"))
    shipping = money(native.get("freightPrice"))
    goods = native.get("orderSellerPrice")
    if goods in (None, ""):
        goods = money(native.get("orderTotalPrice")) - money(native.get("sellerDiscount"))
    total = money(goods) + shipping
    paid_at = optional_time(native.get("paymentConfirmTime"))
    payment = None
    if paid_at is not None and meaning.status is not S.CREATED:
        payment = Payment(
            provider="jd",
            transaction_id=external_id,
            amount=money(native.get("orderPayment")),
            paid_at=paid_at,
        )
    pay_type = text(native.get("payType")) or ""
    return IngestOrder(
        channel=channel,
        external_id=external_id,
        status=meaning.status,
        created_at=created,
        updated_at=max(updated, created),
        delivery=DeliveryMode.EXPRESS,
        lines=lines,
        buyer=buyer(native),
        ship_to=address(native.get("consigneeInfo")),
        shipping_fee=shipping,
        total=total,
        payment=payment,
        remark=text(native.get("orderRemark")) or "",
        cod=pay_type.startswith("1-") or "货到付款" in pay_type,
        refund_requested=meaning.refund_requested,
        raw=raw,
    )


def buyer(native: dict[str, Any]) -> Buyer:
    buyer_id = (
        text(native.get("pin"))
        or text(native.get("open_id_buyer"))
        or text(native.get("xid_buyer"))
    )
    return Buyer(
        channel_buyer_id=buyer_id, masked=("channel_buyer_id",) if is_encrypted(buyer_id) else ()
    )


def address(consignee: Any) -> Address:
    """``consigneeInfo``: encrypted ``fullname``/``fullAddress`` and masked ``mobile`` are kept
    as JD sent them; each field that is ciphertext, masked, or has a ``desen_*`` companion is
    listed in ``masked`` (the ``desen_*`` values themselves stay in the raw order)."""
    if not isinstance(consignee, dict):
        return Address()
    phone = text(consignee.get("mobile")) or text(consignee.get("telephone"))
    values = {
        "name": text(consignee.get("fullname")),
        "phone": phone,
        "province": text(consignee.get("province")),
        "city": text(consignee.get("city")),
        "district": text(consignee.get("county")),
        "address": text(consignee.get("fullAddress")),
    }
    masked = {name for name, value in values.items() if is_encrypted(value)}
    masked |= {
        name
        for key, name in _DESENSITISED.items()
        if text(consignee.get(key)) and values[name] is not None
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
