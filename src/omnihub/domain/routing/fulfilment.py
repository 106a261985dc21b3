"""Fulfilments (one shipment per node under an order), merge keys and store pickup codes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Order

PICKUP_CODE_DIGITS = 8
PICKUP_MAX_ATTEMPTS = 5


class FulfilmentStatus(StrEnum):
    PENDING = "pending"
    RELEASED = "released"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Fulfilment:
    id: str
    order_id: str
    location: str
    status: FulfilmentStatus
    lines: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    shipment: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None


class MergeState(StrEnum):
    OPEN = "open"
    RELEASED = "released"
    UNMERGED = "unmerged"


@dataclass(slots=True)
class MergeGroup:
    id: str
    merge_key: str
    state: MergeState
    created_at: datetime
    updated_at: datetime
    order_ids: list[str] = field(default_factory=list)


def merge_key(order: Order) -> str | None:
    """Orders with the same key may ship together: same buyer, same address, shipped by express.

    None when the order can't be merged (pickup, same-day, or no buyer or address to match).
    """
    if order.delivery is not DeliveryMode.EXPRESS:
        return None
    buyer = order.buyer.member_id or _digits(order.buyer.phone) or order.buyer.channel_buyer_id
    address = "|".join(
        re.sub(r"\s+", "", part or "").lower()
        for part in (
            order.ship_to.province,
            order.ship_to.city,
            order.ship_to.district,
            order.ship_to.address,
        )
    )
    if not buyer or not address.strip("|"):
        return None
    return hashlib.sha256(f"{buyer}#{address}".encode()).hexdigest()[:32]


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


class PickupCodeError(DomainError):
    code = ErrorCode.ILLEGAL_TRANSITION


def new_pickup_code() -> str:
    """A random code of 8 digits (10^8 values; five wrong tries lock it)."""
    return f"{secrets.randbelow(10**PICKUP_CODE_DIGITS):0{PICKUP_CODE_DIGITS}d}"


def hash_pickup_code(order_id: str, code: str) -> str:
    return hashlib.sha256(f"{order_id}:{code.strip()}".encode()).hexdigest()


def pickup_code_matches(order_id: str, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_pickup_code(order_id, code), stored_hash)
