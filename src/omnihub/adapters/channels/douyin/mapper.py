"""抖店 (Douyin shop) payloads ↔ the hub's canonical order: pure functions and tables.

Native shapes read here:

* a pushed message batch: a JSON array of ``{"tag": "101", "msg_id": "...", "data": "<JSON
  text>"}``; order messages (tags 1xx) and after-sale messages (tags 2xx) name the shop order
  in ``data.p_id`` and nothing else the hub can rely on, so the order is fetched in full;
* ``order.orderDetail``'s ``data.shop_order_detail``: the whole shop order, amounts in fen
  (分), times in Unix seconds, receiver fields encrypted;
* the calls the hub makes: ``sku.syncStock`` and ``order.logisticsAdd`` parameters, and the
  platform's answer envelope ``{"code": 10000, "msg": "success", "sub_code", "sub_msg", "data"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from omnihub.adapters.native import fen, field, is_masked, local_time, quantity, text
from omnihub.domain.errors import InvalidInput
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Address, Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

S = OrderStatus

# -- order status (shop_order_detail.order_status) -------------------------------------------

#: native order_status -> (meaning on the platform, canonical status)
ORDER_STATUS: dict[int, tuple[str, OrderStatus]] = {
    1: ("待确认/待支付 (created, not paid)", S.CREATED),
    105: ("已支付 (paid)", S.PAID),
    2: ("备货中 (paid, waiting for the seller to ship)", S.PAID),
    101: ("部分发货 (partly shipped)", S.SHIPPED),
    3: ("已发货 (shipped)", S.SHIPPED),
    4: ("已取消 (cancelled or closed)", S.CANCELLED),
    5: ("已完成 (completed)", S.COMPLETED),
}
TO_CANONICAL: dict[int, OrderStatus] = {code: status for code, (_, status) in ORDER_STATUS.items()}
#: canonical -> the native order_status the platform shows for it (the way back; REFUNDED is a
#: closed order whose lines were all refunded, DELIVERED has no status of its own)
TO_NATIVE: dict[OrderStatus, int] = {
    S.CREATED: 1,
    S.PAID: 2,
    S.SHIPPED: 3,
    S.DELIVERED: 3,
    S.COMPLETED: 5,
    S.CANCELLED: 4,
    S.REFUNDED: 4,
}


def canonical_status(order_status: Any) -> OrderStatus:
    try:
        return TO_CANONICAL[int(order_status)]
    except (KeyError, TypeError, ValueError):
        raise UnknownChannelStatus("douyin", order_status) from None


# -- after-sale (sku_order_list[].after_sale_info) -------------------------------------------


class AfterSale(StrEnum):
    NONE = "none"
    OPEN = "open"
    """the buyer asked and nobody has decided yet, or goods are on their way back"""
    DONE = "done"
    CLOSED = "closed"
    """refused, withdrawn or failed: the line is sold after all"""


#: after_sale_status -> (meaning, what it means for the hub)
AFTER_SALE_STATUS: dict[int, tuple[str, AfterSale]] = {
    0: ("无售后 (none)", AfterSale.NONE),
    6: ("售后申请 (requested)", AfterSale.OPEN),
    7: ("售后退货中 (goods on the way back)", AfterSale.OPEN),
    8: ("售后待商家发货 (exchange: seller to send a replacement)", AfterSale.OPEN),
    11: ("售后商家已发货 (exchange: replacement sent)", AfterSale.OPEN),
    12: ("售后成功 (succeeded)", AfterSale.DONE),
    27: ("拒绝售后申请 (refused)", AfterSale.CLOSED),
    28: ("售后失败/关闭 (failed or withdrawn)", AfterSale.CLOSED),
    29: ("退货后拒绝退款 (refund refused after the return)", AfterSale.CLOSED),
}
#: after_sale_type -> meaning; 3 (exchange) never refunds money
AFTER_SALE_TYPE: dict[int, str] = {
    0: "退货退款 (return and refund)",
    1: "已发货仅退款 (refund only, after shipping)",
    2: "未发货仅退款 (refund only, before shipping)",
    3: "换货 (exchange)",
}
EXCHANGE = 3
#: refund_status -> meaning
REFUND_STATUS: dict[int, str] = {
    0: "无需退款 (no refund)",
    1: "待退款 (to be refunded)",
    2: "退款中 (refunding)",
    3: "退款成功 (refunded)",
    4: "退款失败 (refund failed)",
}
REFUNDED = 3

#: pay_type -> the payment provider the hub records (0 is cash on delivery)
PAY_TYPE: dict[int, str] = {
    0: "cod",
    1: "wechat",
    2: "alipay",
    3: "douyin",
    4: "unionpay",
    5: "douyin",
    7: "douyin",
    8: "douyin",
    9: "unionpay",
    12: "douyin",
}
CASH_ON_DELIVERY = 0


def _code(value: Any, table: dict[int, Any], what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UnknownChannelStatus(f"douyin {what}", value) from None
    if number not in table:
        raise UnknownChannelStatus(f"douyin {what}", value)
    return number


@dataclass(frozen=True, slots=True)
class LineAfterSale:
    state: AfterSale
    refunded: bool
    """the money of this line went back to the buyer"""

    @property
    def refund_open(self) -> bool:
        return self.state is AfterSale.OPEN and not self.refunded


def line_after_sale(line: dict[str, Any]) -> LineAfterSale:
    info = line.get("after_sale_info")
    if not isinstance(info, dict) or not info:
        return LineAfterSale(AfterSale.NONE, False)
    status = _code(info.get("after_sale_status", 0), AFTER_SALE_STATUS, "after_sale_status")
    kind = info.get("after_sale_type")
    exchange = kind is not None and _code(kind, AFTER_SALE_TYPE, "after_sale_type") == EXCHANGE
    refund = _code(info.get("refund_status", 0), REFUND_STATUS, "refund_status")
    state = AFTER_SALE_STATUS[status][1]
    if exchange:  # an exchange sends goods both ways; no money comes back
        return LineAfterSale(AfterSale.NONE, False)
    return LineAfterSale(state, refund == REFUNDED)


# -- encrypted fields ------------------------------------------------------------------------


def encrypted(value: Any) -> bool:
    """Ciphertext as the platform sends it ("#...#" names and addresses, "$...$" phone
    numbers, "~...~"), or a masked display value ("138****0000"): kept as given."""
    if is_masked(value):
        return True
    return isinstance(value, str) and len(value) > 2 and value[0] == value[-1] == "$"


def _masked(**values: Any) -> tuple[str, ...]:
    return tuple(name for name, value in values.items() if encrypted(value))


def _name(node: Any) -> str | None:
    return text(node.get("name")) if isinstance(node, dict) else text(node)


# -- the order -------------------------------------------------------------------------------


def to_order(channel: str, detail: dict[str, Any], raw: str) -> IngestOrder:
    """``order.orderDetail``'s ``shop_order_detail`` as the hub's canonical order."""
    if isinstance(detail.get("shop_order_detail"), dict):  # the whole ``data`` was given
        detail = detail["shop_order_detail"]
    order_id = text(field(detail, "order_id"))
    if order_id is None:
        raise UnreadablePayload("the order has an empty order_id")
    status = canonical_status(field(detail, "order_status"))
    native_lines = detail.get("sku_order_list")
    if not isinstance(native_lines, list) or not native_lines:
        raise UnreadablePayload(f"order {order_id} has no sku_order_list")
    lines = [_line(order_id, item) for item in native_lines]
    after_sales = [line_after_sale(item) for item in native_lines]
    refund_requested = False
    if all(a.refunded for a in after_sales) and status is not S.CREATED:
        status = S.REFUNDED  # every line's money went back: closed as refunded
    else:
        refund_requested = status in (S.CREATED, S.PAID) and any(a.refund_open for a in after_sales)
    created_at = local_time(field(detail, "create_time"))
    updated = detail.get("update_time")
    updated_at = local_time(updated) if updated not in (None, "", 0, "0") else created_at
    pay_type = detail.get("pay_type")
    cod = pay_type is not None and str(pay_type) == str(CASH_ON_DELIVERY)
    return IngestOrder(
        channel=channel,
        external_id=order_id,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        delivery=DeliveryMode.EXPRESS,
        lines=lines,
        buyer=Buyer(channel_buyer_id=text(detail.get("doudian_open_id"))),
        ship_to=_address(detail),
        shipping_fee=fen(detail.get("post_amount")),
        total=fen(detail.get("pay_amount", detail.get("order_amount"))),
        payment=_payment(order_id, detail, cod),
        remark=text(detail.get("buyer_words")) or "",
        cod=cod,
        refund_requested=refund_requested,
        raw=raw,
    )


def _line(order_id: str, item: Any) -> IncomingLine:
    if not isinstance(item, dict):
        raise UnreadablePayload(f"order {order_id}: a sku_order_list entry is not an object")
    identity = line_identity(item)
    if identity is None:
        raise UnreadablePayload(f"order {order_id}: a line has neither code nor sku_id")
    qty = quantity(field(item, "item_num"))
    unit = fen(field(item, "origin_amount"))
    gross = unit.times(qty)
    paid = fen(item["pay_amount"]) if item.get("pay_amount") is not None else gross
    discount = gross - paid if paid.amount < gross.amount else Money.of("0")
    return IncomingLine(channel_sku=identity, qty=qty, unit_price=unit, discount=discount)


def line_identity(item: dict[str, Any]) -> str | None:
    """The channel SKU of a line: the merchant's SKU code (``code``) when the seller set one,
    else the platform's ``sku_id``."""
    return text(item.get("code")) or text(item.get("sku_id"))


def _address(detail: dict[str, Any]) -> Address:
    post_addr = detail.get("post_addr")
    post: dict[str, Any] = post_addr if isinstance(post_addr, dict) else {}
    name = text(detail.get("encrypt_post_receiver")) or text(detail.get("post_receiver"))
    phone = text(detail.get("encrypt_post_tel")) or text(detail.get("post_tel"))
    street = _name(post.get("street"))
    detail_text = text(post.get("encrypt_detail")) or text(post.get("detail"))
    # a street name is joined to a plain detail; ciphertext is kept alone, exactly as given
    address = detail_text
    if street and detail_text and not encrypted(detail_text):
        address = f"{street} {detail_text}"
    elif street and not detail_text:
        address = street
    return Address(
        name=name,
        phone=phone,
        province=_name(post.get("province")),
        city=_name(post.get("city")),
        district=_name(post.get("town")),
        address=address,
        masked=_masked(name=name, phone=phone, address=address),
    )


def _payment(order_id: str, detail: dict[str, Any], cod: bool) -> Payment | None:
    paid = detail.get("pay_time")
    if cod or paid in (None, "", 0, "0"):
        return None
    try:
        provider = PAY_TYPE.get(int(detail.get("pay_type", 3)), "douyin")
    except (TypeError, ValueError):
        provider = "douyin"
    return Payment(
        provider=provider,
        transaction_id=text(detail.get("channel_payment_no")) or order_id,
        amount=fen(detail.get("pay_amount", detail.get("order_amount"))),
        paid_at=local_time(paid),
    )


# -- pushed messages -------------------------------------------------------------------------

#: tags of order messages (1xx) and after-sale messages (2xx) the hub knows by name; any other
#: 1xx/2xx tag is read the same way (it names its shop order in ``p_id``)
ORDER_TAGS: dict[str, str] = {
    "100": "订单创建 (order created)",
    "101": "订单支付/确认 (paid or confirmed)",
    "102": "卖家发货 (seller shipped)",
    "103": "交易完成 (transaction completed)",
    "104": "物流信息变更 (logistics changed)",
    "105": "买家取消/订单关闭 (buyer cancelled or order closed)",
    "106": "订单金额变更 (order amount changed)",
}
REFUND_TAGS: dict[str, str] = {
    "200": "买家发起售后申请 (after-sale requested)",
    "201": "同意退款 (refund agreed)",
    "202": "同意退货申请 (return agreed)",
    "203": "买家退货给卖家 (buyer returned the goods)",
    "204": "拒绝退货申请 (return refused)",
    "205": "拒绝退款 (refund refused)",
    "206": "退款成功 (refunded)",
    "207": "售后关闭 (after-sale closed)",
    "208": "买家修改售后申请 (after-sale changed)",
}
#: the platform's test message when a push URL is registered
VERIFY_TAG = "0"


@dataclass(frozen=True, slots=True)
class Message:
    tag: str
    msg_id: str | None
    data: dict[str, Any]

    @property
    def about_an_order(self) -> bool:
        return len(self.tag) == 3 and self.tag[0] in "12" and self.tag.isdigit()


def read_messages(body: bytes) -> list[Message]:
    """A pushed batch; ``UnreadablePayload`` naming what is wrong with it."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadablePayload(f"the message batch is not valid JSON: {exc}") from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items:
        raise UnreadablePayload("the message batch is empty")
    messages = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or "tag" not in item:
            raise UnreadablePayload(f"message {number} of the batch has no tag")
        data = item.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data) if data.strip() else {}
            except ValueError as exc:
                raise UnreadablePayload(
                    f"message {number} (tag {item['tag']}): data is not valid JSON: {exc}"
                ) from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise UnreadablePayload(f"message {number} (tag {item['tag']}): data is not an object")
        messages.append(Message(str(item["tag"]).strip(), text(item.get("msg_id")), data))
    return messages


def orders_to_fetch(messages: list[Message]) -> tuple[list[str], list[str]]:
    """Shop order ids named by the order and after-sale messages (first mention first, each
    once), and what was ignored and why."""
    ids: list[str] = []
    ignored: list[str] = []
    for message in messages:
        if message.tag == VERIFY_TAG:
            ignored.append("tag 0: the platform's push URL check")
            continue
        if not message.about_an_order:
            ignored.append(f"tag {message.tag}: not an order or after-sale message")
            continue
        order_id = text(message.data.get("p_id"))
        if order_id is None:
            raise UnreadablePayload(
                f"message {message.msg_id or '?'} (tag {message.tag}) names no order (p_id)"
            )
        if order_id not in ids:
            ids.append(order_id)
    return ids, ignored


def message_ids(body: bytes) -> list[str]:
    """The msg_ids of a batch, read leniently (for replay protection before parsing)."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    items = parsed if isinstance(parsed, list) else [parsed]
    return [str(i["msg_id"]) for i in items if isinstance(i, dict) and i.get("msg_id")]


# -- calls to the platform -------------------------------------------------------------------


def stock_params(channel_sku: str, quantity_: int) -> dict[str, Any]:
    """``sku.syncStock``: set (not add to) the sellable quantity of one SKU. A channel SKU of
    digits only is the platform's sku_id; anything else is the merchant's SKU code."""
    params: dict[str, Any] = {"stock_num": max(0, int(quantity_)), "incremental": False}
    if channel_sku.isdigit():
        params["sku_id"] = int(channel_sku)
    else:
        params["code"] = channel_sku
    return params


#: the hub's carrier names (as staff type them) -> the platform's company_code
CARRIERS: dict[str, str] = {
    "SF": "shunfeng",
    "SFEXPRESS": "shunfeng",
    "顺丰": "shunfeng",
    "YTO": "yuantong",
    "圆通": "yuantong",
    "ZTO": "zhongtong",
    "中通": "zhongtong",
    "STO": "shentong",
    "申通": "shentong",
    "YUNDA": "yunda",
    "韵达": "yunda",
    "JD": "jd",
    "JDL": "jd",
    "京东": "jd",
    "EMS": "ems",
    "CHINAPOST": "youzhengguonei",
    "邮政": "youzhengguonei",
    "JT": "jtexpress",
    "J&T": "jtexpress",
    "极兔": "jtexpress",
    "DEPPON": "debangwuliu",
    "德邦": "debangwuliu",
}


def company_code(carrier: str | None) -> str:
    """The platform's carrier code; a name the table does not know is taken to be one."""
    if not carrier or not carrier.strip():
        raise InvalidInput("a 抖店 shipment needs the carrier (company_code)")
    key = carrier.strip().upper().replace(" ", "").replace("-", "").replace("_", "")
    return CARRIERS.get(key, carrier.strip().lower())


def shipment_params(external_id: str, carrier: str | None, tracking: str | None) -> dict[str, Any]:
    """``order.logisticsAdd``: the seller shipped the whole shop order."""
    if not tracking or not tracking.strip():
        raise InvalidInput(f"order {external_id}: a 抖店 shipment needs the tracking number")
    return {
        "order_id": external_id,
        "company_code": company_code(carrier),
        "logistics_code": tracking.strip(),
    }


# -- the platform's answers ------------------------------------------------------------------

SUCCESS = 10000
#: answer codes (our reading of the platform's documented envelope): success, then the ones a
#: later attempt may fix (service unavailable, too many requests), the rest never will
ANSWER_CODES: dict[int, str] = {
    10000: "success",
    20000: "服务不可用 (service unavailable; retry)",
    30001: "调用频率超限 (too many requests; retry later)",
    30002: "access_token 无效或过期 (authorisation to renew)",
    40003: "参数错误 (invalid parameter)",
    40004: "签名校验失败 (bad signature)",
    50002: "业务处理失败 (business rule, e.g. the order is closed)",
}
RETRYABLE = frozenset({20000, 30001})


@dataclass(frozen=True, slots=True)
class Answer:
    code: int
    message: str
    data: Any

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE


def read_answer(body: bytes) -> Answer:
    """The platform's envelope; the older ``err_no`` (0 = success) is read too."""
    envelope = json.loads(body)
    if not isinstance(envelope, dict):
        raise ValueError("the answer is not a JSON object")
    if "code" in envelope:
        code = int(envelope["code"])
    elif "err_no" in envelope:
        code = SUCCESS if int(envelope["err_no"]) == 0 else int(envelope["err_no"])
    else:
        raise ValueError("the answer has neither code nor err_no")
    message = " / ".join(
        str(envelope[k]) for k in ("msg", "message", "sub_code", "sub_msg") if envelope.get(k)
    )
    return Answer(code, message, envelope.get("data"))
