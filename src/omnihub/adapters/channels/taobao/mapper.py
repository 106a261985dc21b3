"""Pure functions between the TOP (Taobao Open Platform) trade format and the hub's canonical
order, shared by Taobao and Tmall.

A trade is the ``trade`` object of ``taobao.trade.fullinfo.get``
(``{"trade_fullinfo_get_response": {"trade": {...}}}``) or one element of
``taobao.trades.sold.increment.get``: money as yuan strings ("88.00"), times as
"yyyy-MM-dd HH:mm:ss" in Asia/Shanghai, one ``orders.order[]`` element per line.

Line identity (the channel SKU a mapping matches): the line's ``outer_sku_id`` (the merchant
code of the SKU), else ``outer_iid`` (the merchant code of the item), else ``sku_id`` (the
platform's SKU id), else ``num_iid`` (the platform's item id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from omnihub.adapters.native import field, local_time, masked_fields, money, quantity, text
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import (
    Address,
    Buyer,
    IncomingLine,
    IngestOrder,
    OrderStatus,
    Payment,
)
from omnihub.domain.values import Money
from omnihub.platforms.local_time import SHANGHAI
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

S = OrderStatus

#: TOP trade status -> the hub's status. Every value the trade API documents is here; an
#: unknown one is refused (``UnknownChannelStatus``) rather than guessed.
TRADE_STATUS: dict[str, OrderStatus] = {
    # not paid yet
    "TRADE_NO_CREATE_PAY": S.CREATED,  # no Alipay trade created yet
    "WAIT_BUYER_PAY": S.CREATED,
    "PAY_PENDING": S.CREATED,  # foreign card payment being confirmed
    "WAIT_PRE_AUTH_CONFIRM": S.CREATED,  # zero-down contract (0元购) pending
    # paid, but the platform forbids shipping (group buy not formed, controlled goods): the
    # hub waits for WAIT_SELLER_SEND_GOODS before it fulfils anything
    "PAID_FORBID_CONSIGN": S.CREATED,
    # paid: the seller must ship
    "WAIT_SELLER_SEND_GOODS": S.PAID,
    # the seller shipped (part of) it: never routed again by the hub
    "SELLER_CONSIGNED_PART": S.SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": S.SHIPPED,
    "TRADE_BUYER_SIGNED": S.DELIVERED,  # cash on delivery: signed for
    "TRADE_FINISHED": S.COMPLETED,
    # closed after payment once the buyer's refund succeeded (closed before any payment, it
    # is a cancellation: see ``canonical_status``)
    "TRADE_CLOSED": S.REFUNDED,
    # closed before payment by the buyer, the seller or the platform
    "TRADE_CLOSED_BY_TAOBAO": S.CANCELLED,
}

#: The hub's status -> the TOP trade status that says it (the way back).
NATIVE_STATUS: dict[OrderStatus, str] = {
    S.CREATED: "WAIT_BUYER_PAY",
    S.PAID: "WAIT_SELLER_SEND_GOODS",
    S.SHIPPED: "WAIT_BUYER_CONFIRM_GOODS",
    S.DELIVERED: "TRADE_BUYER_SIGNED",
    S.COMPLETED: "TRADE_FINISHED",
    S.REFUNDED: "TRADE_CLOSED",
    S.CANCELLED: "TRADE_CLOSED_BY_TAOBAO",
}

#: A line's ``refund_status`` -> whether a refund request is open on it. An open request
#: holds the order (``IngestOrder.refund_requested``); a refused or closed one does not.
REFUND_OPEN: dict[str, bool] = {
    "NO_REFUND": False,
    "WAIT_SELLER_AGREE": True,  # the buyer asked, the seller has not answered
    "WAIT_BUYER_RETURN_GOODS": True,  # the seller agreed, waiting for the goods back
    "WAIT_SELLER_CONFIRM_GOODS": True,  # goods sent back, waiting for the seller to confirm
    "SELLER_REFUSE_BUYER": False,
    "CLOSED": False,  # withdrawn or closed
    "SUCCESS": False,  # refunded; before shipment it still holds the order, see below
}

#: Trade statuses in which nothing has left the seller yet (a refunded line must not ship).
BEFORE_SHIPMENT = frozenset({"WAIT_SELLER_SEND_GOODS", "PAID_FORBID_CONSIGN"})

#: The hub's carrier names (upper-case) and common Chinese names -> TOP logistics company
#: codes (``company_code`` of ``taobao.logistics.offline.send``).
CARRIER_CODES: dict[str, str] = {
    "SF": "SF",
    "SF-EXPRESS": "SF",
    "SFEXPRESS": "SF",
    "顺丰": "SF",
    "顺丰速运": "SF",
    "ZTO": "ZTO",
    "中通": "ZTO",
    "中通快递": "ZTO",
    "YTO": "YTO",
    "圆通": "YTO",
    "圆通速递": "YTO",
    "STO": "STO",
    "申通": "STO",
    "申通快递": "STO",
    "YUNDA": "YUNDA",
    "韵达": "YUNDA",
    "韵达快递": "YUNDA",
    "EMS": "EMS",
    "邮政EMS": "EMS",
    "EYB": "EYB",
    "EMS经济快递": "EYB",
    "POSTB": "POSTB",
    "邮政小包": "POSTB",
    "邮政快递包裹": "POSTB",
    "JD": "JD",
    "JDL": "JD",
    "京东": "JD",
    "京东快递": "JD",
    "京东物流": "JD",
    "DBKD": "DBKD",
    "DEPPON": "DBKD",
    "德邦": "DBKD",
    "德邦快递": "DBKD",
    "HTKY": "HTKY",
    "BEST": "HTKY",
    "百世快递": "HTKY",
    "ZJS": "ZJS",
    "宅急送": "ZJS",
    "TTKDEX": "TTKDEX",
    "天天快递": "TTKDEX",
}

#: TMC topics whose trade the hub fetches in full (``taobao.trade.fullinfo.get``): every
#: trade topic (TradeCreate, TradeBuyerPay, TradeClose, TradeSuccess, TradeMemoModified,
#: TradeChanged, TradeSellerShip, ...) and every refund topic (the refund state lives on the
#: trade's lines). Other topics (items, ratings of shops, ...) are acknowledged and ignored.
FETCH_TOPIC_PREFIXES = ("taobao_trade_", "taobao_refund_", "tmall_trade_")


# -- times and money -----------------------------------------------------------------------------


def top_time(moment: datetime) -> str:
    """A time as TOP writes it: "yyyy-MM-dd HH:mm:ss", Asia/Shanghai, whole seconds."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _money(trade: dict[str, Any], key: str) -> Money:
    return money(trade.get(key))


# -- statuses -----------------------------------------------------------------------------------


def canonical_status(trade: dict[str, Any], platform: str = "taobao") -> OrderStatus:
    """The hub's status of a trade: the table above, with one rule the table can't hold: a
    TRADE_CLOSED trade that was never paid (no ``pay_time``) was cancelled, not refunded."""
    native = text(trade.get("status"))
    if native is None:
        raise UnreadablePayload("the trade has no status")
    status = TRADE_STATUS.get(native)
    if status is None:
        raise UnknownChannelStatus(platform, native)
    if status is S.REFUNDED and not text(trade.get("pay_time")):
        return S.CANCELLED
    return status


def refund_open(line: dict[str, Any], platform: str = "taobao") -> bool:
    native = text(line.get("refund_status")) or "NO_REFUND"
    if native not in REFUND_OPEN:
        raise UnknownChannelStatus(platform, f"refund_status {native}")
    return REFUND_OPEN[native]


def refund_requested(trade: dict[str, Any], lines: list[dict[str, Any]], platform: str) -> bool:
    """True when a line has an open refund request, or a line was already refunded while the
    rest of the trade still waits to ship (the hub must not ship it as it stands; a person
    decides)."""
    # every line's refund status is read (an unknown one is refused even after an open one)
    if any([refund_open(line, platform) for line in lines]):  # noqa: C419
        return True
    status = text(trade.get("status"))
    return status in BEFORE_SHIPMENT and any(
        text(line.get("refund_status")) == "SUCCESS" for line in lines
    )


# -- lines --------------------------------------------------------------------------------------


def line_identity(line: dict[str, Any]) -> str:
    """The channel SKU of a line: ``outer_sku_id``, else ``outer_iid``, else ``sku_id``, else
    ``num_iid`` (``UnreadablePayload`` when it has none of them)."""
    for key in ("outer_sku_id", "outer_iid", "sku_id", "num_iid"):
        value = text(line.get(key))
        if value is not None:
            return value
    raise UnreadablePayload(
        f"order line {line.get('oid', '?')} has no outer_sku_id, outer_iid, sku_id or num_iid"
    )


def trade_lines(trade: dict[str, Any]) -> list[dict[str, Any]]:
    orders = trade.get("orders")
    lines = orders.get("order") if isinstance(orders, dict) else orders
    if not isinstance(lines, list) or not lines:
        raise UnreadablePayload(f"trade {trade.get('tid', '?')} has no orders.order lines")
    if not all(isinstance(line, dict) for line in lines):
        raise UnreadablePayload(f"trade {trade.get('tid', '?')}: orders.order must hold objects")
    return lines


def incoming_line(line: dict[str, Any]) -> IncomingLine:
    """One ``orders.order[]`` element. The line's discount is what the buyer did not pay of
    ``price * num``: its own discounts, the share of shop-wide promotions and the seller's
    price adjustment, so the line amount is what was paid for it (``divide_order_fee`` when
    the platform sends it, else ``payment``, else ``total_fee``)."""
    qty = quantity(field(line, "num"))
    unit_price = money(field(line, "price"))
    gross = unit_price.times(qty)
    paid_value = next(
        (line[k] for k in ("divide_order_fee", "payment", "total_fee") if text(line.get(k))),
        None,
    )
    if paid_value is None:
        discount = money(line.get("discount_fee"))
    else:
        paid = money(paid_value)
        if paid.amount < 0:
            raise UnreadablePayload(f"order line {line.get('oid', '?')} has a negative payment")
        discount = gross - paid
    if discount.amount < 0:
        discount = Money.of(Decimal("0"), unit_price.currency)  # the seller raised the price
    if discount.amount > gross.amount:
        discount = gross
    return IncomingLine(
        channel_sku=line_identity(line), qty=qty, unit_price=unit_price, discount=discount
    )


# -- the whole trade ----------------------------------------------------------------------------


def trade_of(native: dict[str, Any]) -> dict[str, Any]:
    """The trade object inside a fullinfo response, or the trade itself."""
    envelope = native.get("trade_fullinfo_get_response")
    if isinstance(envelope, dict):
        native = envelope
    inner = native.get("trade")
    if isinstance(inner, dict):
        return inner
    return native


def trade_id(trade: dict[str, Any]) -> str:
    value = text(trade.get("tid_str")) or text(trade.get("tid"))
    if value is None:
        raise UnreadablePayload("the trade has no tid")
    return value


def buyer_of(trade: dict[str, Any]) -> Buyer:
    nick = text(trade.get("buyer_nick"))
    open_uid = text(trade.get("buyer_open_uid"))
    email = text(trade.get("buyer_email"))
    buyer_id = open_uid or nick
    return Buyer(
        channel_buyer_id=buyer_id,
        name=nick,
        email=email,
        masked=masked_fields(channel_buyer_id=buyer_id, name=nick, email=email),
    )


def address_of(trade: dict[str, Any]) -> Address:
    name = text(trade.get("receiver_name"))
    phone = text(trade.get("receiver_mobile")) or text(trade.get("receiver_phone"))
    street = text(trade.get("receiver_address"))
    town = text(trade.get("receiver_town"))
    if town and street and not street.startswith(town):
        street = f"{town}{street}"
    values: dict[str, Any] = {
        "name": name,
        "phone": phone,
        "province": text(trade.get("receiver_state")),
        "city": text(trade.get("receiver_city")),
        "district": text(trade.get("receiver_district")),
        "address": street or town,
        "postcode": text(trade.get("receiver_zip")),
    }
    return Address(**values, masked=masked_fields(**values))


def payment_of(trade: dict[str, Any]) -> Payment | None:
    pay_time = text(trade.get("pay_time"))
    if pay_time is None:
        return None
    return Payment(
        provider="alipay",
        transaction_id=text(trade.get("alipay_no")) or trade_id(trade),
        amount=_money(trade, "payment"),
        paid_at=local_time(pay_time),
    )


def to_ingest(
    native: dict[str, Any], *, channel: str, platform: str = "taobao", raw: str = ""
) -> IngestOrder:
    """A TOP trade (bare or in its fullinfo envelope) as the hub's canonical order."""
    trade = trade_of(native)
    external_id = trade_id(trade)
    lines = trade_lines(trade)
    status = canonical_status(trade, platform)
    created = local_time(field(trade, "created"))
    modified = local_time(trade["modified"]) if text(trade.get("modified")) else created
    return IngestOrder(
        channel=channel,
        external_id=external_id,
        status=status,
        created_at=created,
        updated_at=modified,
        delivery=DeliveryMode.EXPRESS,
        lines=[incoming_line(line) for line in lines],
        buyer=buyer_of(trade),
        ship_to=address_of(trade),
        shipping_fee=_money(trade, "post_fee"),
        total=_money(trade, "payment"),
        payment=payment_of(trade),
        remark=text(trade.get("buyer_message")) or "",
        cod=text(trade.get("type")) == "cod",
        refund_requested=refund_requested(trade, lines, platform),
        raw=raw or json.dumps(native, ensure_ascii=False),
    )


# -- pushed messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """What one pushed message asks of the hub: fetch trade ``tid`` in full, or nothing."""

    message_id: str | None
    topic: str
    tid: str | None
    """set when the hub must fetch the trade; None for a topic the hub ignores"""


def tmc_notice(message: Any) -> Notice:
    """One TMC message (``topic``, ``content`` a JSON string, ``id``, ``pub_time``, ...)."""
    if not isinstance(message, dict):
        raise UnreadablePayload("a TMC message must be a JSON object")
    topic = text(message.get("topic"))
    if topic is None:
        raise UnreadablePayload("the TMC message has no topic")
    message_id = text(message.get("id"))
    if not topic.startswith(FETCH_TOPIC_PREFIXES):
        return Notice(message_id, topic, None)
    content = message.get("content")
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError as exc:
            raise UnreadablePayload(
                f"TMC message {message_id or '?'} ({topic}): content is not valid JSON: {exc}"
            ) from exc
    if not isinstance(content, dict):
        raise UnreadablePayload(f"TMC message {message_id or '?'} ({topic}) has no content")
    tid = text(content.get("tid"))
    if tid is None:
        raise UnreadablePayload(f"TMC message {message_id or '?'} ({topic}) names no tid")
    return Notice(message_id, topic, tid)


def comet_notice(body: dict[str, Any]) -> Notice:
    """An old TOP comet (主动通知) message: ``notify_trade`` / ``notify_refund`` (fetched) or
    another ``notify_*`` (ignored). It has no message id: its identity is what it says."""
    kind = next(k for k in body if k.startswith("notify_"))
    message = body[kind]
    if not isinstance(message, dict):
        raise UnreadablePayload(f"{kind} must be a JSON object")
    status = text(message.get("status")) or "?"
    topic = f"{kind}.{status}"
    if kind not in ("notify_trade", "notify_refund"):
        return Notice(None, topic, None)
    tid = text(message.get("tid"))
    if tid is None:
        raise UnreadablePayload(f"{kind} ({status}) names no tid")
    return Notice(f"{kind}:{tid}:{status}:{text(message.get('modified')) or ''}", topic, tid)


def notices(body: dict[str, Any]) -> list[Notice] | None:
    """The notices in a pushed body, or None when the body is a whole trade instead."""
    if isinstance(body.get("tmc_message"), list):
        return [tmc_notice(m) for m in body["tmc_message"]]
    if isinstance(body.get("tmc_message"), dict):
        return [tmc_notice(body["tmc_message"])]
    if "topic" in body and "content" in body:
        return [tmc_notice(body)]
    if any(k.startswith("notify_") for k in body):
        return [comet_notice(body)]
    return None


def carrier_code(carrier: str) -> str | None:
    """The TOP logistics company code of a carrier name, or None when the table lacks it."""
    return CARRIER_CODES.get(carrier.strip().upper()) or CARRIER_CODES.get(carrier.strip())
