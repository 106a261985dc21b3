"""relay: outbox events published per second by the hub's relay (``OutboxRelay.relay_batch``,
batches of 500, as the server runs it), in process against the suite's database: to the
in-process bus (a subscriber counting what it is handed), and with ``--bus nats`` to NATS
JetStream as well (published concurrently, acknowledgements awaited per batch; every event then
consumed once by a durable consumer, which is reported but not timed into the rate).

Baselines, same run: for the in-process bus, the storage floor of a relay (a minimal script
reading the oldest 500 undelivered rows and marking them delivered, raw driver); for NATS, a
bare JetStream publish of the same envelopes in the same batches, without any database.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.bus.memory import MemoryBus
from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.integration import SqlIntegrationStores, envelope
from omnihub.adapters.db.tables import outbox
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.domain.events import Event, LocationStock, StockChanged
from omnihub.entrypoints.bench import drivers
from omnihub.entrypoints.bench.buses import nats_admin, stream_prefix
from omnihub.entrypoints.bench.context import BenchContext, BenchFailure, Row, measure, median
from omnihub.entrypoints.bench.databases import provisioned, raw_dsn
from omnihub.ports import Envelope, OutboxRelay

BATCH = 500
SKUS = 100
CONSUME_TIMEOUT = 300.0


def fill(engine: sa.Engine, count: int) -> None:
    """``count`` stock.changed events committed through units of work, 500 at a time."""
    now = datetime.now(UTC)
    for start in range(0, count, BATCH):
        batch = [
            Event.of(
                StockChanged(f"SKU-{n % SKUS}", n, (LocationStock("WH-SH", n, 0, n),)),
                f"SKU-{n % SKUS}",
                now,
            )
            for n in range(start, min(count, start + BATCH))
        ]
        with SqlUnitOfWork(engine) as uow:
            uow.emit(*batch)
            uow.commit()


def undeliver(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(outbox).values(delivered_at=None))


def drain(
    relay: OutboxRelay,
    publish: Callable[[list[Envelope]], None],
    count: int,
    relays: int = 1,
) -> float:
    """Seconds for ``relays`` relay loops (threads, as the server's worker processes each run
    one on PostgreSQL) to relay ``count`` events, every undelivered one."""
    relayed: list[int] = []
    errors: list[BaseException] = []

    def loop() -> None:
        done = 0
        try:
            while n := relay.relay_batch(publish, datetime.now(UTC), limit=BATCH):
                done += n
        except BaseException as exc:  # judged below, in the caller's thread
            errors.append(exc)
        relayed.append(done)

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise BenchFailure(f"relay: {errors[0]!r}") from errors[0]
    if sum(relayed) != count:
        raise BenchFailure(f"relay: {sum(relayed)} of {count} events relayed")
    return seconds


def storage_floor(url: str, count: int) -> float:
    """A minimal relay: read the oldest undelivered rows, mark them delivered; raw driver."""
    dialect, dsn = raw_dsn(url)
    conn = drivers._Connection(dialect, dsn)
    select = (
        "SELECT id, event_id, type, aggregate_id, version, occurred_at, data FROM outbox "
        "WHERE delivered_at IS NULL ORDER BY id LIMIT ?"
    )
    try:
        started = time.perf_counter()
        relayed = 0
        while relayed < count:
            rows = conn.execute(select, (BATCH,)).fetchall()
            if not rows:
                raise BenchFailure("relay floor: the outbox ran dry")
            marks = ", ".join("?" for _ in rows)
            conn.begin()
            conn.execute(
                f"UPDATE outbox SET delivered_at = ? WHERE id IN ({marks})",
                [datetime.now(UTC).isoformat(), *[r[0] for r in rows]],
            )
            conn.commit()
            relayed += len(rows)
        return time.perf_counter() - started
    finally:
        conn.close()


def _envelopes(engine: sa.Engine) -> list[Envelope]:
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        return [envelope(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id))]


async def _bare_publish(url: str, namespace: str, envelopes: list[Envelope]) -> float:
    """JetStream alone: the same envelopes, subjects and message ids, in batches of 500
    published concurrently with their acknowledgements awaited together."""
    import nats
    from nats.js.api import StreamConfig

    from omnihub.adapters.bus.nats import subject_for

    nc = await nats.connect(url, connect_timeout=5)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name=f"{namespace.upper()}_STOCK",
                subjects=[f"{namespace}.stock.>"],
                duplicate_window=120.0,
            )
        )
        payloads = [
            (subject_for(e, namespace), json.dumps(e, separators=(",", ":")).encode(), str(e["id"]))
            for e in envelopes
        ]
        started = time.perf_counter()
        for at in range(0, len(payloads), BATCH):
            await asyncio.gather(
                *(
                    js.publish(subject, data, headers={"Nats-Msg-Id": ident})
                    for subject, data, ident in payloads[at : at + BATCH]
                )
            )
        return time.perf_counter() - started
    finally:
        await nc.close()


def _nats_run(
    ctx: BenchContext, engine: sa.Engine, count: int, relays: int, bare: bool
) -> dict[str, float]:
    from omnihub.adapters.bus.nats import NatsBus

    base = ctx.nats_url.rstrip("/")
    namespace = f"bench_relay_{uuid.uuid4().hex[:8]}"
    bare_namespace = f"bench_bare_{uuid.uuid4().hex[:8]}"
    bus = NatsBus(f"{base}/{namespace}")
    received: set[str] = set()
    lock = threading.Lock()

    def consume(item: Envelope) -> None:
        with lock:
            received.add(str(item["id"]))

    try:
        bus.subscribe("bench-count", ["stock.*"], consume)
        undeliver(engine)
        started = time.perf_counter()
        relayed = drain(SqlIntegrationStores.on(engine).outbox, bus.publish, count, relays)
        deadline = time.monotonic() + CONSUME_TIMEOUT
        while len(received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        consumed = time.perf_counter() - started
        if len(received) != count:
            raise BenchFailure(f"relay: {count} events published, {len(received)} consumed")
        alone = (
            asyncio.run(_bare_publish(base, bare_namespace, _envelopes(engine))) if bare else 0.0
        )
    finally:
        bus.close()
        nats_admin(base, [stream_prefix(f"{base}/{namespace}"), f"{bare_namespace.upper()}_"])
    return {
        "relay": count / relayed,
        "consumed": count / consumed,
        "bare": count / alone if alone else 0.0,
    }


def run(ctx: BenchContext) -> dict[str, Row]:
    count = ctx.sizes.relay_events
    memory: list[float] = []
    floor: list[float] = []
    nats_runs: list[dict[str, float]] = []
    one_relay: list[float] = []
    # the server's relays: one per worker process on PostgreSQL (rows shared out with SKIP
    # LOCKED), one per database file on SQLite
    relays = ctx.server_workers if ctx.db == "postgresql" else 1
    if ctx.bus == "nats":
        nats_admin(ctx.nats_url.rstrip("/"))
    with provisioned(ctx, "relay") as url:
        engine = create_engine(url)
        try:
            ctx.progress(f"relay: {count} events into the outbox")
            fill(engine, count)
            relay = SqlIntegrationStores.on(engine).outbox
            for n in range(ctx.sizes.runs):
                ctx.progress(f"relay: run {n + 1} of {ctx.sizes.runs}")
                bus = MemoryBus()
                received: list[Envelope] = []
                bus.subscribe("bench-count", ["*"], received.append)
                undeliver(engine)
                memory.append(count / drain(relay, bus.publish, count, relays))
                if len(received) != count:
                    raise BenchFailure(f"relay: {count} events relayed, {len(received)} received")
                undeliver(engine)
                floor.append(count / storage_floor(url, count))
                if ctx.bus == "nats":
                    nats_runs.append(_nats_run(ctx, engine, count, relays, bare=True))
                    if relays > 1:
                        one = _nats_run(ctx, engine, count, 1, bare=False)
                        one_relay.append(one["relay"])
        finally:
            engine.dispose()
    common: dict[str, Any] = {
        "events": count,
        "batch": BATCH,
        "runs": ctx.sizes.runs,
        "db": ctx.db,
        "relays": relays,
    }
    rows = {
        f"relay.{ctx.db}.memory": measure(
            median(memory),
            "events/s",
            median(floor),
            {
                **common,
                "bus": "memory",
                "baseline_is": "minimal read-and-mark of the same rows (raw driver)",
                "run_rates": [round(r, 1) for r in memory],
                "baseline_run_rates": [round(r, 1) for r in floor],
            },
        ),
    }
    if nats_runs:
        rows[f"relay.{ctx.db}.nats"] = measure(
            median([r["relay"] for r in nats_runs]),
            "events/s",
            median([r["bare"] for r in nats_runs]),
            {
                **common,
                "bus": "nats",
                "baseline_is": "bare JetStream publish of the same envelopes, no database",
                "run_rates": [round(r["relay"], 1) for r in nats_runs],
                "baseline_run_rates": [round(r["bare"], 1) for r in nats_runs],
                "published_and_consumed_per_s": round(
                    median([r["consumed"] for r in nats_runs]), 1
                ),
                "one_relay_per_s": round(median(one_relay), 1) if one_relay else None,
            },
        )
    return rows
