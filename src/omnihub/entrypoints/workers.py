"""Background workers of a hub process: the outbox relay, the hub's own reactions to its
events (``services/handlers.py``: webhook fan-out, stock sync, order status to channels,
documents to the back ends), the connector runtime, the stock flusher, the channel pull and
the periodic full compare. ``omnihub serve`` runs them; so does the demo. This module holds
the loops (threads, timing, waking) and the wiring; what each turn does is a use case in
``services/``."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from omnihub.adapters.bus import create_bus
from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.outbound import ChannelCalls
from omnihub.adapters.channels.transport import HttpChannelTransport
from omnihub.adapters.http.connector import ConnectorRuntime, RetryPolicy
from omnihub.bootstrap import Hub
from omnihub.entrypoints.backend_workers import BackendWorkers
from omnihub.ports import (
    STOCK_PUSH,
    BusUnavailable,
    Delivery,
    EventBus,
    IntegrationStores,
    SystemClock,
)
from omnihub.services import handlers
from omnihub.services.channels import ChannelPuller, PullSchedule
from omnihub.services.recipients import Recipients
from omnihub.services.stock_sync import StockFlusher

log = logging.getLogger("omnihub.workers")

DELIVERY_LOOPS = 4
MESSAGE_IDS_KEPT = timedelta(days=7)
DELIVERY_BATCH = 32
#: the reactions, the flusher and the delivery loops keep the hub's own wall-clock time (a
#: push waits from when the hub learned of a change), whatever clock the hub runs its use
#: cases on
WALL_CLOCK = SystemClock()


def _owner() -> str:
    return f"{os.getpid()}-{threading.get_ident()}"


@dataclass
class Workers:
    hub: Hub
    stores: IntegrationStores
    bus: EventBus
    runtime: ConnectorRuntime
    flusher: StockFlusher
    puller: ChannelPuller
    pull_client: httpx.Client
    """the puller's client (closed with the workers)"""
    wake: threading.Event
    """set when work was queued in this process: the delivery loops wake up for it"""
    relay: bool = True
    backends: BackendWorkers | None = None
    """the back ends' polls, rider tracking and stock compares (entrypoints/backend_workers)"""
    threads: list[threading.Thread] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    counters: dict[str, int] = field(default_factory=lambda: {"relayed": 0, "relay_errors": 0})

    def start(self) -> None:
        # several delivery loops, small batches: a slow receiver holds up one loop, not all
        loops: list[tuple[str, float, Callable[[], Any]]] = [
            (
                f"deliveries-{n}",
                0.05,
                lambda: self.runtime.run_due(WALL_CLOCK.now(), DELIVERY_BATCH),
            )
            for n in range(DELIVERY_LOOPS)
        ]
        loops += [
            ("channel pull", self.hub.settings.pull_seconds, self.puller.pull_all),
            (
                "full compare",
                self.hub.settings.full_compare_seconds,
                self.stores.stock_sync.requeue_drift,
            ),
            ("replay window", 3600.0, self._forget_messages),
        ]
        if self.backends is not None:
            loops += self.backends.loops()
        if self.relay:
            loops.insert(0, ("outbox relay", 0.05, self._relay_once))
        threads = [
            threading.Thread(
                target=self._loop,
                args=(name, interval, job),
                kwargs={"wake": self.wake} if name.startswith("deliveries") else {},
                name=name,
                daemon=True,
            )
            for name, interval, job in loops
        ]
        threads.append(threading.Thread(target=self._flush_loop, name="stock flush", daemon=True))
        for thread in threads:
            thread.start()
            self.threads.append(thread)

    def _flush_loop(self) -> None:
        """The flusher's turns are set by what waits: the next (channel, SKU) falling due,
        never further than its wait away (a change may arrive at any moment)."""
        while not self.stop.is_set():
            try:
                pause = self.flusher.flush()
            except Exception:  # keep the loop alive; the traceback is logged
                log.exception("stock flush failed")
                pause = self.flusher.wait_seconds
            self.stop.wait(pause)

    def _forget_messages(self) -> int:
        """Message ids are kept a week, far longer than any channel's signed-time window (at
        most two days, for platforms that retry a webhook that long)."""
        self.stores.messages.forget(WALL_CLOCK.now() - MESSAGE_IDS_KEPT)
        return 0

    def _relay_once(self) -> int:
        try:
            n = self.stores.outbox.relay_batch(self.bus.publish, WALL_CLOCK.now())
        except BusUnavailable as exc:
            self.counters["relay_errors"] += 1
            log.warning("relay: %s; events stay in the outbox", exc)
            self.stop.wait(1.0)
            return 0
        self.counters["relayed"] += n
        return n

    def _loop(
        self,
        name: str,
        interval: float,
        job: Callable[[], Any],
        wake: threading.Event | None = None,
    ) -> None:
        """Run ``job`` again at once while it finds work, else after ``interval`` (or as soon
        as ``wake`` is set: work was queued in this process)."""
        while not self.stop.is_set():
            try:
                busy = job()
            except Exception:  # keep the loop alive; the traceback is logged
                log.exception("%s failed", name)
                busy = 0
            if busy:
                continue
            if wake is None:
                self.stop.wait(interval)
            elif wake.wait(interval):
                wake.clear()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.runtime.close()
        self.pull_client.close()
        if self.backends is not None:
            self.backends.close()
        self.bus.close()


def start_workers(hub: Hub, *, relay: bool | None = None) -> Workers:
    stores = hub.integration
    bus = create_bus(hub.settings.bus_url)
    recipients = Recipients(stores.directory, stores.webhooks)
    wake = threading.Event()
    # a change waits half the flush interval for the changes after it to join its push
    flusher = StockFlusher(
        stores.stock_sync,
        recipients,
        timedelta(seconds=hub.settings.stock_flush_seconds / 2),
        WALL_CLOCK,
        queued=wake.set,
    )
    handlers.subscribe(
        bus,
        handlers.Dependencies(
            deliveries=stores.deliveries,
            stock_sync=stores.stock_sync,
            directory=stores.directory,
            recipients=recipients,
            channel_adapters=adapter_for,
            read_uow=hub.read_uow,
            backends=hub.backends,
            clock=WALL_CLOCK,
        ),
    )
    backends = BackendWorkers(hub, stores)

    def delivered(delivery: Delivery, status: int) -> None:
        if delivery.event_type == STOCK_PUSH:  # its value acknowledged with the outcome
            flusher.acked(delivery.payload["channel"], delivery.payload["sku"])

    calls = ChannelCalls(lambda code, read_again: recipients.channel(code, read_again=read_again))
    runtime = ConnectorRuntime(
        stores.deliveries,
        render=calls.render,
        judge=calls.judge,
        policy=RetryPolicy(
            max_attempts=hub.settings.delivery_max_attempts,
            base_seconds=hub.settings.delivery_backoff_seconds,
            timeout_seconds=hub.settings.delivery_timeout_seconds,
        ),
        rate_per_second=hub.settings.endpoint_rate_per_second,
        secrets=recipients.secret_for,
        on_delivered=delivered,
        performers={"backend": backends.perform},  # backend:<code> deliveries run exchanges
    )
    pull_client = httpx.Client(timeout=15)
    settings = hub.settings
    puller = ChannelPuller(
        hub.uow,
        hub.clock,
        stores.directory,
        stores.cursors,
        HttpChannelTransport(pull_client),
        adapter_for,
        PullSchedule(
            settings.pull_start_hours, settings.pull_seconds, settings.pull_settle_seconds
        ),
        owner=_owner(),
        policy=hub.policy,
    )
    workers = Workers(
        hub, stores, bus, runtime, flusher, puller, pull_client, wake, backends=backends
    )
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
