"""Store till (POS) messages ↔ the hub's canonical order: pure functions and tables.

A till sends one message per receipt::

    {"store": "<location code>", "receipt_no": "...", "type": "sale" | "return",
     "original_receipt_no": "..." (returns), "cashier": "...",
     "sold_at": "2026-11-11 10:02:33" (the store's local time),
     "lines": [{"barcode": "..." or "sku": "...", "qty": 1, "price": "59.00",
                "discount": "0.00"}],
     "payments": [{"method": "cash" | "wechat" | "alipay" | "card", "amount": "59.00"}],
     "member_id": "..." (optional)}

A sale is an order already completed at the counter (picked up at that store, its units leave
that store's shelf at once); a return is an update of the original receipt's order to
refunded (its units go back on that shelf).
"""

from __future__ import annotations

from typing import Any

from omnihub.adapters.native import field, local_time, money, text
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

S = OrderStatus

#: receipt type -> canonical status of the order it makes or changes
STATUS: dict[str, OrderStatus] = {"sale": S.COMPLETED, "return": S.REFUNDED}
TO_NATIVE: dict[OrderStatus, str] = {status: kind for kind, status in STATUS.items()}
#: payment methods of the tills -> the provider the hub records
PAYMENT_METHODS: dict[str, str] = {
    "cash": "cash",
    "wechat": "wechat",
    "alipay": "alipay",
    "card": "card",
}


def canonical_status(value: Any) -> OrderStatus:
    status = STATUS.get(str(value).strip().lower()) if value is not None else None
    if status is None:
        raise UnknownChannelStatus("pos", value)
    return status


def to_order(
    channel: str, receipt: dict[str, Any], raw: str, store: str | None = None
) -> IngestOrder:
    """A till's receipt as the hub's ``IngestOrder``; ``store`` is the one store this channel
    speaks for, when it speaks for one (a receipt of another store is refused)."""
    at_store = text(field(receipt, "store"))
    if at_store is None:
        raise UnreadablePayload("the receipt names no store")
    if store is not None and at_store != store:
        raise UnreadablePayload(
            f"a receipt of store {at_store} came in on the channel of store {store}"
        )
    receipt_no = text(field(receipt, "receipt_no"))
    if receipt_no is None:
        raise UnreadablePayload("receipt_no is empty")
    status = canonical_status(field(receipt, "type"))
    returning = status is S.REFUNDED
    external_id = receipt_no
    if returning:
        external_id = text(receipt.get("original_receipt_no")) or ""
        if not external_id:
            raise UnreadablePayload(f"return {receipt_no} names no original_receipt_no")
    sold_at = local_time(field(receipt, "sold_at"))
    native_lines = receipt.get("lines")
    if not isinstance(native_lines, list) or not native_lines:
        raise UnreadablePayload(f"receipt {receipt_no} has no lines")
    lines = [_line(n, item, returning) for n, item in enumerate(native_lines, start=1)]
    paid = _payments(receipt.get("payments"))
    goods = sum((ln.unit_price.times(ln.qty) - ln.discount for ln in lines), Money.of("0"))
    payment = None
    if paid and not returning:
        methods = "+".join(dict.fromkeys(method for method, _ in paid))
        payment = Payment(
            provider=methods,
            transaction_id=f"{at_store}:{receipt_no}",
            amount=sum((a for _, a in paid), Money.of("0")),
            paid_at=sold_at,
        )
    member = text(receipt.get("member_id"))
    return IngestOrder(
        channel=channel,
        external_id=external_id,
        status=status,
        created_at=sold_at,
        updated_at=sold_at,
        delivery=DeliveryMode.PICKUP,
        lines=lines,
        buyer=Buyer(channel_buyer_id=member, member_id=member),
        pickup_location=at_store,
        total=payment.amount if payment is not None else goods,
        payment=payment,
        remark=f"returned at {at_store} on receipt {receipt_no}" if returning else "",
        counter_sale=True,
        raw=raw,
    )


def _line(number: int, item: Any, returning: bool) -> IncomingLine:
    if not isinstance(item, dict):
        raise UnreadablePayload(f"line {number} is not an object")
    identity = line_identity(item)
    if identity is None:
        raise UnreadablePayload(f"line {number} has neither barcode nor sku")
    try:
        qty = int(str(field(item, "qty")).strip())
    except ValueError as exc:
        raise UnreadablePayload(f"line {number}: qty {item['qty']!r} is not a count") from exc
    if returning and qty < 0:  # some tills write returned units as negative quantities
        qty = -qty
    if qty <= 0:
        raise UnreadablePayload(f"line {number}: qty must be positive, got {qty}")
    price, discount = money(field(item, "price")), money(item.get("discount"))
    if price.amount < 0 or discount.amount < 0:
        raise UnreadablePayload(f"line {number}: price and discount cannot be negative")
    if discount.amount > price.amount * qty:
        raise UnreadablePayload(f"line {number}: the discount is larger than the line amount")
    return IncomingLine(
        channel_sku=identity,
        qty=qty,
        unit_price=price,
        discount=discount,
        sku=text(item.get("sku")),
    )


def line_identity(item: dict[str, Any]) -> str | None:
    """The channel SKU of a line: the scanned ``barcode``, else the ``sku`` typed in."""
    return text(item.get("barcode")) or text(item.get("sku"))


def _payments(node: Any) -> list[tuple[str, Money]]:
    if node is None:
        return []
    if not isinstance(node, list):
        raise UnreadablePayload("payments must be a list")
    paid = []
    for number, item in enumerate(node, start=1):
        if not isinstance(item, dict):
            raise UnreadablePayload(f"payment {number} is not an object")
        method = (text(item.get("method")) or "").lower()
        if not method:
            raise UnreadablePayload(f"payment {number} has no method")
        value = money(field(item, "amount"))
        if value.amount < 0:
            raise UnreadablePayload(f"payment {number}: the amount cannot be negative")
        paid.append((PAYMENT_METHODS.get(method, method), value))
    return paid


def stock_body(
    store: str | None, channel_sku: str, sku: str, quantity: int, version: int
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel_sku": channel_sku,
        "sku": sku,
        "quantity": max(0, int(quantity)),
        "version": version,
    }
    if store:
        body["store"] = store
    return body
