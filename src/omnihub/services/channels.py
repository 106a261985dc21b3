"""Channel use cases: receive a platform's pushed message, store pulled pages of orders.

The adapter (a ``ChannelAdapter``) speaks the platform's language; this module decides what
is stored: nothing for a refused request, the raw body in the inbound log for an unreadable
one, and each order on its own for a batch (one bad order never blocks the others).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.orders import IngestOrder
from omnihub.ports import (
    CallRefused,
    ChannelAdapter,
    ChannelConfig,
    ChannelRefused,
    Clock,
    InboundRequest,
    MessageLog,
    PulledPage,
    UnitOfWorkFactory,
    UnreadablePayload,
)
from omnihub.services.orders import IngestResult, ingest_order
from omnihub.services.routing import RoutingPolicy


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
    if verified.message_id and messages.message_seen(config.code, verified.message_id):
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
        messages.remember_message(config.code, verified.message_id, now)
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
