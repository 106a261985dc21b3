"""Shopify order JSON (REST Admin API / order webhooks) <-> the hub's canonical order.

Pure functions, no I/O. Shopify describes an order's state with two fields and a timestamp:
``financial_status`` (the money), ``fulfillment_status`` (the goods) and ``cancelled_at``. The
tables below say what each value means to the hub; a value not in them is refused with
``UnknownChannelStatus`` so a new Shopify status is noticed, never guessed.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
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
from omnihub.ports import UnknownChannelStatus, UnreadablePayload

CHANNEL = "shopify"
S = OrderStatus

#: ``financial_status`` -> the hub's status of an order that is neither cancelled nor shipped.
#: ``authorized`` is paid for the hub: the money is held for the shop and is captured when the
#: goods ship (manual capture). ``partially_refunded`` stays paid; before shipment it also
#: marks a refund request (see ``order_status``).
FINANCIAL_STATUS: dict[str, OrderStatus] = {
    "pending": S.CREATED,
    "authorized": S.PAID,
    "partially_paid": S.CREATED,
    "paid": S.PAID,
    "partially_refunded": S.PAID,
    "refunded": S.REFUNDED,
    "voided": S.CANCELLED,
}

#: ``fulfillment_status`` -> how far the goods went. REST sends null for nothing shipped;
#: webhooks of some API versions say "unfulfilled" or "pending"; "restocked" is the legacy
#: value of goods that shipped and came back.
FULFILLMENT_STATUS: dict[str | None, str] = {
    None: "unfulfilled",
    "unfulfilled": "unfulfilled",
    "pending": "unfulfilled",
    "partial": "partial",
    "fulfilled": "fulfilled",
    "restocked": "fulfilled",
}

#: The other way: the Shopify state that matches each canonical status (a shipment push makes
#: Shopify's order ``fulfilled``).
TO_SHOPIFY: dict[OrderStatus, tuple[str, str | None, bool]] = {
    # status: (financial_status, fulfillment_status, cancelled)
    S.CREATED: ("pending", None, False),
    S.PAID: ("paid", None, False),
    S.CANCELLED: ("voided", None, True),
    S.REFUNDED: ("refunded", None, False),
    S.SHIPPED: ("paid", "fulfilled", False),
}

#: Manual payment methods whose orders stay ``pending`` until the courier collects the money.
COD_GATEWAYS = ("cash on delivery", "cod")


def unwrap(native: dict[str, Any]) -> dict[str, Any]:
    """The order itself, whether given bare (a webhook body) or as ``{"order": {...}}``."""
    inner = native.get("order")
    if isinstance(inner, dict) and "id" not in native:
        return inner
    return native


def line_identity(line: dict[str, Any]) -> str:
    """The channel SKU a mapping matches: the merchant's ``sku`` when the variant has one, else
    ``variant_id``, else ``product_id``; a custom item (no product) is ``custom:<title>``."""
    sku = text(line.get("sku"))
    if sku:
        return sku
    for key in ("variant_id", "product_id"):
        value = line.get(key)
        if value not in (None, "", 0):
            return str(value)
    title = text(line.get("title")) or text(line.get("name"))
    if title:
        return f"custom:{title}"
    raise UnreadablePayload(
        f"line item {line.get('id')} has no sku, variant_id, product_id "
        "or title to match a SKU mapping with"
    )


def is_cod(native: dict[str, Any]) -> bool:
    names = [native.get("gateway"), *(native.get("payment_gateway_names") or [])]
    return any(
        isinstance(name, str) and name.strip().lower().startswith(COD_GATEWAYS) for name in names
    )


def order_status(native: dict[str, Any]) -> tuple[OrderStatus, bool]:
    """The hub's status of a Shopify order and whether a refund before shipment is open."""
    financial = native.get("financial_status")
    if financial not in FINANCIAL_STATUS:
        raise UnknownChannelStatus(CHANNEL, financial)
    fulfilment_value = native.get("fulfillment_status")
    if fulfilment_value not in FULFILLMENT_STATUS:
        raise UnknownChannelStatus(CHANNEL, f"fulfillment_status {fulfilment_value}")
    fulfilment = FULFILLMENT_STATUS[fulfilment_value]
    if native.get("cancelled_at"):
        if fulfilment == "fulfilled" and financial == "refunded":
            return S.REFUNDED, False  # shipped, came back, cancelled and refunded
        return S.CANCELLED, False
    status = FINANCIAL_STATUS[financial]
    if status is S.CREATED and financial == "pending" and is_cod(native):
        status = S.PAID  # cash on delivery: ready to ship, the courier collects the money
    if status is S.PAID and fulfilment == "fulfilled":
        return S.SHIPPED, False
    refund_open = financial == "partially_refunded" and fulfilment != "fulfilled"
    return status, refund_open


def to_order(native: dict[str, Any], *, channel: str, raw: str = "") -> IngestOrder:
    """One Shopify order (webhook body or REST ``order``) as the hub's canonical order."""
    order = unwrap(native)
    external_id = str(field(order, "id")).strip()
    if not external_id:
        raise UnreadablePayload("the Shopify order has an empty id")
    currency = text(order.get("currency")) or "CNY"
    status, refund_open = order_status(order)
    created_at = local_time(field(order, "created_at"))
    updated_at = local_time(order.get("updated_at") or order["created_at"])
    taxes_included = bool(order.get("taxes_included"))
    line_items = order.get("line_items")
    if not isinstance(line_items, list) or not line_items:
        raise UnreadablePayload(f"Shopify order {external_id} has no line_items")
    lines = [_line(item, currency, taxes_included) for item in line_items]
    shipping = Money.of("0", currency)
    for shipping_line in order.get("shipping_lines") or ():
        price = shipping_line.get("discounted_price", shipping_line.get("price"))
        shipping += money(price, currency)
        if not taxes_included:
            shipping += _tax(shipping_line, currency)
    cod = is_cod(order)
    payment = None
    if status in (S.PAID, S.SHIPPED) and not cod:
        gateway = text(order.get("gateway")) or next(
            (text(n) for n in order.get("payment_gateway_names") or () if text(n)), None
        )
        payment = Payment(
            provider=f"shopify:{gateway or 'payments'}",
            transaction_id=external_id,
            amount=money(order.get("total_price"), currency),
            paid_at=local_time(order.get("processed_at") or order["created_at"]),
        )
    return IngestOrder(
        channel=channel,
        external_id=external_id,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        delivery=DeliveryMode.EXPRESS,
        lines=lines,
        buyer=_buyer(order),
        ship_to=_address(order.get("shipping_address") or order.get("billing_address")),
        shipping_fee=shipping,
        total=money(order.get("total_price"), currency),
        payment=payment,
        remark=text(order.get("note")) or "",
        cod=cod,
        refund_requested=refund_open,
        raw=raw,
    )


def _line(item: dict[str, Any], currency: str, taxes_included: bool) -> IncomingLine:
    if not isinstance(item, dict):
        raise UnreadablePayload("a Shopify line item must be an object")
    qty = quantity(field(item, "quantity"))
    price = money(field(item, "price"), currency)
    allocations = item.get("discount_allocations") or []
    if allocations:
        discount = Money.of("0", currency)
        for allocation in allocations:
            discount += money(allocation.get("amount"), currency)
    else:
        discount = money(item.get("total_discount"), currency)
    before = price.times(qty)
    tax = Money.of("0", currency) if taxes_included else _tax(item, currency)
    unit, line_discount = gross_prices(before + tax, before - discount + tax, qty)
    return IncomingLine(
        channel_sku=line_identity(item), qty=qty, unit_price=unit, discount=line_discount
    )


def gross_prices(before_discount: Money, after_discount: Money, qty: int) -> tuple[Money, Money]:
    """A unit price and a line discount whose ``unit * qty - discount`` is exactly what the
    buyer pays for the line, without a negative discount when the amount does not divide."""
    currency = before_discount.currency
    base = max(before_discount.amount, after_discount.amount)
    unit = (base / qty).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    return Money(unit, currency), Money(unit * qty - after_discount.amount, currency)


def _tax(item: dict[str, Any], currency: str) -> Money:
    total = Money.of("0", currency)
    for tax_line in item.get("tax_lines") or ():
        total += money(tax_line.get("price"), currency)
    return total


def _buyer(order: dict[str, Any]) -> Buyer:
    customer = order.get("customer") or {}
    name = (
        " ".join(
            part
            for part in (text(customer.get("first_name")), text(customer.get("last_name")))
            if part
        )
        or None
    )
    phone = text(customer.get("phone")) or text(order.get("phone"))
    email = (
        text(order.get("email")) or text(order.get("contact_email")) or text(customer.get("email"))
    )
    buyer_id = customer.get("id")
    return Buyer(
        channel_buyer_id=str(buyer_id) if buyer_id not in (None, "") else None,
        name=name,
        phone=phone,
        email=email,
        masked=masked_fields(name=name, phone=phone, email=email),
    )


def _address(native: Any) -> Address:
    if not isinstance(native, dict):
        return Address()
    name = (
        text(native.get("name"))
        or " ".join(p for p in (text(native.get("first_name")), text(native.get("last_name"))) if p)
        or None
    )
    street = " ".join(p for p in (text(native.get("address1")), text(native.get("address2"))) if p)
    values: dict[str, Any] = {
        "name": name,
        "phone": text(native.get("phone")),
        "province": text(native.get("province")),
        "city": text(native.get("city")),
        "address": street or None,
        "postcode": text(native.get("zip")),
    }
    return Address(
        **values,
        lat=_coordinate(native.get("latitude")),
        lon=_coordinate(native.get("longitude")),
        masked=masked_fields(**values),
    )


def _coordinate(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


# -- canonical -> Shopify (round trips of the mapper) ----------------------------------------


def to_native(order: IngestOrder, *, order_id: int, number: int) -> dict[str, Any]:
    """A Shopify order JSON for a canonical order: what ``to_order`` reads back unchanged."""
    financial, fulfilment, cancelled = TO_SHOPIFY.get(order.status, ("paid", None, False))
    if order.refund_requested:
        financial = "partially_refunded"
    if order.cod and financial == "paid":
        financial = "pending"
    currency = order.total.currency
    created = order.created_at.isoformat()
    line_items = []
    for n, line in enumerate(order.lines, start=1):
        by_sku = not line.channel_sku.isdigit()
        line_items.append(
            {
                "id": order_id * 100 + n,
                "sku": line.channel_sku if by_sku else "",
                "variant_id": None if by_sku else int(line.channel_sku),
                "product_id": 7_000_000 + n,
                "title": line.channel_sku,
                "quantity": line.qty,
                "price": str(line.unit_price),
                "total_discount": str(line.discount),
                "discount_allocations": [],
                "tax_lines": [],
                "fulfillable_quantity": 0 if fulfilment else line.qty,
            }
        )
    a, b = order.ship_to, order.buyer
    first, _, last = (b.name or "").partition(" ")
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "order_number": number,
        "email": b.email,
        "phone": b.phone,
        "created_at": created,
        "updated_at": order.updated_at.isoformat(),
        "processed_at": created,
        "cancelled_at": order.updated_at.isoformat() if cancelled else None,
        "cancel_reason": "customer" if cancelled else None,
        "closed_at": None,
        "test": False,
        "currency": currency,
        "presentment_currency": currency,
        "taxes_included": True,
        "financial_status": financial,
        "fulfillment_status": fulfilment,
        "gateway": "Cash on Delivery (COD)" if order.cod else "shopify_payments",
        "payment_gateway_names": ["Cash on Delivery (COD)" if order.cod else "shopify_payments"],
        "note": order.remark or None,
        "total_price": str(order.total),
        "total_tax": "0.00",
        "line_items": line_items,
        "shipping_lines": [
            {
                "id": order_id * 10,
                "title": "Standard",
                "code": "Standard",
                "source": "shopify",
                "price": str(order.shipping_fee),
                "discounted_price": str(order.shipping_fee),
                "tax_lines": [],
            }
        ],
        "customer": {
            "id": int(b.channel_buyer_id or "0") or None,
            "first_name": first or None,
            "last_name": last or None,
            "email": b.email,
            "phone": b.phone,
        },
        "shipping_address": {
            "name": a.name,
            "phone": a.phone,
            "province": a.province,
            "city": a.city,
            "address1": a.address,
            "address2": None,
            "zip": a.postcode,
            "country": "China",
            "country_code": "CN",
            "latitude": a.lat,
            "longitude": a.lon,
        },
        "refunds": [],
    }
