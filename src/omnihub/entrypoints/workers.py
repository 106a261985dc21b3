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
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from omnihub.adapters.bus import create_bus
from omnihub.adapters.channels import adapter_for, channel_config
from omnihub.adapters.channels.transport import fetcher, pages
from omnihub.adapters.db.integration import IntegrationStore, StockPush
from omnihub.adapters.http.connector import ConnectorRuntime, RetryPolicy
from omnihub.bootstrap import Hub
from omnihub.domain import events as ev
from omnihub.domain.errors import DomainError
from omnihub.domain.integration import STATUSES_PUSHED, matches, published_quantity
from omnihub.entrypoints.backend_workers import BackendWorkers
from omnihub.platforms.retry import retryable_status
from omnihub.ports import (
    BusUnavailable,
    CallRefused,
    Envelope,
    EventBus,
    OutboundRequest,
    ShipmentUpdate,
    StockUpdate,
)
from omnihub.services.channels import store_page

log = logging.getLogger("omnihub.workers")

DELIVERY_LOOPS = 4
MESSAGE_IDS_KEPT = timedelta(days=7)
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
        self.fan_out_many([envelope])

    def fan_out_many(self, envelopes: list[Envelope]) -> None:
        """Webhook subscriptions: one delivery per subscriber that wants an event; a batch of
        events is queued in one write."""
        subscriptions = self.subscriptions(fresh=True)
        items = [
            {
                "endpoint": f"webhook:{sub['id']}",
                "url": sub["url"],
                "event_id": envelope["id"],
                "event_type": envelope["type"],
                "payload": envelope,
            }
            for envelope in envelopes
            for sub in subscriptions
            if any(matches(envelope["type"], p) for p in sub["events"])
        ]
        self.store.enqueue(items, _now())

    def stock_changed(self, envelope: Envelope) -> None:
        self.stock_changed_many([envelope])

    def stock_changed_many(self, envelopes: list[Envelope]) -> None:
        """R-13: remember what each channel should show; the flusher sends the latest. Of a
        batch only each SKU's newest value matters: one write for the batch."""
        newest: dict[str, Envelope] = {}
        for envelope in envelopes:
            if envelope["type"] != ev.STOCK_CHANGED:
                continue
            sku = envelope["data"]["sku"]
            if sku not in newest or int(envelope["version"]) > int(newest[sku]["version"]):
                newest[sku] = envelope
        if not newest:
            return
        channels = [c for c in self.channels(fresh=True) if c.get("endpoint")]
        wants = [
            (
                channel["code"],
                sku,
                published_quantity(
                    envelope["data"]["locations"],
                    channel["locations"],
                    channel["allocation_ratio"],
                    channel["buffer"],
                ),
                int(envelope["version"]),
            )
            for sku, envelope in newest.items()
            for channel in channels
        ]
        if wants:
            # since when a value waits is when the hub learned of it: a push of a SKU then
            # follows the one before by at least the flusher's wait, however late the events
            self.store.want_stock_many(wants, _now())

    def order_status(self, envelope: Envelope) -> None:
        self.order_status_many([envelope])

    def order_status_many(self, envelopes: list[Envelope]) -> None:
        items: list[dict[str, Any]] = []
        for envelope in envelopes:
            items += self._status_items(envelope)
        if items:
            self.store.enqueue(items, _now())

    def _status_items(self, envelope: Envelope) -> list[dict[str, Any]]:
        """R-06: shipped, delivered, cancelled and refunded go back to the order's channel."""
        data = envelope["data"]
        if envelope["type"] != ev.ORDER_STATUS_CHANGED:
            return []
        channel = next(
            (c for c in self.channels() if c["code"] == data.get("channel")), None
        ) or next((c for c in self.channels(fresh=True) if c["code"] == data.get("channel")), None)
        if channel is None or not channel.get("endpoint"):
            return []
        if data.get("source") == channel["code"]:
            return []  # the channel said so itself: telling it back could undo its own change
        if channel["adapter"] != "generic":  # what the platform has a call for (e.g. accepted)
            return self._platform_status(channel, envelope)
        if data.get("to") not in STATUSES_PUSHED:
            return []
        return [
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
        ]

    def _platform_status(self, channel: dict[str, Any], envelope: Envelope) -> list[dict[str, Any]]:
        """A status the platform accepts a call for (its adapter's ``pushes``), with the
        fulfilment's carrier and tracking number: rendered into the platform's own call when
        sent."""
        data = envelope["data"]
        if data["to"] not in adapter_for(channel["adapter"]).pushes:
            return []
        carrier, tracking = next(
            ((c, t) for c, t in self.store.shipments(data["order_id"]) if t), (None, None)
        )
        return [
            {
                "endpoint": f"channel:{channel['code']}",
                "url": channel["endpoint"],
                "event_id": envelope["id"],
                "event_type": envelope["type"],
                "payload": {
                    "channel": channel["code"],
                    "order_id": data["order_id"],
                    "external_id": data.get("external_id"),
                    "status": data["to"],
                    "carrier": carrier,
                    "tracking_number": tracking,
                },
            }
        ]


def stock_push(
    channel: dict[str, Any] | None, row: Any, channel_skus: Callable[[str, str], list[str]]
) -> StockPush | None:
    """The push of a (channel, SKU)'s newest value; None while the channel has nowhere to
    push to."""
    if channel is None or not channel.get("endpoint"):
        return None
    payload: dict[str, Any] = {
        "channel": row.channel,
        "sku": row.sku,
        "quantity": row.wanted,
        "version": row.wanted_version,
    }
    if channel["adapter"] != "generic":
        # the platform knows its own item ids: those mapped to this SKU (none: not sold
        # there, nothing to push, but the value counts as sent so the SKU is not re-read)
        payload["channel_skus"] = channel_skus(row.channel, row.sku)
        if not payload["channel_skus"]:
            return StockPush(None)
    return StockPush({
        "endpoint": f"channel:{row.channel}",
        "url": channel["endpoint"].rstrip("/") + "/stock",
        "event_id": f"stock:{row.sku}:{row.wanted_version}"
        + (f":r{row.repushes}" if row.repushes else ""),
        "event_type": "stock.push",
        "payload": payload,
    })  # fmt: skip


def flush_stock(
    store: IntegrationStore,
    limit: int = 2000,
    *,
    channels: list[dict[str, Any]] | None = None,
    waiting_since: datetime | None = None,
    pairs: list[tuple[str, str]] | None = None,
) -> int:
    """Queue one push per (channel, SKU) with its newest value (those waiting since
    ``waiting_since`` or before, all when None; only ``pairs`` when given), in one
    transaction: the changes of a SKU since its last push become a single push."""
    by_code = {c["code"]: c for c in (store.channels() if channels is None else channels)}
    return store.queue_pushes(
        lambda row, skus: stock_push(by_code.get(row.channel), row, skus),
        _now(),
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

    store: IntegrationStore
    reactions: Reactions
    wait: timedelta
    queued: threading.Event = field(default_factory=threading.Event)
    """set when pushes were queued (the delivery loops wake up for them)"""

    #: the flusher sleeps at least this long between two turns (due pushes are batched)
    TICK_SECONDS = 0.02

    def flush(self) -> float:
        """Queue the pushes that are due; the seconds until the next falls due."""
        now = _now()
        waiting = self.store.stock_waiting()
        channels = self.reactions.channels()
        if not {channel for channel, _, _ in waiting} <= {c["code"] for c in channels}:
            channels = self.reactions.channels(fresh=True)  # one created a moment ago
        pushed_to = {c["code"] for c in channels if c.get("endpoint")}
        waiting = [w for w in waiting if w[0] in pushed_to]
        due = [(channel, sku) for channel, sku, since in waiting if since + self.wait <= now]
        if due and flush_stock(
            self.store, channels=channels, waiting_since=now - self.wait, pairs=due
        ):
            self.queued.set()
        upcoming = [since + self.wait for _, _, since in waiting if since + self.wait > now]
        pause = (min(upcoming) - _now()).total_seconds() if upcoming else self.wait_seconds
        return min(max(pause, self.TICK_SECONDS), self.wait_seconds)

    def acked(self, channel: str, sku: str) -> None:
        """A push of (channel, SKU) was acknowledged: a newer value that fell due while it was
        in flight goes now."""
        waiting_since = self.store.stock_waiting_since(channel, sku)
        now = _now()
        if waiting_since is None or waiting_since + self.wait > now:
            return  # nothing waits, or the flusher's turn for it is still to come
        if flush_stock(
            self.store,
            channels=self.reactions.channels(),
            waiting_since=now - self.wait,
            pairs=[(channel, sku)],
        ):
            self.queued.set()

    @property
    def wait_seconds(self) -> float:
        return self.wait.total_seconds()


@dataclass
class ChannelPuller:
    """Reads pull channels' modified orders window by window. The cursor moves only when a
    whole window was read; each window starts ``overlap`` before it (the same order read
    twice is a duplicate the ingest drops), ends ``settle`` seconds before now, and is at
    most the adapter's ``max_window`` long, so an outage of hours is caught up in steps."""

    hub: Hub
    store: IntegrationStore
    owner: str = field(default_factory=lambda: f"{os.getpid()}-{threading.get_ident()}")
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))
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
        for row in self.store.channels():
            if row["adapter"] == "generic" or not row.get("endpoint"):
                continue
            if catching_up and row["code"] not in catching_up:
                continue
            if adapter_for(row["adapter"]).pulls and self.pull(row):
                self.behind.add(row["code"])
        return len(self.behind)

    def pull(self, row: dict[str, Any]) -> bool:
        """Read one window of the channel's modified orders; True when more windows are due."""
        adapter, config = adapter_for(row["adapter"]), channel_config(row)
        settings = self.hub.settings
        now = self.hub.clock.now()
        first = now - timedelta(hours=settings.pull_start_hours)
        lease = timedelta(seconds=max(60.0, settings.pull_seconds * 6))
        cursor = self.store.lease_cursor(config.code, self.owner, first, now, lease)
        if cursor is None:
            return False  # another process pulls this channel now
        start = cursor - adapter.overlap
        settled = now - timedelta(seconds=settings.pull_settle_seconds)
        end = min(settled, cursor + adapter.max_window)
        pulled = rejected = 0
        error: str | None = None
        try:
            if end > start:
                for page in pages(self.client, adapter, config, start, end):
                    outcome = store_page(
                        self.hub.uow,
                        self.hub.clock,
                        adapter,
                        config,
                        page,
                        policy=self.hub.policy,
                        fetch=fetcher(self.client, adapter, config),
                    )
                    pulled += outcome.stored
                    rejected += len(outcome.rejected)
        except (CallRefused, DomainError, httpx.HTTPError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("pull of %s stopped at %s: %s", config.code, start.isoformat(), error)
        self.store.advance_cursor(
            config.code,
            self.owner,
            to=end if error is None and end > start else None,
            pulled=pulled,
            rejected=rejected,
            error=error,
            now=self.hub.clock.now(),
        )
        self.stats["pulled"] += pulled
        self.stats["rejected"] += rejected
        return error is None and end < settled

    def close(self) -> None:
        self.client.close()


@dataclass
class Workers:
    hub: Hub
    store: IntegrationStore
    bus: EventBus
    runtime: ConnectorRuntime
    flusher: StockFlusher
    relay: bool = True
    backends: BackendWorkers | None = None
    """the back ends' polls, rider tracking and stock compares (entrypoints/backend_workers)"""
    puller: ChannelPuller = field(init=False)
    threads: list[threading.Thread] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    counters: dict[str, int] = field(default_factory=lambda: {"relayed": 0, "relay_errors": 0})
    _lock_file: Any = None

    def __post_init__(self) -> None:
        self.puller = ChannelPuller(self.hub, self.store)

    def start(self) -> None:
        # several delivery loops, small batches: a slow receiver holds up one loop, not all
        loops: list[tuple[str, float, Callable[[], Any]]] = [
            (f"deliveries-{n}", 0.05, lambda: self.runtime.run_due(_now(), DELIVERY_BATCH))
            for n in range(DELIVERY_LOOPS)
        ]
        loops += [
            ("channel pull", self.hub.settings.pull_seconds, self.puller.pull_all),
            ("full compare", self.hub.settings.full_compare_seconds, self.store.requeue_drift),
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
                kwargs={"wake": self.flusher.queued} if name.startswith("deliveries") else {},
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
        self.store.forget_messages(_now() - MESSAGE_IDS_KEPT)
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
        self.puller.close()
        if self.backends is not None:
            self.backends.close()
        self.bus.close()


def start_workers(hub: Hub, *, relay: bool | None = None) -> Workers:
    store = IntegrationStore(hub.engine)
    bus = create_bus(hub.settings.bus_url)
    reactions = Reactions(store)
    # a change waits half the flush interval for the changes after it to join its push
    flusher = StockFlusher(
        store, reactions, timedelta(seconds=hub.settings.stock_flush_seconds / 2)
    )
    bus.subscribe_batch("webhooks", ["*"], reactions.fan_out_many)
    bus.subscribe_batch("stock-sync", ["stock.*"], reactions.stock_changed_many)
    bus.subscribe_batch("order-status", ["order.*"], reactions.order_status_many)
    backends = BackendWorkers(hub, store)  # orders released/withdrawn -> deliveries to back ends
    backends.subscribe(bus)

    def secret_for(endpoint: str) -> str | None:
        kind, _, key = endpoint.partition(":")
        for fresh in (False, True):  # not in the cached list: created since, read it again
            if kind == "webhook":
                sub = next(
                    (s for s in reactions.subscriptions(fresh=fresh) if s["id"] == key), None
                )
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
        if delivery.event_type == "stock.push":  # its value acknowledged with the outcome
            flusher.acked(delivery.payload["channel"], delivery.payload["sku"])

    def render(delivery: Any) -> list[OutboundRequest] | None:
        kind, _, code = delivery.endpoint.partition(":")
        if kind != "channel":
            return None
        channel = next((c for c in reactions.channels() if c["code"] == code), None)
        if channel is None:
            channel = next((c for c in reactions.channels(fresh=True) if c["code"] == code), None)
        if channel is None or channel["adapter"] == "generic":
            return None
        adapter, config = adapter_for(channel["adapter"]), channel_config(channel)
        payload = delivery.payload
        if delivery.event_type == "stock.push":
            return [
                adapter.stock_request(
                    config,
                    StockUpdate(
                        channel_sku=channel_sku,
                        quantity=int(payload["quantity"]),
                        sku=payload["sku"],
                        version=int(payload["version"]),
                    ),
                )
                for channel_sku in payload.get("channel_skus") or ()
            ]
        request = adapter.shipment_request(
            config,
            ShipmentUpdate(
                external_id=payload["external_id"],
                carrier=payload.get("carrier"),
                tracking_number=payload.get("tracking_number"),
                status=payload["status"],
            ),
        )
        return [] if request is None else [request]

    def judge(delivery: Any, status: int, body: bytes) -> None:
        code = delivery.endpoint.partition(":")[2]
        channel = next((c for c in reactions.channels() if c["code"] == code), None)
        if channel is not None:
            adapter_for(channel["adapter"]).check_response(status, body)
        if not 200 <= status < 300:
            raise CallRefused(
                f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}",
                retry=retryable_status(status),
            )

    runtime = ConnectorRuntime(
        store,
        render=render,
        judge=judge,
        policy=RetryPolicy(
            max_attempts=hub.settings.delivery_max_attempts,
            base_seconds=hub.settings.delivery_backoff_seconds,
            timeout_seconds=hub.settings.delivery_timeout_seconds,
        ),
        rate_per_second=hub.settings.endpoint_rate_per_second,
        secrets=secret_for,
        on_delivered=delivered,
        performers={"backend": backends.perform},  # backend:<code> deliveries run exchanges
    )
    workers = Workers(hub, store, bus, runtime, flusher, backends=backends)
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
