"""Order status to the channels (R-06): shipped, delivered, cancelled and refunded go back to
the order's channel; a platform channel is told what its platform has a call for, with the
fulfilment's carrier and tracking number (rendered into the platform's own call when sent)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from omnihub.domain.events import OrderStatusChanged
from omnihub.domain.integration import STATUSES_PUSHED
from omnihub.ports import (
    ChannelAdapters,
    ChannelDirectory,
    ChannelRecord,
    DeliveryQueue,
    Envelope,
    NewDelivery,
)
from omnihub.services.recipients import Recipients


def push_order_status(
    envelopes: Sequence[Envelope],
    recipients: Recipients,
    directory: ChannelDirectory,
    adapters: ChannelAdapters,
    deliveries: DeliveryQueue,
    now: datetime,
) -> int:
    """Queue the status pushes of ``order.status_changed`` events; how many were queued."""
    items: list[NewDelivery] = []
    for envelope in envelopes:
        items += _status_items(envelope, recipients, directory, adapters)
    if not items:
        return 0
    return deliveries.enqueue(items, now)


def _status_items(
    envelope: Envelope,
    recipients: Recipients,
    directory: ChannelDirectory,
    adapters: ChannelAdapters,
) -> list[NewDelivery]:
    change = OrderStatusChanged.from_dict(envelope["data"])
    channel = recipients.channel(change.channel)
    if channel is None or not channel.endpoint:
        return []
    if change.source == channel.code:
        return []  # the channel said so itself: telling it back could undo its own change
    if not channel.generic:  # what the platform has a call for (e.g. accepted)
        return _platform_status(channel, envelope, change, directory, adapters)
    if change.to not in STATUSES_PUSHED:
        return []
    payload: dict[str, Any] = {
        "order_id": change.order_id,
        "status": change.to,
        "cause": change.cause,
        "occurred_at": envelope["occurred_at"],
        "event_id": envelope["id"],
    }
    return [
        NewDelivery(
            endpoint=f"channel:{channel.code}",
            url=(channel.endpoint or "").rstrip("/") + "/orders/status",
            event_id=envelope["id"],
            event_type=envelope["type"],
            payload=payload,
        )
    ]


def _platform_status(
    channel: ChannelRecord,
    envelope: Envelope,
    change: OrderStatusChanged,
    directory: ChannelDirectory,
    adapters: ChannelAdapters,
) -> list[NewDelivery]:
    """A status the platform accepts a call for (its adapter's ``pushes``), with the
    fulfilment's carrier and tracking number."""
    if change.to not in adapters(channel.adapter).pushes:
        return []
    carrier, tracking = next(
        ((c, t) for c, t in directory.shipments(change.order_id) if t), (None, None)
    )
    payload: dict[str, Any] = {
        "channel": channel.code,
        "order_id": change.order_id,
        "external_id": change.external_id,
        "status": change.to,
        "carrier": carrier,
        "tracking_number": tracking,
    }
    return [
        NewDelivery(
            endpoint=f"channel:{channel.code}",
            url=channel.endpoint or "",
            event_id=envelope["id"],
            event_type=envelope["type"],
            payload=payload,
        )
    ]
