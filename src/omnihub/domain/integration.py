"""Pure rules of the integration plumbing: which events a subscription wants, what quantity a
channel is shown, and what a webhook subscription may look like."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from omnihub.domain import events as ev
from omnihub.domain.errors import InvalidInput

EVENT_TYPES = (
    ev.ORDER_INGESTED,
    ev.ORDER_UPDATED,
    ev.ORDER_STATUS_CHANGED,
    ev.ORDER_HELD,
    ev.STOCK_CHANGED,
    ev.STOCK_REPAIRED,
    ev.RESERVATION_TAKEN,
    ev.RESERVATION_RELEASED,
    ev.RESERVATION_EXPIRED,
    ev.RESERVATION_CONSUMED,
)
FAMILIES = sorted({t.split(".", 1)[0] for t in EVENT_TYPES})
MIN_SECRET_LENGTH = 16
#: order statuses a channel is told about (R-06)
STATUSES_PUSHED = frozenset({"shipped", "cancelled", "refunded", "delivered"})


def matches(event_type: str, pattern: str) -> bool:
    if pattern in ("*", ">"):
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def validate_subscription(url: str, events: Sequence[str], secret: str) -> list[str]:
    """The subscription's event patterns, checked; InvalidInput says what is wrong."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"url must be an http:// or https:// address, got {url!r}")
    if not events:
        raise InvalidInput('events must name at least one event, e.g. ["order.*"]')
    for pattern in events:
        if pattern in ("*", ">") or pattern in EVENT_TYPES:
            continue
        if pattern.endswith(".*") and pattern[:-2] in FAMILIES:
            continue
        raise InvalidInput(
            f"unknown event {pattern!r}; events are {', '.join(EVENT_TYPES)}, a family such "
            f"as {', '.join(f + '.*' for f in FAMILIES)}, or *"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise InvalidInput(
            f"secret must be at least {MIN_SECRET_LENGTH} characters, to sign "
            "deliveries with HMAC-SHA256"
        )
    return list(dict.fromkeys(events))


def published_quantity(
    locations: Iterable[Mapping[str, Any]], served: Sequence[str], ratio: float, buffer: int
) -> int:
    """floor(ratio × available over the channel's locations) − buffer, never below 0, of
    levels as ``stock.changed`` carries them ({"location", "available", ...})."""
    return channel_quantity(
        ((loc.get("location"), int(loc.get("available", 0))) for loc in locations),
        served,
        ratio,
        buffer,
    )


def channel_quantity(
    available: Iterable[tuple[str | None, int]], served: Sequence[str], ratio: float, buffer: int
) -> int:
    """floor(ratio × available over the channel's locations) − buffer, never below 0, of
    (location, available) pairs; no ``served`` locations: all of them."""
    total = sum(quantity for location, quantity in available if not served or location in served)
    # the ratio as the decimal it was written as: floor(0.29 * 100) is 29 (not 28.999...96 -> 28)
    return max(0, math.floor(Decimal(str(ratio)) * total) - buffer)
