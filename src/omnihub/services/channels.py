"""Channel use cases: create a channel (and queue its first full stock push), receive a
platform's pushed message, pull a platform's modified orders window by window.

The adapter (a ``ChannelAdapter``) speaks the platform's language; this module decides what
is stored: nothing for a refused request, the raw body in the inbound log for an unreadable
one, and each order on its own for a batch (one bad order never blocks the others).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from omnihub.domain.errors import AlreadyExists, DomainError, ErrorCode, NotFound
from omnihub.domain.integration import channel_quantity, validate_subscription
from omnihub.domain.orders import IngestOrder
from omnihub.ports import (
    CallRefused,
    ChannelAdapter,
    ChannelAdapters,
    ChannelConfig,
    ChannelDirectory,
    ChannelRecord,
    ChannelRefused,
    ChannelTransport,
    Clock,
    InboundRequest,
    MessageLog,
    OutboxRelay,
    PullCursors,
    PulledPage,
    StockSync,
    UnitOfWorkFactory,
    UnreadablePayload,
)
from omnihub.services.orders import IngestResult, ingest_order
from omnihub.services.routing import RoutingPolicy

log = logging.getLogger("omnihub.workers")


class ChannelUnavailable(DomainError):
    """The platform did not answer a call the message needs (503: the platform retries)."""

    code = ErrorCode.CHANNEL_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Received:
    results: list[IngestResult]
    ignored: str | None = None


@dataclass(slots=True)
class PageOutcome:
    stored: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """(external id, why) of the orders that went to the inbound exceptions"""


@dataclass(frozen=True, slots=True)
class CreateChannel:
    code: str
    adapter: str = "generic"
    endpoint: str | None = None
    secret: str | None = None
    allocation_ratio: float = 1.0
    buffer: int = 0
    locations: tuple[str, ...] = ()
    credentials: Mapping[str, Any] = field(default_factory=dict)


def create_channel(
    command: CreateChannel,
    directory: ChannelDirectory,
    outbox: OutboxRelay,
    stock_sync: StockSync,
    read_uow: UnitOfWorkFactory,
    clock: Clock,
) -> ChannelRecord:
    """A sales channel the hub pushes stock and order status to. Its current stock is queued
    for a first full push straight away."""
    if directory.get(command.code) is not None:
        raise AlreadyExists(f"channel {command.code} already exists")
    if command.endpoint is not None:
        validate_subscription(command.endpoint, ["*"], command.secret or "x" * 16)
    now = clock.now()
    with read_uow() as uow:
        unknown = [code for code in command.locations if uow.locations.get(code) is None]
        if unknown:
            raise NotFound(
                f"unknown location(s): {', '.join(unknown)}", code=ErrorCode.UNKNOWN_LOCATION
            )
    channel = ChannelRecord(
        code=command.code,
        adapter=command.adapter,
        endpoint=command.endpoint,
        secret=command.secret,
        allocation_ratio=command.allocation_ratio,
        buffer=command.buffer,
        locations=command.locations,
        created_at=now,
        credentials=command.credentials,
    )
    directory.add(channel)
    if command.endpoint:
        # The channel exists from here on, so every later event is applied to it; the snapshot
        # is versioned as the newest event already in the levels read next, so it neither hides
        # the next change (the old "count + 1" did) nor overrides a newer one.
        snapshot = outbox.position()
        with read_uow() as uow:
            levels = uow.stock.all_levels()
        per_sku: dict[str, list[tuple[str | None, int]]] = {}
        for level in levels:
            per_sku.setdefault(level.sku, []).append((level.location, level.available))
        for sku, available in per_sku.items():
            qty = channel_quantity(
                available, command.locations, command.allocation_ratio, command.buffer
            )
            stock_sync.want(command.code, sku, qty, snapshot, now)
    return channel


def receive(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    adapter: ChannelAdapter,
    config: ChannelConfig,
    request: InboundRequest,
    messages: MessageLog,
    *,
    policy: RoutingPolicy | None = None,
    fetch: Callable[[str], dict[str, Any]] | None = None,
) -> Received:
    """A message the platform pushed: verified, then each order in it stored exactly once."""
    verified = adapter.verify(config, request)  # ChannelRefused: nothing is stored
    now = clock.now()
    if verified.sent_at is not None:
        require_fresh(verified.sent_at, now, adapter.max_skew)
    if verified.message_id and messages.seen(config.code, verified.message_id):
        raise ChannelRefused(
            f"message {verified.message_id} was received before; a replay is not stored again",
            code=ErrorCode.REPLAYED_MESSAGE,
        )
    raw = request.body.decode("utf-8", "replace")
    try:
        parsed = adapter.parse(config, request)
        orders: list[IngestOrder] = list(parsed.orders)
        for key in parsed.fetch or ():
            if fetch is None:
                raise UnreadablePayload(f"{adapter.name} sent only an id; nothing can fetch it")
            native = fetch(key)
            fetched = json.dumps(native, ensure_ascii=False)
            try:
                order = adapter.to_order(config, native, fetched)
            except DomainError as exc:  # keep what was fetched: it is what could not be read
                keep_rejected(uow_factory, clock, config.code, fetched, exc.message)
                raise
            orders.append(adapter.after_fetch(config, key, order))
    except CallRefused as exc:  # the order named in the message could not be fetched
        if exc.retry:
            raise ChannelUnavailable(
                f"{adapter.name} did not answer the fetch of the order this message names "
                f"({exc}); send the message again later"
            ) from exc
        keep_rejected(uow_factory, clock, config.code, raw, f"fetch refused: {exc}")
        raise UnreadablePayload(
            f"the order this message names cannot be fetched from {adapter.name}: {exc}"
        ) from exc
    except UnreadablePayload as exc:
        keep_rejected(uow_factory, clock, config.code, raw, exc.message)
        raise
    except DomainError as exc:  # a mapper's own check (a bad amount, an empty id)
        keep_rejected(uow_factory, clock, config.code, raw, exc.message)
        raise UnreadablePayload(exc.message, details=exc.details) from exc
    results = [ingest_order(uow_factory, order, clock, policy) for order in orders]
    if verified.message_id:
        messages.remember(config.code, verified.message_id, now)
    return Received(results, ignored=parsed.ignored)


def store_page(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    adapter: ChannelAdapter,
    config: ChannelConfig,
    page: PulledPage,
    *,
    policy: RoutingPolicy | None = None,
    fetch: Callable[[str], dict[str, Any]] | None = None,
) -> PageOutcome:
    """Every order of a pulled page on its own: an unreadable one goes to the inbound
    exceptions with its raw body and the rest are stored. An entry that only names its order
    is read in full first (``fetch``); a fetch that fails stops the page (``CallRefused``), so
    the window is pulled again."""
    outcome = PageOutcome()
    for pulled in page.orders:
        native = pulled.native
        if not adapter.complete(native):
            if fetch is None:
                raise UnreadablePayload(f"{adapter.name} listed only an id; nothing can fetch it")
            native = fetch(pulled.external_id)
        raw = json.dumps(native, ensure_ascii=False)
        try:
            command = adapter.to_order(config, native, raw)
        except DomainError as exc:
            keep_rejected(uow_factory, clock, config.code, raw, exc.message)
            outcome.rejected.append((pulled.external_id, exc.message))
            continue
        try:
            ingest_order(uow_factory, command, clock, policy)  # records its own rejections
        except DomainError as exc:
            outcome.rejected.append((pulled.external_id, exc.message))
            continue
        outcome.stored += 1
    return outcome


def require_fresh(sent_at: datetime, now: datetime, max_skew: timedelta) -> None:
    if abs(now - sent_at) > max_skew:
        raise ChannelRefused(
            f"the request was signed at {sent_at.isoformat()}, more than "
            f"{int(max_skew.total_seconds())} s from the hub's clock; it was not stored",
            code=ErrorCode.REQUEST_EXPIRED,
        )


def keep_rejected(
    uow_factory: UnitOfWorkFactory, clock: Clock, channel: str, raw: str, error: str
) -> None:
    """The raw body in the inbound log as ``rejected``, for a person to look at and replay."""
    raw = raw.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    with uow_factory() as uow:
        uow.inbound.record(
            channel=channel,
            kind="order",
            body=raw,
            received_at=clock.now(),
            result="rejected",
            error=error[:2000],
        )
        uow.commit()


@dataclass(frozen=True, slots=True)
class PullSchedule:
    start_hours: float
    """how far back a channel pulled for the first time starts"""
    every_seconds: float
    """how often the channels are pulled (a pull's lease is six of these, at least a minute)"""
    settle_seconds: float
    """a window ends this long before now (orders committed late on the platform)"""


@dataclass
class ChannelPuller:
    """Reads pull channels' modified orders window by window. The cursor moves only when a
    whole window was read; each window starts ``overlap`` before it (the same order read
    twice is a duplicate the ingest drops), ends ``settle_seconds`` before now, and is at most
    the adapter's ``max_window`` long, so an outage of hours is caught up in steps."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    directory: ChannelDirectory
    cursors: PullCursors
    transport: ChannelTransport
    adapters: ChannelAdapters
    schedule: PullSchedule
    owner: str
    policy: RoutingPolicy | None = None
    stats: dict[str, int] = field(default_factory=lambda: {"pulled": 0, "rejected": 0})
    behind: set[str] = field(default_factory=set)
    """channels whose last window ended before now (catching up after an outage)"""

    def pull_all(self) -> int:
        """One window per pull channel; the number of channels still behind (catching up
        after an outage), so the loop goes on at once while there are any. Going on, only
        those are pulled: the others were read up to now a moment ago, and pulling them
        again would only re-read their overlap."""
        catching_up = self.behind
        self.behind = set()
        for channel in self.directory.all():
            if channel.generic or not channel.endpoint:
                continue
            if catching_up and channel.code not in catching_up:
                continue
            if self.adapters(channel.adapter).pulls and self.pull(channel):
                self.behind.add(channel.code)
        return len(self.behind)

    def pull(self, channel: ChannelRecord) -> bool:
        """Read one window of the channel's modified orders; True when more windows are due."""
        adapter, config = self.adapters(channel.adapter), channel.config
        now = self.clock.now()
        first = now - timedelta(hours=self.schedule.start_hours)
        lease = timedelta(seconds=max(60.0, self.schedule.every_seconds * 6))
        cursor = self.cursors.lease(config.code, self.owner, first, now, lease)
        if cursor is None:
            return False  # another process pulls this channel now
        start = cursor - adapter.overlap
        settled = now - timedelta(seconds=self.schedule.settle_seconds)
        end = min(settled, cursor + adapter.max_window)
        pulled = rejected = 0
        error: str | None = None
        try:
            if end > start:
                for page in self.transport.pages(adapter, config, start, end):
                    outcome = store_page(
                        self.uow_factory,
                        self.clock,
                        adapter,
                        config,
                        page,
                        policy=self.policy,
                        fetch=self.transport.fetcher(adapter, config),
                    )
                    pulled += outcome.stored
                    rejected += len(outcome.rejected)
        except (CallRefused, DomainError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("pull of %s stopped at %s: %s", config.code, start.isoformat(), error)
        self.cursors.advance(
            config.code,
            self.owner,
            to=end if error is None and end > start else None,
            pulled=pulled,
            rejected=rejected,
            error=error,
            now=self.clock.now(),
        )
        self.stats["pulled"] += pulled
        self.stats["rejected"] += rejected
        return error is None and end < settled
