"""fan-out: 10,000 stock changes on 100 SKUs (``POST /api/v1/inventory/movements``, 32 in flight,
SKU after SKU as a stock count or a flash sale works through its articles) with 5 channels
subscribed, each pushed to a receiver on 127.0.0.1 (a threaded HTTP server in this process that
acknowledges every push and notes when it arrived).

Measured: the lag from each change's commit to each channel's acknowledgement of a value at
least as new as that change (every change, every channel: 50,000 lags), p50 and p99; pushes
sent against changes (the coalescing factor); and, once the hub is quiet, every channel's last
value equal to what the hub publishes for it. The hub's own view (``/channels/{code}/sync``,
the lag of the last push of each SKU) is reported beside it.

Baselines: for the lag, the flush interval (a change waits for the next flush, by design); for
the coalescing factor, its ideal (one push per channel and SKU for the whole burst).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import sqlalchemy as sa

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.tables import deliveries, outbox, stock_ledger
from omnihub.domain import events as ev
from omnihub.domain.integration import published_quantity
from omnihub.entrypoints.bench import drivers, processes, retailer
from omnihub.entrypoints.bench.buses import bus_url
from omnihub.entrypoints.bench.context import (
    BenchContext,
    BenchFailure,
    Row,
    measure,
    percentile,
)
from omnihub.entrypoints.bench.databases import provisioned

FLUSH_SECONDS = 1.0
IN_FLIGHT = 32
QUIET_SECONDS = 2 * FLUSH_SECONDS
SETTLE_TIMEOUT = 600.0
#: (code, allocation ratio, buffer, locations served; none = all)
CHANNELS = (
    ("tmall", 1.0, 0, ()),
    ("jd", 0.8, 2, ()),
    ("pdd", 0.5, 5, ()),
    ("douyin", 0.29, 1, ()),
    ("miniapp", 0.57, 0, ("WH-SH", "WH-BJ")),
)
LOCATIONS = ("WH-SH", "WH-BJ", "WH-GZ")


@dataclass
class Receiver:
    """The channels' side: every push acknowledged, its arrival noted by (channel, SKU)."""

    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrivals: dict[tuple[str, str], list[tuple[float, int]]] = field(default_factory=dict)
    last: dict[tuple[str, str], int] = field(default_factory=dict)
    pushes: int = 0
    last_at: float = 0.0
    problems: list[str] = field(default_factory=list)

    def push(self, path: str, body: bytes) -> int:
        now = time.time()
        parts = path.strip("/").split("/")
        try:
            payload = json.loads(body)
            key = (parts[1], str(payload["sku"]))
            version, quantity = int(payload["version"]), int(payload["quantity"])
        except (ValueError, KeyError, IndexError) as exc:
            with self.lock:
                self.problems.append(f"{path}: {exc}: {body[:200]!r}")
            return 400
        with self.lock:
            self.arrivals.setdefault(key, []).append((now, version))
            self.last[key] = quantity  # a channel's stock API: the last push wins
            self.pushes += 1
            self.last_at = time.monotonic()
        return 200

    def quiet_for(self) -> float:
        with self.lock:
            return time.monotonic() - self.last_at if self.last_at else 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a channel's API gateway would

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.push(self.path, body)
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = _Server(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class BacklogWatch:
    """Samples the hub's outbox backlog (``/metrics``) every 2 s while a burst runs: events
    committed and not yet relayed, and the age of the oldest, are the relay falling behind."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.most = 0
        self.oldest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with retailer.client(self.base_url) as api:
            while not self._stop.wait(2.0):
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    for line in api.get("/metrics").text.splitlines():
                        name, _, value = line.partition(" ")
                        if name == "omnihub_outbox_backlog":
                            self.most = max(self.most, int(float(value)))
                        elif name == "omnihub_outbox_oldest_age_seconds":
                            self.oldest = max(self.oldest, float(value))


def movements(skus: list[str], count: int, seed: int = 5) -> list[str]:
    """``count`` movement bodies, SKU after SKU: receipts, adjustments and stock-takes
    (absolute counts, so stock goes down as well as up), each at a random warehouse."""
    rng = random.Random(seed)
    per_sku = max(1, count // len(skus))
    bodies = []
    for n in range(count):
        kind = rng.choices(["receipt", "adjustment", "stocktake"], weights=[5, 2, 3])[0]
        bodies.append(
            json.dumps(
                {
                    "location": rng.choice(LOCATIONS),
                    "sku": skus[min(n // per_sku, len(skus) - 1)],
                    "kind": kind,
                    "qty": rng.randint(0, 400) if kind == "stocktake" else rng.randint(1, 9),
                    "reference": f"DOC-{n:06d}",
                }
            )
        )
    return bodies


@dataclass(frozen=True)
class Change:
    """A stock change as the channels see it: its SKU and version (the outbox sequence the
    push carries), and two bounds of its commit: the event's time (taken by the use case before
    it waited for the database) and when the client had the hub's answer (after the commit)."""

    sku: str
    version: int
    event_time: float
    answered: float | None


def _changes(url: str, answered: dict[int, float]) -> list[Change]:
    """Every stock change, from the outbox. A movement's ledger row and its event carry the
    same timestamp, which ties the event to the movement's reference, so to its request."""
    engine = create_engine(url)
    try:
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            events = list(
                conn.execute(
                    sa.select(outbox.c.id, outbox.c.aggregate_id, outbox.c.occurred_at)
                    .where(outbox.c.type == ev.STOCK_CHANGED)
                    .order_by(outbox.c.id)
                )
            )
            ledger = sa.select(
                stock_ledger.c.sku, stock_ledger.c.created_at, stock_ledger.c.reference
            )
            references = {(sku, at): ref for sku, at, ref in conn.execute(ledger)}
    finally:
        engine.dispose()
    changes = []
    for id_, sku, at in events:
        reference = references.get((sku, at), "")
        request = int(reference[4:]) if reference.startswith("DOC-") else -1
        changes.append(Change(sku, int(id_), at.timestamp(), answered.get(request)))
    return changes


def push_times(url: str) -> list[float]:
    """Seconds from the flusher queueing each stock push to the channel acknowledging it."""
    engine = create_engine(url)
    try:
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            rows = conn.execute(
                sa.select(deliveries.c.created_at, deliveries.c.finished_at).where(
                    deliveries.c.event_type == "stock.push", deliveries.c.finished_at.is_not(None)
                )
            )
            return [(done - queued).total_seconds() for queued, done in rows]
    finally:
        engine.dispose()


def lags(
    changes: list[tuple[str, int, float]], receiver: Receiver, channels: list[str]
) -> tuple[list[float], dict[str, list[float]], int]:
    """For every change and channel: seconds from the change to the first acknowledged push
    of its SKU carrying that version or a newer one. Also how many never got one."""
    firsts: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
    for key, arrivals in receiver.arrivals.items():
        newest, versions, times = -1, [], []
        for at, version in sorted(arrivals):
            if version > newest:  # the newest value the channel holds, as time goes on
                newest = version
                versions.append(version)
                times.append(at)
        firsts[key] = (versions, times)
    every: list[float] = []
    per_channel: dict[str, list[float]] = {c: [] for c in channels}
    missing = 0
    for sku, version, committed in changes:
        for channel in channels:
            versions, times = firsts.get((channel, sku), ([], []))
            at = bisect.bisect_left(versions, version)
            if at == len(versions):
                missing += 1
                continue
            lag = max(0.0, times[at] - committed)
            every.append(lag)
            per_channel[channel].append(lag)
    return every, per_channel, missing


def run(ctx: BenchContext) -> dict[str, Row]:
    s = ctx.sizes
    skus = [f"FAN-{n:03d}" for n in range(s.fanout_skus)]
    channels = CHANNELS[: s.fanout_channels]
    codes = [c[0] for c in channels]
    settings = {
        "OMNIHUB_STOCK_FLUSH_SECONDS": str(FLUSH_SECONDS),
        "OMNIHUB_FULL_COMPARE_SECONDS": "3600",  # the push is measured, not the repair
    }
    with (
        provisioned(ctx, "fan-out") as url,
        bus_url(ctx, "fan-out") as bus,
        receiving() as receiver,
        processes.hub(
            url,
            workers=ctx.server_workers,
            workdir=ctx.workdir / "fan-out-hub",
            settings={**settings, "OMNIHUB_BUS_URL": bus},
        ) as hub,
        retailer.client(hub.base_url) as api,
    ):
        ctx.progress("fan-out: seeding")
        retailer.add_warehouses(api, LOCATIONS)
        retailer.add_skus(api, skus)
        for code, ratio, buffer, served in channels:
            retailer.expect(
                api.post(
                    "/api/v1/channels",
                    json={
                        "code": code,
                        "adapter": "generic",
                        "endpoint": f"{receiver.url}/ch/{code}",
                        "secret": f"{code}-bench-secret-0001",
                        "allocation_ratio": ratio,
                        "buffer": buffer,
                        "locations": list(served),
                    },
                ),
                201,
            )

        ctx.progress(f"fan-out: {s.fanout_changes} stock changes")
        watch = BacklogWatch(hub.base_url)
        watch.start()
        try:
            burst = drivers.drive(
                [
                    retailer.http_job(
                        hub.base_url,
                        "/api/v1/inventory/movements",
                        movements(skus, s.fanout_changes),
                        (0, s.fanout_changes),
                        IN_FLIGHT,
                        retry=True,
                        answered=True,
                    )
                ]
            )
        finally:
            watch.stop()
        applied = burst.statuses.get("201", 0) + burst.statuses.get("200", 0)
        if applied != s.fanout_changes:
            raise BenchFailure(f"fan-out: movements answered {dict(burst.statuses)} {burst.errors}")

        ctx.progress("fan-out: waiting for every channel to be in sync")
        settled_from = time.monotonic()

        def quiet() -> bool:
            for code in codes:
                sync = retailer.expect(api.get(f"/api/v1/channels/{code}/sync"), 200)
                if sync["skus"] != len(skus) or sync["behind"] != 0:
                    return False
            return receiver.quiet_for() > QUIET_SECONDS

        retailer.wait_until("every channel in sync with the hub", quiet, SETTLE_TIMEOUT, 0.5)
        settle_seconds = time.monotonic() - settled_from - QUIET_SECONDS
        stock = {sku: retailer.expect(api.get(f"/api/v1/inventory/{sku}"), 200) for sku in skus}
        syncs = {c: retailer.expect(api.get(f"/api/v1/channels/{c}/sync"), 200) for c in codes}
        changes = _changes(url, burst.answered)
        pushed = push_times(url)

    wrong = {
        (code, sku): (
            receiver.last.get((code, sku)),
            published_quantity(stock[sku]["locations"], served, ratio, buffer),
        )
        for code, ratio, buffer, served in channels
        for sku in skus
        if receiver.last.get((code, sku))
        != published_quantity(stock[sku]["locations"], served, ratio, buffer)
    }
    if wrong or receiver.problems:
        raise BenchFailure(
            f"fan-out: channels differ from the hub (received, hub): "
            f"{dict(list(wrong.items())[:10])} {receiver.problems[:5]}"
        )
    if len(changes) != s.fanout_changes:
        raise BenchFailure(f"fan-out: {s.fanout_changes} changes, {len(changes)} events")
    untied = sum(1 for c in changes if c.answered is None)
    if untied:
        raise BenchFailure(
            f"fan-out: {untied} stock events not tied to their movement's answer "
            "(the ledger row and the event no longer share a timestamp?)"
        )
    every, per_channel, missing = lags(
        [(c.sku, c.version, c.answered or 0.0) for c in changes], receiver, codes
    )
    from_event, _, _ = lags([(c.sku, c.version, c.event_time) for c in changes], receiver, codes)
    if missing:
        raise BenchFailure(f"fan-out: {missing} (change, channel) pairs never acknowledged")
    pushes = receiver.pushes
    factor = s.fanout_changes * len(codes) / pushes
    ideal = s.fanout_changes / len(skus)
    common = {
        "changes": s.fanout_changes,
        "skus": len(skus),
        "channels": len(codes),
        "pushes": pushes,
        "flush_seconds": FLUSH_SECONDS,
        "db": ctx.db,
        "bus": ctx.bus,
        "server_workers": ctx.server_workers,
        "final_values_equal": True,
        "burst_seconds": round(burst.seconds, 2),
        "changes_per_s": round(burst.rate, 1),
        "in_sync_after_burst_s": round(settle_seconds, 2),
        "max_outbox_backlog": watch.most,
        "max_outbox_age_s": round(watch.oldest, 2),
        "push_queued_to_ack_ms": {
            "p50": round(percentile(pushed, 0.5) * 1e3, 1),
            "p99": round(percentile(pushed, 0.99) * 1e3, 1),
        },
    }
    hub_view = {
        c: {"p50_ms": syncs[c]["lag_ms_p50"], "p99_ms": syncs[c]["lag_ms_p99"]} for c in codes
    }
    per = {
        c: {
            "p50_ms": round(percentile(v, 0.5) * 1e3, 1),
            "p99_ms": round(percentile(v, 0.99) * 1e3, 1),
        }
        for c, v in per_channel.items()
    }
    flush_ms = FLUSH_SECONDS * 1e3
    return {
        "fan_out.lag.p50": measure(
            percentile(every, 0.50) * 1e3,
            "ms",
            flush_ms / 2,
            {
                **common,
                "baseline_is": "half the flush interval (the mean wait for a flush)",
                "lag_is": "from the client's answer (just after the commit) to the ack",
                "from_event_time_ms": round(percentile(from_event, 0.50) * 1e3, 1),
                "lags_measured": len(every),
                "per_channel": per,
            },
        ),
        "fan_out.lag.p99": measure(
            percentile(every, 0.99) * 1e3,
            "ms",
            flush_ms,
            {
                **common,
                "baseline_is": "the flush interval",
                "lag_is": "from the client's answer (just after the commit) to the ack",
                "from_event_time_ms": round(percentile(from_event, 0.99) * 1e3, 1),
                "hub_sync_view": hub_view,
            },
        ),
        "fan_out.coalescing": measure(
            factor,
            "x",
            ideal,
            {
                **common,
                "baseline_is": "one push per channel and SKU for the whole burst",
                "pushes_per_channel": {
                    c: sum(len(v) for k, v in receiver.arrivals.items() if k[0] == c) for c in codes
                },
            },
        ),
    }
