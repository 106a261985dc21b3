"""Request bodies of the public contract (pydantic); responses are built in presenters.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from omnihub.domain.inventory import MovementKind
from omnihub.domain.locations import DeliveryMode, LocationType, Service
from omnihub.domain.orders import OrderStatus


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('give money as a string such as "59.00", not a number')
    return value


MAX_MONEY = Decimal("999999999999.99")
MoneyField = Annotated[
    Decimal, BeforeValidator(_no_float), Field(ge=0, max_digits=14, decimal_places=2)
]
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
    ),
]
Text = Annotated[str, StringConstraints(max_length=500)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it on every database alike
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return value


class SkuIn(Body):
    sku: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    barcode: Annotated[str, StringConstraints(max_length=64)] | None = None
    price: MoneyField
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"


class MappingIn(Body):
    channel: Code
    channel_sku: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    sku: Code


class LocationIn(Body):
    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: LocationType
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    services: list[Service] = Field(default_factory=list)
    channels: list[Code] = Field(default_factory=list)
    capacity_per_day: int | None = Field(default=None, ge=0, le=10_000_000)
    priority: int = Field(default=0, ge=-1000, le=1000)


class MovementIn(Body):
    location: Code
    sku: Code
    kind: MovementKind
    qty: int = Field(ge=-1_000_000_000, le=1_000_000_000)
    reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SafetyIn(Body):
    location: Code
    sku: Code
    safety: int = Field(ge=0, le=1_000_000_000)


class ReservationIn(Body):
    sku: Code
    qty: int = Field(gt=0, le=1_000_000)
    location: Code
    ttl_seconds: int = Field(default=900, gt=0, le=7 * 24 * 3600)


class BuyerIn(Body):
    channel_buyer_id: Annotated[str, StringConstraints(max_length=128)] | None = None
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    email: Annotated[str, StringConstraints(max_length=200)] | None = None
    tier: Annotated[str, StringConstraints(max_length=32)] | None = None


class AddressIn(Body):
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    province: Annotated[str, StringConstraints(max_length=64)] | None = None
    city: Annotated[str, StringConstraints(max_length=64)] | None = None
    district: Annotated[str, StringConstraints(max_length=64)] | None = None
    address: Text | None = None
    postcode: Annotated[str, StringConstraints(max_length=16)] | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class LineIn(Body):
    channel_sku: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    sku: Code | None = None
    qty: int = Field(gt=0, le=100_000)
    unit_price: MoneyField
    discount: MoneyField = Decimal("0")

    @model_validator(mode="after")
    def _needs_an_identity(self) -> LineIn:
        if self.channel_sku is None and self.sku is None:
            raise ValueError("a line needs channel_sku or sku")
        return self


class PaymentIn(Body):
    provider: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    amount: MoneyField
    paid_at: AwareDatetime


class OrderIn(Body):
    channel: Code
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    status: OrderStatus = OrderStatus.CREATED
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    buyer: BuyerIn = Field(default_factory=BuyerIn)
    ship_to: AddressIn = Field(default_factory=AddressIn)
    delivery: DeliveryMode = DeliveryMode.EXPRESS
    pickup_location: Code | None = None
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    shipping_fee: MoneyField = Decimal("0")
    total: MoneyField | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    payment: PaymentIn | None = None
    remark: Annotated[str, StringConstraints(max_length=2000)] = ""
    cod: bool = False

    @model_validator(mode="after")
    def _total_fits(self) -> OrderIn:
        lines = sum((ln.unit_price * ln.qty - ln.discount for ln in self.lines), Decimal("0"))
        if lines + self.shipping_fee > MAX_MONEY:
            raise ValueError(f"the order's lines and shipping come to more than {MAX_MONEY}")
        return self


class ActionIn(Body):
    reason: Text | None = None
    actor: Annotated[str, StringConstraints(max_length=64)] | None = None
    carrier: Annotated[str, StringConstraints(max_length=64)] | None = None
    tracking_number: Annotated[str, StringConstraints(max_length=64)] | None = None
    code: Annotated[str, StringConstraints(max_length=64)] | None = None
