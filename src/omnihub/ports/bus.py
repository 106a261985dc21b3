"""The event bus port: carries the outbox's events to the hub's consumers."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

Envelope = dict[str, Any]
"""An event as it travels: {"id", "type", "occurred_at", "aggregate_id", "version", "data"}."""
Handler = Callable[[Envelope], None]
BatchHandler = Callable[[list[Envelope]], None]


class BusUnavailable(Exception):
    """The broker did not take (or acknowledge) the events; the caller keeps them and retries."""


class EventBus(abc.ABC):
    """Carries the outbox's events to the hub's own consumers (and, on NATS, other processes)."""

    @abc.abstractmethod
    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Return once every envelope is acknowledged; BusUnavailable otherwise."""

    @abc.abstractmethod
    def subscribe(self, durable: str, patterns: Sequence[str], handler: Handler) -> None:
        """Deliver each matching event to ``handler`` at least once; an exception redelivers."""

    def subscribe_batch(self, durable: str, patterns: Sequence[str], handler: BatchHandler) -> None:
        """Like ``subscribe``, several events per call (one write per batch for a consumer
        that stores what it does); an exception redelivers the whole batch."""
        self.subscribe(durable, patterns, lambda envelope: handler([envelope]))

    @abc.abstractmethod
    def close(self) -> None: ...
