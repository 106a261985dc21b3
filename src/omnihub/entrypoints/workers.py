"""Background workers of a hub process: the outbox relay, the hub's own reactions to its
events (webhook fan-out, stock sync, order status to channels), the connector runtime, the stock
flusher and the periodic full compare. ``omnihub serve`` runs them; so does the demo."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omnihub.adapters.bus import create_bus
from omnihub.adapters.db.integration import IntegrationStore
from omnihub.adapters.http.connector import ConnectorRuntime, RetryPolicy
from omnihub.bootstrap import Hub
from omnihub.domain import events as ev
from omnihub.domain.integration import STATUSES_PUSHED, matches, published_quantity
from omnihub.ports import BusUnavailable, Envelope, EventBus

log = logging.getLogger("omnihub.workers")

DELIVERY_LOOPS = 4
DELIVERY_BATCH = 32


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Reactions:
    """What the hub does with its own events; each is idempotent (redelivery is harmless)."""

    store: IntegrationStore
    _subs: tuple[float, list[dict[str, Any]]] = (0.0, [])
    _channels: tuple[float, list[dict[str, Any]]] = (0.0, [])

    def subscriptions(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """Cached for 2 s; ``fresh`` reads them now (a subscription created a moment ago must
        get the next event, and its deliveries must be signed)."""
        if fresh or time.monotonic() - self._subs[0] > 2.0:
            self._subs = (time.monotonic(), self.store.subscriptions())
        return self._subs[1]

    def channels(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        if fresh or time.monotonic() - self._channels[0] > 2.0:
            self._channels = (time.monotonic(), self.store.channels())
        return self._channels[1]

    def fan_out(self, envelope: Envelope) -> None:
        """Webhook subscriptions: one delivery per subscriber that wants this event."""
        items = [
            {
                "endpoint": f"webhook:{sub['id']}",
                "url": sub["url"],
                "event_id": envelope["id"],
                "event_type": envelope["type"],
                "payload": envelope,
            }
            for sub in self.subscriptions(fresh=True)
            if any(matches(envelope["type"], p) for p in sub["events"])
        ]
        self.store.enqueue(items, _now())

    def stock_changed(self, envelope: Envelope) -> None:
        """R-13: remember what each channel should show; the flusher sends the latest."""
        if envelope["type"] != ev.STOCK_CHANGED:
            return
        data = envelope["data"]
        wants = [
            (
                channel["code"],
                data["sku"],
                published_quantity(
                    data["locations"],
                    channel["locations"],
                    channel["allocation_ratio"],
                    channel["buffer"],
                ),
                int(envelope["version"]),
            )
            for channel in self.channels(fresh=True)
            if channel.get("endpoint")
        ]
        if wants:
            occurred = datetime.fromisoformat(envelope["occurred_at"])
            self.store.want_stock_many(wants, occurred)

    def order_status(self, envelope: Envelope) -> None:
        """R-06: shipped, delivered, cancelled and refunded go back to the order's channel."""
        data = envelope["data"]
        if envelope["type"] != ev.ORDER_STATUS_CHANGED or data.get("to") not in STATUSES_PUSHED:
            return
        channel = next(
            (c for c in self.channels(fresh=True) if c["code"] == data.get("channel")), None
        )
        if channel is None or not channel.get("endpoint"):
            return
        self.store.enqueue(
            [
                {
                    "endpoint": f"channel:{channel['code']}",
                    "url": channel["endpoint"].rstrip("/") + "/orders/status",
                    "event_id": envelope["id"],
                    "event_type": envelope["type"],
                    "payload": {
                        "order_id": data["order_id"],
                        "status": data["to"],
                        "cause": data.get("cause"),
                        "occurred_at": envelope["occurred_at"],
                        "event_id": envelope["id"],
                    },
                }
            ],
            _now(),
        )


def flush_stock(store: IntegrationStore, limit: int = 2000) -> int:
    """Queue one push per (channel, SKU) with its newest value: a burst of changes between two
    flushes becomes a single push."""
    rows = store.stock_to_push(limit)
    channels = {c["code"]: c for c in store.channels()}
    queued = 0
    for row in rows:
        channel = channels.get(row.channel)
        if channel is None or not channel.get("endpoint"):
            continue
        item = {
            "endpoint": f"channel:{row.channel}",
            "url": channel["endpoint"].rstrip("/") + "/stock",
            "event_id": f"stock:{row.sku}:{row.wanted_version}",
            "event_type": "stock.push",
            "payload": {
                "channel": row.channel,
                "sku": row.sku,
                "quantity": row.wanted,
                "version": row.wanted_version,
            },
        }
        queued += store.queue_push(row, item, _now())
    return queued


@dataclass
class Workers:
    hub: Hub
    store: IntegrationStore
    bus: EventBus
    runtime: ConnectorRuntime
    relay: bool = True
    threads: list[threading.Thread] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    counters: dict[str, int] = field(default_factory=lambda: {"relayed": 0, "relay_errors": 0})
    _lock_file: Any = None

    def start(self) -> None:
        # several delivery loops, small batches: a slow receiver holds up one loop, not all
        loops: list[tuple[str, float, Callable[[], Any]]] = [
            (f"deliveries-{n}", 0.05, lambda: self.runtime.run_due(_now(), DELIVERY_BATCH))
            for n in range(DELIVERY_LOOPS)
        ]
        loops += [
            ("stock flush", self.hub.settings.stock_flush_seconds, self._flush_stock),
            ("full compare", self.hub.settings.full_compare_seconds, self.store.requeue_drift),
        ]
        if self.relay:
            loops.insert(0, ("outbox relay", 0.05, self._relay_once))
        for name, interval, job in loops:
            thread = threading.Thread(
                target=self._loop, args=(name, interval, job), name=name, daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def _flush_stock(self) -> int:
        """One flush per interval even when it queued pushes: the changes of a SKU between two
        flushes become one push (looping at once while busy would push nearly every change)."""
        flush_stock(self.store)
        return 0

    def _relay_once(self) -> int:
        try:
            n = self.store.relay_batch(self.bus.publish, _now())
        except BusUnavailable as exc:
            self.counters["relay_errors"] += 1
            log.warning("relay: %s; events stay in the outbox", exc)
            self.stop.wait(1.0)
            return 0
        self.counters["relayed"] += n
        return n

    def _loop(self, name: str, interval: float, job: Callable[[], Any]) -> None:
        while not self.stop.is_set():
            try:
                busy = job()
            except Exception:  # keep the loop alive; the traceback is logged
                log.exception("%s failed", name)
                busy = 0
            if not busy:
                self.stop.wait(interval)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.runtime.close()
        self.bus.close()


def start_workers(hub: Hub, *, relay: bool | None = None) -> Workers:
    store = IntegrationStore(hub.engine)
    bus = create_bus(hub.settings.bus_url)
    reactions = Reactions(store)
    bus.subscribe("webhooks", ["*"], reactions.fan_out)
    bus.subscribe("stock-sync", ["stock.*"], reactions.stock_changed)
    bus.subscribe("order-status", ["order.*"], reactions.order_status)

    def secret_for(endpoint: str) -> str | None:
        kind, _, key = endpoint.partition(":")
        for fresh in (False, True):  # not in the cached list: created since, read it again
            if kind == "webhook":
                sub = next((s for s in reactions.subscriptions(fresh=fresh) if s["id"] == key),
                           None)
                if sub is not None:
                    return str(sub["secret"])
            else:
                channel = next(
                    (c for c in reactions.channels(fresh=fresh) if c["code"] == key), None
                )
                if channel is not None:
                    return channel.get("secret")
        return None

    def delivered(delivery: Any, status: int) -> None:
        if delivery.event_type == "stock.push":
            payload = delivery.payload
            store.stock_acked(
                payload["channel"], payload["sku"], payload["quantity"], payload["version"], _now()
            )

    runtime = ConnectorRuntime(
        store,
        policy=RetryPolicy(
            max_attempts=hub.settings.delivery_max_attempts,
            base_seconds=hub.settings.delivery_backoff_seconds,
            timeout_seconds=hub.settings.delivery_timeout_seconds,
        ),
        rate_per_second=hub.settings.endpoint_rate_per_second,
        secrets=secret_for,
        on_delivered=delivered,
    )
    workers = Workers(hub, store, bus, runtime)
    workers.relay = _may_relay(hub) if relay is None else relay
    workers.start()
    return workers


def _may_relay(hub: Hub) -> bool:
    """PostgreSQL: every process relays (rows are shared out with SKIP LOCKED). SQLite: one
    relay per database file, the process holding its lock file."""
    if hub.engine.dialect.name != "sqlite":
        return True
    path = hub.engine.url.database or "omnihub.db"
    handle = open(f"{path}.relay.lock", "w")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        log.info("another process relays the outbox of %s", os.path.basename(path))
        return False
    _LOCKS.append(handle)
    return True


_LOCKS: list[Any] = []
