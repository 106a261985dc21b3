"""The hub's reactions to its own events, in one table (the message bus of "Architecture
Patterns with Python"): which events each consumer takes and the handler it runs.

Every reaction is a bus consumer (a durable name and subject patterns), so it runs the same in
one process or many; the worker loops only subscribe them (``subscribe``). A handler is a plain
function taking a batch of events (envelopes, as the bus carries them) and the
``Dependencies``; each is idempotent, as the bus delivers at least once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from omnihub.domain import events as ev
from omnihub.domain.integration import matches
from omnihub.ports import (
    BackendConfig,
    ChannelAdapters,
    ChannelDirectory,
    Clock,
    DeliveryQueue,
    Envelope,
    EventBus,
    StockSync,
    UnitOfWorkFactory,
)
from omnihub.services.backends.exports import queue_for_order_events
from omnihub.services.order_status import push_order_status
from omnihub.services.recipients import Recipients
from omnihub.services.stock_sync import remember_wanted
from omnihub.services.webhooks import fan_out


@dataclass(frozen=True)
class Dependencies:
    """What the handlers work with."""

    deliveries: DeliveryQueue
    stock_sync: StockSync
    directory: ChannelDirectory
    recipients: Recipients
    channel_adapters: ChannelAdapters
    read_uow: UnitOfWorkFactory
    backends: Mapping[str, BackendConfig]
    clock: Clock
    """when the hub learned of the events (the wall clock: a value to push waits from then)"""


Handler = Callable[[Sequence[Envelope], Dependencies], object]


def to_webhooks(events: Sequence[Envelope], deps: Dependencies) -> object:
    """Every event to the subscribers that want it."""
    return fan_out(events, deps.recipients, deps.deliveries, deps.clock.now())


def to_channel_stock(events: Sequence[Envelope], deps: Dependencies) -> object:
    """R-13: what each channel should show of the SKU; the stock flusher pushes it."""
    return remember_wanted(events, deps.stock_sync, deps.recipients, deps.clock.now())


def to_channel_status(events: Sequence[Envelope], deps: Dependencies) -> object:
    """R-06: shipped, delivered, cancelled, refunded back to the order's channel."""
    return push_order_status(
        events,
        deps.recipients,
        deps.directory,
        deps.channel_adapters,
        deps.deliveries,
        deps.clock.now(),
    )


def to_backends(events: Sequence[Envelope], deps: Dependencies) -> object:
    """Released orders to the WMS, the rider and the ERP; withdrawn ones taken back."""
    return queue_for_order_events(
        events, deps.backends, deps.read_uow, deps.deliveries, deps.clock.now()
    )


@dataclass(frozen=True)
class Consumer:
    """One bus consumer: its durable name and subject patterns (what the broker keeps; they
    never change for a running installation), the event types it handles (None: all) and its
    handler."""

    durable: str
    patterns: tuple[str, ...]
    events: frozenset[str] | None
    handler: Handler

    def handle(self, envelopes: Sequence[Envelope], deps: Dependencies) -> None:
        wanted = [e for e in envelopes if self.events is None or e["type"] in self.events]
        if wanted:
            self.handler(wanted, deps)


HANDLERS: tuple[Consumer, ...] = (
    Consumer("webhooks", ("*",), None, to_webhooks),
    Consumer("stock-sync", ("stock.*",), frozenset({ev.STOCK_CHANGED}), to_channel_stock),
    Consumer("order-status", ("order.*",), frozenset({ev.ORDER_STATUS_CHANGED}), to_channel_status),
    Consumer("backends", ("order.*",), frozenset({ev.ORDER_STATUS_CHANGED}), to_backends),
)
"""event types -> handlers: every reaction of the hub"""


def subscribe(bus: EventBus, deps: Dependencies, consumers: Sequence[Consumer] = HANDLERS) -> None:
    """Subscribe every consumer of the table to the bus, a batch of events per call."""
    for consumer in consumers:
        bus.subscribe_batch(consumer.durable, list(consumer.patterns), _batch(consumer, deps))


def _batch(consumer: Consumer, deps: Dependencies) -> Callable[[list[Envelope]], None]:
    def handle(envelopes: list[Envelope]) -> None:
        consumer.handle(envelopes, deps)

    return handle


def handlers_for(event_type: str, consumers: Sequence[Consumer] = HANDLERS) -> list[Handler]:
    """The handlers an event of ``event_type`` goes to."""
    return [
        c.handler
        for c in consumers
        if (c.events is None or event_type in c.events)
        and any(matches(event_type, p) for p in c.patterns)
    ]
