"""Stock sync to the channels (R-13): what each channel should show of a SKU after every stock
change, and the pushes that tell it, one per (channel, SKU) at a time with the newest value."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from omnihub.domain.events import StockChanged
from omnihub.domain.integration import channel_quantity
from omnihub.ports import (
    STOCK_PUSH,
    ChannelRecord,
    ChannelSkus,
    Clock,
    Envelope,
    NewDelivery,
    StockPush,
    StockSync,
    StockSyncRow,
    StockWant,
)
from omnihub.services.recipients import Recipients


def remember_wanted(
    envelopes: Sequence[Envelope], stock_sync: StockSync, recipients: Recipients, now: datetime
) -> int:
    """Remember what each channel should show after ``stock.changed`` events; the flusher sends
    the newest. Of a batch only each SKU's newest version matters: one write for the batch.
    ``now`` is when the hub learned of them: a push of a SKU then follows the one before by at
    least the flusher's wait, however late the events. Returns how many values were kept."""
    newest: dict[str, tuple[int, StockChanged]] = {}
    for envelope in envelopes:
        version, change = int(envelope["version"]), StockChanged.from_dict(envelope["data"])
        if change.sku not in newest or version > newest[change.sku][0]:
            newest[change.sku] = (version, change)
    if not newest:
        return 0
    channels = [c for c in recipients.channels(fresh=True) if c.endpoint]
    wants = [
        StockWant(
            channel.code,
            sku,
            channel_quantity(
                ((loc.location, loc.available) for loc in change.locations),
                channel.locations,
                channel.allocation_ratio,
                channel.buffer,
            ),
            version,
        )
        for sku, (version, change) in newest.items()
        for channel in channels
    ]
    if wants:
        stock_sync.want_many(wants, now)
    return len(wants)


def stock_push(
    channel: ChannelRecord | None, row: StockSyncRow, channel_skus: ChannelSkus
) -> StockPush | None:
    """The push of a (channel, SKU)'s newest value; None while the channel has nowhere to
    push to. A platform channel is told its own item ids of the SKU (none: not sold there,
    nothing to push, but the value counts as sent so the SKU is not read again)."""
    if channel is None or not channel.endpoint:
        return None
    payload: dict[str, object] = {
        "channel": row.channel,
        "sku": row.sku,
        "quantity": row.wanted,
        "version": row.wanted_version,
    }
    if not channel.generic:
        payload["channel_skus"] = skus = channel_skus(row.channel, row.sku)
        if not skus:
            return StockPush(None)
    return StockPush(
        NewDelivery(
            endpoint=f"channel:{row.channel}",
            url=channel.endpoint.rstrip("/") + "/stock",
            event_id=f"stock:{row.sku}:{row.wanted_version}"
            + (f":r{row.repushes}" if row.repushes else ""),
            event_type=STOCK_PUSH,
            payload=payload,
        )
    )


def flush_stock(
    stock_sync: StockSync,
    channels: Sequence[ChannelRecord],
    now: datetime,
    limit: int = 2000,
    *,
    waiting_since: datetime | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> int:
    """Queue one push per (channel, SKU) with its newest value (those waiting since
    ``waiting_since`` or before, all when None; only ``pairs`` when given), in one
    transaction: the changes of a SKU since its last push become a single push."""
    by_code = {c.code: c for c in channels}
    return stock_sync.queue_pushes(
        lambda row, skus: stock_push(by_code.get(row.channel), row, skus),
        now,
        waiting_since=waiting_since,
        pairs=pairs,
        limit=limit,
    )


@dataclass
class StockFlusher:
    """Pushes each (channel, SKU) ``wait`` after the hub learned of its first change not
    pushed yet, with the newest value by then: the changes that come meanwhile ride on the
    same push. So a channel gets at most one push of a SKU per ``wait`` (plus its push's round
    trip), and a change waits about ``wait`` for it, not a whole flush period.

    One push in flight per (channel, SKU): a value that falls due while its push is in flight
    is queued when that push is acknowledged (``acked``), not at the flusher's next turn."""

    stock_sync: StockSync
    recipients: Recipients
    wait: timedelta
    clock: Clock
    queued: Callable[[], None] = lambda: None
    """called when pushes were queued (the delivery loops wake up for them)"""

    #: the flusher sleeps at least this long between two turns (due pushes are batched)
    TICK_SECONDS = 0.02

    def flush(self) -> float:
        """Queue the pushes that are due; the seconds until the next falls due."""
        now = self.clock.now()
        waiting = self.stock_sync.waiting()
        channels = self.recipients.channels()
        if not {w.channel for w in waiting} <= {c.code for c in channels}:
            channels = self.recipients.channels(fresh=True)  # one created a moment ago
        pushed_to = {c.code for c in channels if c.endpoint}
        waiting = [w for w in waiting if w.channel in pushed_to]
        due = [(w.channel, w.sku) for w in waiting if w.since + self.wait <= now]
        if due and flush_stock(
            self.stock_sync, channels, self.clock.now(), waiting_since=now - self.wait, pairs=due
        ):
            self.queued()
        upcoming = [w.since + self.wait for w in waiting if w.since + self.wait > now]
        pause = (
            (min(upcoming) - self.clock.now()).total_seconds() if upcoming else self.wait_seconds
        )
        return min(max(pause, self.TICK_SECONDS), self.wait_seconds)

    def acked(self, channel: str, sku: str) -> None:
        """A push of (channel, SKU) was acknowledged: a newer value that fell due while it was
        in flight goes now."""
        waiting_since = self.stock_sync.waiting_since(channel, sku)
        now = self.clock.now()
        if waiting_since is None or waiting_since + self.wait > now:
            return  # nothing waits, or the flusher's turn for it is still to come
        if flush_stock(
            self.stock_sync,
            self.recipients.channels(),
            self.clock.now(),
            waiting_since=now - self.wait,
            pairs=[(channel, sku)],
        ):
            self.queued()

    @property
    def wait_seconds(self) -> float:
        return self.wait.total_seconds()
