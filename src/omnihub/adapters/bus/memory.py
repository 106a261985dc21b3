"""The in-process bus: publishing calls each subscriber in turn; a failing one fails the publish
(BusUnavailable, as the port says), so the relay keeps the events and publishes them again
(subscribers are idempotent)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from omnihub.domain.integration import matches
from omnihub.ports import BusUnavailable, Envelope, EventBus, Handler


class MemoryBus(EventBus):
    def __init__(self) -> None:
        self._subscribers: list[tuple[str, tuple[str, ...], Handler]] = []
        self._lock = threading.Lock()

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for envelope in envelopes:
            for durable, patterns, handler in subscribers:
                if any(matches(envelope["type"], p) for p in patterns):
                    try:
                        handler(envelope)
                    except Exception as exc:  # not delivered: the relay keeps it, retries later
                        raise BusUnavailable(
                            f"subscriber {durable} failed on {envelope['type']} "
                            f"{envelope['id']}: {exc}"
                        ) from exc

    def subscribe(self, durable: str, patterns: Sequence[str], handler: Handler) -> None:
        with self._lock:
            self._subscribers.append((durable, tuple(patterns), handler))

    def close(self) -> None:
        with self._lock:
            self._subscribers.clear()
