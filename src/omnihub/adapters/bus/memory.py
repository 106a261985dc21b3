"""The in-process bus: publishing calls each subscriber in turn; a failing one fails the publish
(BusUnavailable, as the port says), so the relay keeps the events and publishes them again
(subscribers are idempotent)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from omnihub.domain.integration import matches
from omnihub.ports import BatchHandler, BusUnavailable, Envelope, EventBus, Handler


class MemoryBus(EventBus):
    def __init__(self) -> None:
        self._subscribers: list[tuple[str, tuple[str, ...], BatchHandler]] = []
        self._lock = threading.Lock()

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Each subscriber gets the envelopes it matches, in order, in one call."""
        with self._lock:
            subscribers = list(self._subscribers)
        for durable, patterns, handler in subscribers:
            wanted = [e for e in envelopes if any(matches(e["type"], p) for p in patterns)]
            if not wanted:
                continue
            try:
                handler(wanted)
            except Exception as exc:  # not delivered: the relay keeps them, retries later
                raise BusUnavailable(
                    f"subscriber {durable} failed on a batch of {len(wanted)} event(s) "
                    f"from {wanted[0]['type']} {wanted[0]['id']}: {exc}"
                ) from exc

    def subscribe(self, durable: str, patterns: Sequence[str], handler: Handler) -> None:
        def each(envelopes: list[Envelope]) -> None:
            for envelope in envelopes:
                handler(envelope)

        self.subscribe_batch(durable, patterns, each)

    def subscribe_batch(self, durable: str, patterns: Sequence[str], handler: BatchHandler) -> None:
        with self._lock:
            self._subscribers.append((durable, tuple(patterns), handler))

    def close(self) -> None:
        with self._lock:
            self._subscribers.clear()
