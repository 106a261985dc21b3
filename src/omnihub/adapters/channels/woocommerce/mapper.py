"""WooCommerce order JSON (REST API v3, which webhooks send too) <-> the hub's canonical order.

Pure functions, no I/O. An order's state is its ``status``; the table below says what each
core status means to the hub. A status not in it (a plugin's own) is refused with
``UnknownChannelStatus`` unless the channel's ``credentials.statuses`` names it.

Amounts: WooCommerce splits tax out of every line (``subtotal``/``total`` exclude it, even in
shops whose prices include tax); the hub's line amounts are what the buyer pays for the line,
tax included, so lines plus shipping add up to the order ``total`` (fee lines aside).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any
from zoneinfo import ZoneInfo

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

CHANNEL = "woocommerce"
S = OrderStatus
UTC = ZoneInfo("UTC")

#: Every core order status of WooCommerce -> the hub's status.
#: ``on-hold`` waits for the shop to confirm a payment (bank transfer, cheque) and ``failed``
#: is a payment the buyer may still retry: both are unpaid (created), never final.
#: ``trash`` is an order the shop deleted: cancelled. ``checkout-draft`` is a cart in the
#: block checkout, not placed yet: created (nothing is reserved for an unpaid order).
#: ``completed`` is fulfilled and closed on the shop.
STATUS: dict[str, OrderStatus] = {
    "pending": S.CREATED,
    "processing": S.PAID,
    "on-hold": S.CREATED,
    "completed": S.COMPLETED,
    "cancelled": S.CANCELLED,
    "refunded": S.REFUNDED,
    "failed": S.CREATED,
    "trash": S.CANCELLED,
    "checkout-draft": S.CREATED,
}

#: The other way: the WooCommerce status the hub sets for each status it pushes, and the one
#: that says a canonical status. WooCommerce has no "shipped" in core: a shipped order is
#: ``completed``.
TO_WOOCOMMERCE: dict[OrderStatus, str] = {
    S.CREATED: "pending",
    S.PAID: "processing",
    S.SHIPPED: "completed",
    S.DELIVERED: "completed",
    S.COMPLETED: "completed",
    S.CANCELLED: "cancelled",
    S.REFUNDED: "refunded",
}

#: statuses in which goods have not left: an open refund there is a refund request
NOT_SHIPPED = frozenset({"processing", "on-hold", "pending"})


def line_identity(line: dict[str, Any]) -> str:
    """The channel SKU a mapping matches: the line's ``sku`` when the product has one, else
    its ``variation_id`` (when it is a variation), else its ``product_id``."""
    sku = text(line.get("sku"))
    if sku:
        return sku
    for key in ("variation_id", "product_id"):
        value = line.get(key)
        if value not in (None, "", 0, "0"):
            return str(value)
    raise UnreadablePayload(
        f"line item {line.get('id')} has no sku, variation_id or "
        "product_id to match a SKU mapping with"
    )


def order_status(
    native: dict[str, Any], extra: dict[str, str] | None = None
) -> tuple[OrderStatus, bool]:
    """The hub's status and whether a refund before shipment is open."""
    status = native.get("status")
    table = STATUS
    if extra:
        table = {**STATUS, **{k: OrderStatus(v) for k, v in extra.items()}}
    if not isinstance(status, str) or status not in table:
        raise UnknownChannelStatus(CHANNEL, status)
    refunds = native.get("refunds") or []
    return table[status], bool(refunds) and status in NOT_SHIPPED


def moment(native: dict[str, Any], name: str, zone: ZoneInfo = SHANGHAI) -> Any:
    """``<name>_gmt`` read as UTC when present, else ``<name>`` in the shop's time zone;
    None when neither is set."""
    gmt = native.get(f"{name}_gmt")
    if gmt:
        return local_time(gmt, UTC)
    local = native.get(name)
    return local_time(local, zone) if local else None


def to_order(
    native: dict[str, Any],
    *,
    channel: str,
    raw: str = "",
    zone: ZoneInfo = SHANGHAI,
    statuses: dict[str, str] | None = None,
) -> IngestOrder:
    """One WooCommerce order (webhook body or REST answer) as the hub's canonical order.
    ``zone`` is the shop's time zone, for times without their ``_gmt`` twin."""
    external_id = str(field(native, "id")).strip()
    if not external_id or external_id == "0":
        raise UnreadablePayload("the WooCommerce order has no id")
    currency = text(native.get("currency")) or "CNY"
    status, refund_open = order_status(native, statuses)
    created_at = moment(native, "date_created", zone)
    if created_at is None:
        raise UnreadablePayload(f"WooCommerce order {external_id} has no date_created")
    updated_at = moment(native, "date_modified", zone) or created_at
    line_items = native.get("line_items")
    if not isinstance(line_items, list) or not line_items:
        raise UnreadablePayload(f"WooCommerce order {external_id} has no line_items")
    lines = [_line(item, currency) for item in line_items]
    shipping = Money.of("0", currency)
    for shipping_line in native.get("shipping_lines") or ():
        shipping += money(shipping_line.get("total"), currency)
        shipping += money(shipping_line.get("total_tax"), currency)
    total = money(native.get("total"), currency)
    cod = native.get("payment_method") == "cod"
    paid_at = moment(native, "date_paid", zone)
    payment = None
    if paid_at is not None and not cod and status in (S.PAID, S.COMPLETED):
        payment = Payment(
            provider=f"woocommerce:{text(native.get('payment_method')) or 'unknown'}",
            transaction_id=text(native.get("transaction_id")) or f"order-{external_id}",
            amount=total,
            paid_at=paid_at,
        )
    return IngestOrder(
        channel=channel,
        external_id=external_id,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        delivery=DeliveryMode.EXPRESS,
        lines=lines,
        buyer=_buyer(native),
        ship_to=_address(native),
        shipping_fee=shipping,
        total=total,
        payment=payment,
        remark=text(native.get("customer_note")) or "",
        cod=cod,
        refund_requested=refund_open,
        raw=raw,
    )


def _line(item: Any, currency: str) -> IncomingLine:
    if not isinstance(item, dict):
        raise UnreadablePayload("a WooCommerce line item must be an object")
    qty = quantity(field(item, "quantity"))
    subtotal = money(item.get("subtotal"), currency) + money(item.get("subtotal_tax"), currency)
    total = money(item.get("total"), currency) + money(item.get("total_tax"), currency)
    unit, discount = gross_prices(subtotal, total, qty)
    return IncomingLine(
        channel_sku=line_identity(item), qty=qty, unit_price=unit, discount=discount
    )


def gross_prices(before_discount: Money, after_discount: Money, qty: int) -> tuple[Money, Money]:
    """A unit price and a line discount whose ``unit * qty - discount`` is exactly what the
    buyer pays for the line, without a negative discount when the amount does not divide."""
    base = max(before_discount.amount, after_discount.amount)
    unit = (base / qty).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    currency = before_discount.currency
    return Money(unit, currency), Money(unit * qty - after_discount.amount, currency)


def _name(block: dict[str, Any]) -> str | None:
    return (
        " ".join(p for p in (text(block.get("first_name")), text(block.get("last_name"))) if p)
        or None
    )


def _buyer(native: dict[str, Any]) -> Buyer:
    billing = native.get("billing") or {}
    customer = native.get("customer_id")
    name, phone, email = _name(billing), text(billing.get("phone")), text(billing.get("email"))
    return Buyer(
        channel_buyer_id=None if customer in (None, "", 0, "0") else str(customer),
        name=name,
        phone=phone,
        email=email,
        masked=masked_fields(name=name, phone=phone, email=email),
    )


def _address(native: dict[str, Any]) -> Address:
    """The shipping address; the billing one when the order has none (WooCommerce leaves
    shipping empty when the buyer ships to the billing address or buys virtual goods)."""
    shipping = native.get("shipping") or {}
    billing = native.get("billing") or {}
    block = shipping if text(shipping.get("address_1")) else billing
    if not isinstance(block, dict) or not block:
        return Address()
    street = " ".join(p for p in (text(block.get("address_1")), text(block.get("address_2"))) if p)
    values: dict[str, Any] = {
        "name": _name(block),
        "phone": text(block.get("phone")) or text(billing.get("phone")),
        "province": text(block.get("state")),
        "city": text(block.get("city")),
        "address": street or None,
        "postcode": text(block.get("postcode")),
    }
    return Address(**values, masked=masked_fields(**values))


# -- canonical -> WooCommerce (round trips of the mapper) ------------------------------------


def to_native(
    order: IngestOrder, *, order_id: int, products: dict[str, tuple[int, int]] | None = None
) -> dict[str, Any]:
    """A WooCommerce REST order for a canonical order: what ``to_order`` reads back unchanged.
    ``products``: channel SKU -> (product_id, variation_id) of the shop's catalogue."""
    products = products or {}
    status = TO_WOOCOMMERCE.get(order.status, "processing")
    gmt = "%Y-%m-%dT%H:%M:%S"
    created = order.created_at.astimezone(UTC)
    modified = order.updated_at.astimezone(UTC)
    line_items = []
    for n, line in enumerate(order.lines, start=1):
        product_id, variation_id = products.get(line.channel_sku, (0, 0))
        if not product_id and line.channel_sku.isdigit():
            product_id = int(line.channel_sku)
        amount = line.unit_price.times(line.qty)
        line_items.append(
            {
                "id": order_id * 10 + n,
                "name": line.channel_sku,
                "product_id": product_id,
                "variation_id": variation_id,
                "quantity": line.qty,
                "tax_class": "",
                "subtotal": str(amount),
                "subtotal_tax": "0.00",
                "total": str(amount - line.discount),
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
                "sku": "" if line.channel_sku.isdigit() else line.channel_sku,
                "price": float((amount - line.discount).amount / line.qty),
            }
        )
    first, _, last = (order.buyer.name or "").partition(" ")
    a = order.ship_to
    ship_first, _, ship_last = (a.name or "").partition(" ")
    paid = order.payment
    return {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "order_key": f"wc_order_{order_id:x}",
        "created_via": "checkout",
        "version": "8.5.0",
        "status": status,
        "currency": order.total.currency,
        "date_created": created.astimezone(SHANGHAI).strftime(gmt),
        "date_created_gmt": created.strftime(gmt),
        "date_modified": modified.astimezone(SHANGHAI).strftime(gmt),
        "date_modified_gmt": modified.strftime(gmt),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": str(order.shipping_fee),
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": str(order.total),
        "total_tax": "0.00",
        "prices_include_tax": True,
        "customer_id": int(order.buyer.channel_buyer_id or 0),
        "customer_note": order.remark,
        "billing": {
            "first_name": first,
            "last_name": last,
            "company": "",
            "address_1": a.address or "",
            "address_2": "",
            "city": a.city or "",
            "state": a.province or "",
            "postcode": a.postcode or "",
            "country": "CN",
            "email": order.buyer.email or "",
            "phone": order.buyer.phone or "",
        },
        "shipping": {
            "first_name": ship_first,
            "last_name": ship_last,
            "company": "",
            "address_1": a.address or "",
            "address_2": "",
            "city": a.city or "",
            "state": a.province or "",
            "postcode": a.postcode or "",
            "country": "CN",
            "phone": a.phone or "",
        },
        "payment_method": "cod"
        if order.cod
        else (paid.provider.removeprefix("woocommerce:") if paid else "bacs"),
        "payment_method_title": "Cash on delivery" if order.cod else "Online payment",
        "transaction_id": paid.transaction_id if paid else "",
        "date_paid": paid.paid_at.astimezone(SHANGHAI).strftime(gmt) if paid else None,
        "date_paid_gmt": paid.paid_at.astimezone(UTC).strftime(gmt) if paid else None,
        "date_completed": None,
        "date_completed_gmt": None,
        "meta_data": [],
        "line_items": line_items,
        "tax_lines": [],
        "shipping_lines": [
            {
                "id": order_id * 10,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "total": str(order.shipping_fee),
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        ],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [{"id": order_id * 10 + 9, "reason": "buyer asked", "total": "-1.00"}]
        if order.refund_requested
        else [],
    }
