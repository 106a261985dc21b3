"""Our WeChat mini-program's orders ↔ the hub's canonical order: pure functions and tables.

The mini-program's back end sends the hub's canonical order JSON (the body of
``POST /api/v1/orders``) with a WeChat buyer: ``buyer.openid`` (this channel's buyer id) and
``buyer.unionid`` (the same person across the retailer's WeChat apps), and may add
``refund_requested: true`` while a buyer's refund request is open. What the hub sends back is
canonical JSON too: a SKU's sellable quantity and an order's new status.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from omnihub.adapters.native import field, local_time, masked_fields, quantity, text
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Address, Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

S = OrderStatus

#: the statuses the mini-program reports (its own words are the hub's) -> canonical
STATUS: dict[str, OrderStatus] = {
    "created": S.CREATED,
    "paid": S.PAID,
    "cancelled": S.CANCELLED,
    "refunded": S.REFUNDED,
    "shipped": S.SHIPPED,
    "delivered": S.DELIVERED,
    "completed": S.COMPLETED,
}
#: the hub's statuses pushed back to the mini-program (``POST <endpoint>/orders/status``)
TO_NATIVE: dict[OrderStatus, str] = {
    S.SHIPPED: "shipped",
    S.DELIVERED: "delivered",
    S.CANCELLED: "cancelled",
    S.REFUNDED: "refunded",
}
DELIVERY: dict[str, DeliveryMode] = {mode.value: mode for mode in DeliveryMode}


def canonical_status(value: Any) -> OrderStatus:
    status = STATUS.get(str(value).strip().lower()) if value is not None else None
    if status is None:
        raise UnknownChannelStatus("miniapp", value)
    return status


def amount(value: Any, what: str, currency: str = "CNY") -> Money:
    """Money as the canonical contract gives it: a string such as "59.00" (or a whole
    number), never a float, never negative, at most two decimals."""
    if value is None or value == "":
        return Money.of("0", currency)
    if isinstance(value, bool | float):
        raise UnreadablePayload(f'{what}: give money as a string such as "59.00", not {value!r}')
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise UnreadablePayload(f"{what}: {value!r} is not an amount of money") from exc
    if not number.is_finite() or number < 0 or number != number.quantize(Decimal("0.01")):
        raise UnreadablePayload(f"{what}: {value!r} is not an amount of money in cents")
    return Money.of(number, currency)


def to_order(channel: str, native: dict[str, Any], raw: str) -> IngestOrder:
    """A canonical order from the mini-program as the hub's ``IngestOrder``. The channel is the
    one the message came in on, whatever the body's ``channel`` says."""
    external_id = text(field(native, "external_id"))
    if external_id is None:
        raise UnreadablePayload("external_id is empty")
    currency = str(native.get("currency") or "CNY")
    status = canonical_status(native.get("status", "created"))
    created_at = local_time(field(native, "created_at"))
    updated = native.get("updated_at")
    updated_at = local_time(updated) if updated else created_at
    delivery = DELIVERY.get(str(native.get("delivery") or "express"))
    if delivery is None:
        raise UnreadablePayload(
            f"delivery {native.get('delivery')!r} is not one of {', '.join(DELIVERY)}"
        )
    pickup = text(native.get("pickup_location"))
    if delivery is DeliveryMode.PICKUP and pickup is None:
        raise UnreadablePayload("a pickup order must name its pickup_location (the store)")
    native_lines = native.get("lines")
    if not isinstance(native_lines, list) or not native_lines:
        raise UnreadablePayload(f"order {external_id} has no lines")
    lines = [_line(number, item, currency) for number, item in enumerate(native_lines, start=1)]
    shipping = amount(native.get("shipping_fee"), "shipping_fee", currency)
    goods = sum(
        (ln.unit_price.times(ln.qty) - ln.discount for ln in lines), Money.of("0", currency)
    )
    total = native.get("total")
    return IngestOrder(
        channel=channel,
        external_id=external_id,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        delivery=delivery,
        lines=lines,
        buyer=_buyer(native.get("buyer")),
        ship_to=_address(native.get("ship_to")),
        pickup_location=pickup,
        shipping_fee=shipping,
        total=amount(total, "total", currency) if total is not None else goods + shipping,
        payment=_payment(native.get("payment"), currency),
        remark=str(native.get("remark") or ""),
        cod=bool(native.get("cod", False)),
        refund_requested=bool(native.get("refund_requested", False)),
        raw=raw,
    )


def _line(number: int, item: Any, currency: str) -> IncomingLine:
    if not isinstance(item, dict):
        raise UnreadablePayload(f"line {number} is not an object")
    sku = text(item.get("sku"))
    identity = line_identity(item)
    if identity is None:
        raise UnreadablePayload(f"line {number} needs channel_sku or sku")
    qty = quantity(field(item, "qty"))
    unit = amount(field(item, "unit_price"), f"line {number} unit_price", currency)
    discount = amount(item.get("discount"), f"line {number} discount", currency)
    if discount.amount > unit.amount * qty:
        raise UnreadablePayload(f"line {number}: the discount is larger than the line amount")
    return IncomingLine(channel_sku=identity, qty=qty, unit_price=unit, discount=discount, sku=sku)


def line_identity(item: dict[str, Any]) -> str | None:
    """The channel SKU of a line: ``channel_sku`` (the mini-program's item code, usually our
    own SKU code), else ``sku``."""
    return text(item.get("channel_sku")) or text(item.get("sku"))


def _buyer(node: Any) -> Buyer:
    if node is None:
        return Buyer()
    if not isinstance(node, dict):
        raise UnreadablePayload("buyer must be an object")
    openid = text(node.get("openid")) or text(node.get("channel_buyer_id"))
    name, phone = text(node.get("name")), text(node.get("phone"))
    # unionid links this buyer to the same person in the retailer's other WeChat apps; the
    # buyer record has no place for it yet, so it stays in the raw payload kept with the order
    return Buyer(
        channel_buyer_id=openid,
        name=name,
        phone=phone,
        email=text(node.get("email")),
        tier=text(node.get("tier")),
        masked=masked_fields(name=name, phone=phone),
    )


def _address(node: Any) -> Address:
    if node is None:
        return Address()
    if not isinstance(node, dict):
        raise UnreadablePayload("ship_to must be an object")
    values = {
        key: text(node.get(key))
        for key in ("name", "phone", "province", "city", "district", "address", "postcode")
    }
    lat, lon = node.get("lat"), node.get("lon")
    try:
        coordinates = (
            float(lat) if lat is not None else None,
            float(lon) if lon is not None else None,
        )
    except (TypeError, ValueError) as exc:
        raise UnreadablePayload("ship_to lat/lon must be numbers") from exc
    return Address(
        **values,
        lat=coordinates[0],
        lon=coordinates[1],
        masked=masked_fields(name=values["name"], phone=values["phone"], address=values["address"]),
    )


def _payment(node: Any, currency: str) -> Payment | None:
    if node is None:
        return None
    if not isinstance(node, dict):
        raise UnreadablePayload("payment must be an object")
    transaction = text(field(node, "transaction_id"))
    if transaction is None:
        raise UnreadablePayload("payment.transaction_id is empty")
    return Payment(
        provider=text(node.get("provider")) or "wechat",
        transaction_id=transaction,
        amount=amount(field(node, "amount"), "payment.amount", currency),
        paid_at=local_time(field(node, "paid_at")),
    )


# -- what the hub sends back -----------------------------------------------------------------


def stock_body(channel_sku: str, sku: str, quantity_: int, version: int) -> dict[str, Any]:
    return {
        "channel_sku": channel_sku,
        "sku": sku,
        "quantity": max(0, int(quantity_)),
        "version": version,
    }


def status_body(
    external_id: str, status: str, carrier: str | None, tracking_number: str | None
) -> dict[str, Any]:
    native = next((name for hub, name in TO_NATIVE.items() if hub.value == status), None)
    if native is None:
        raise UnknownChannelStatus("miniapp", status)
    return {
        "external_id": external_id,
        "status": native,
        "carrier": carrier,
        "tracking_number": tracking_number,
    }
