"""The transactional outbox and its relay on a real database (SQLite file and PostgreSQL).

Every committed state change leaves its events in the outbox in the same transaction; the relay
publishes the oldest undelivered events in order and marks them delivered only once the bus has
taken them; a bus that is down leaves them all where they are; on PostgreSQL several relays share
the backlog (FOR UPDATE SKIP LOCKED) without publishing a row twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnihub.adapters.bus.memory import MemoryBus
from omnihub.adapters.db.integration import SqlIntegrationStores
from omnihub.adapters.db.tables import outbox
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.domain import events as ev
from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.events import Event
from omnihub.domain.inventory import MovementKind
from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.orders import Address, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.ports import (
    BusUnavailable,
    ChannelRecord,
    Clock,
    Envelope,
    IntegrationStores,
    OutboxRelay,
    Subscription,
    SystemClock,
)
from omnihub.services import catalog, handlers, inventory, locations
from omnihub.services import orders as order_services
from omnihub.services.recipients import Recipients

if TYPE_CHECKING:
    from omnihub.adapters.bus.nats import NatsBus

pytestmark = pytest.mark.integration

WAREHOUSE = "WH-SH"
SKU = "TEA-001"
CHANNEL = "tmall"
PRICE = Money.of("59.00")
NOW = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)


class FixedClock(Clock):
    def now(self) -> datetime:
        return NOW


CLOCK = FixedClock()
NATS_URL = os.environ.get("OMNIHUB_TEST_NATS_URL", "nats://127.0.0.1:4222").rstrip("/")
IN_CI = os.environ.get("CI", "").lower() == "true"


async def _nats_admin(url: str, delete_streams: tuple[str, ...] = ()) -> None:
    """Check JetStream answers (and delete a test's streams)."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        await js.account_info()
        for stream in delete_streams:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(stream)
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def nats_url() -> str:
    """NATS JetStream for the tests marked ``nats``: FAILS under CI=true when unreachable."""
    try:
        asyncio.run(asyncio.wait_for(_nats_admin(NATS_URL), 10))
    except Exception as exc:  # unreachable, no JetStream: the same to us
        message = f"NATS JetStream is not reachable at {NATS_URL} ({type(exc).__name__}: {exc})"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return NATS_URL


@pytest.fixture
def nats_bus(nats_url: str) -> Iterator[NatsBus]:
    """A NatsBus on a namespace of its own; its streams are deleted afterwards."""
    from omnihub.adapters.bus.nats import FAMILIES, NatsBus

    bus = NatsBus(f"{nats_url}/t{uuid.uuid4().hex[:16]}")
    try:
        yield bus
    finally:
        bus.close()
        streams = tuple(bus.stream_for(family) for family in FAMILIES)
        asyncio.run(_nats_admin(nats_url, streams))


# -- helpers -------------------------------------------------------------------------------------
def seed(engine: Engine) -> None:
    """One warehouse, one SKU mapped for a channel. Seeding itself records no events."""
    locations.add_location(
        SqlUnitOfWork(engine),
        Location(
            WAREHOUSE,
            "Shanghai DC",
            LocationType.WAREHOUSE,
            31.23,
            121.47,
            services=frozenset({Service.SHIP}),
        ),
    )
    catalog.add_sku(SqlUnitOfWork(engine), Sku(SKU, "Longjing tea 250 g", PRICE))
    catalog.add_mapping(SqlUnitOfWork(engine), ChannelMapping(CHANNEL, "tm-889", SKU), CLOCK)


def outbox_rows(engine: Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox).order_by(outbox.c.id)))


def undelivered(engine: Engine) -> list[int]:
    # a reader, as the hub's are: on SQLite it must not wait for the relay's write lock
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        return [
            row.id
            for row in conn.execute(
                sa.select(outbox.c.id).where(outbox.c.delivered_at.is_(None)).order_by(outbox.c.id)
            )
        ]


def on_hand(engine: Engine) -> int:
    stock = inventory.stock_of(SqlUnitOfWork(engine, read_only=True), SKU)
    return sum(level.on_hand for level in stock.levels)


def receive(engine: Engine, qty: int, reference: str) -> None:
    inventory.record_movement(
        SqlUnitOfWork(engine),
        inventory.RecordMovement(WAREHOUSE, SKU, MovementKind.RECEIPT, qty, reference),
        CLOCK,
    )


def fill_outbox(engine: Engine, count: int, skus: int = 20) -> list[str]:
    """``count`` stock.changed events committed through units of work, 200 at a time."""
    ids: list[str] = []
    for start in range(0, count, 200):
        batch = [
            Event(
                ev.STOCK_CHANGED,
                f"SKU-{n % skus}",
                NOW,
                {"sku": f"SKU-{n % skus}", "available": n, "locations": []},
            )
            for n in range(start, min(count, start + 200))
        ]
        with SqlUnitOfWork(engine) as uow:
            uow.emit(*batch)
            uow.commit()
        ids.extend(e.id for e in batch)
    return ids


def paid_order(external_id: str, qty: int = 1) -> order_services.IngestOrder:
    total = PRICE.times(qty)
    return order_services.IngestOrder(
        channel=CHANNEL,
        external_id=external_id,
        status=OrderStatus.PAID,
        created_at=NOW,
        updated_at=NOW,
        delivery=DeliveryMode.EXPRESS,
        lines=[order_services.IncomingLine("tm-889", qty, PRICE, Money.of("0"))],
        ship_to=Address(
            name="Han Meimei", province="Zhejiang", city="Hangzhou", address="1 West Lake Road"
        ),
        total=total,
        payment=Payment("alipay", f"PAY-{external_id}", total, NOW),
        raw=f'{{"tid": "{external_id}"}}',
    )


def drain(relay: OutboxRelay, publish: Callable[[list[Envelope]], None], limit: int) -> int:
    published = 0
    for _ in range(10_000):
        n = relay.relay_batch(publish, NOW, limit=limit)
        if n == 0:
            return published
        published += n
    raise AssertionError("the relay never drained the outbox")


# -- every committed state change leaves its events, in the same transaction ----------------------
def test_a_committed_stock_movement_leaves_a_stock_changed_event_with_the_level_after_it(
    engine: Engine,
) -> None:
    seed(engine)
    assert outbox_rows(engine) == []

    receive(engine, 40, "GRN-1")
    receive(engine, 2, "GRN-2")

    rows = outbox_rows(engine)
    assert [r.type for r in rows] == [ev.STOCK_CHANGED, ev.STOCK_CHANGED]
    assert [r.aggregate_id for r in rows] == [SKU, SKU]
    assert [r.data["available"] for r in rows] == [40, 42]
    assert rows[1].data["locations"] == [
        {"location": WAREHOUSE, "on_hand": 42, "reserved": 0, "available": 42}
    ]
    assert all(r.delivered_at is None for r in rows)
    assert len({r.event_id for r in rows}) == 2


def test_every_kind_of_state_change_leaves_its_events_in_the_outbox(engine: Engine) -> None:
    seed(engine)
    receive(engine, 10, "GRN-1")
    before = len(outbox_rows(engine))

    held = inventory.reserve_stock(
        SqlUnitOfWork(engine), inventory.ReserveStock(SKU, 3, WAREHOUSE), CLOCK
    )
    inventory.release_reservation(SqlUnitOfWork(engine), held.id, CLOCK)
    order_services.ingest_order(lambda: SqlUnitOfWork(engine), paid_order("TM-1"), CLOCK)

    types = Counter(r.type for r in outbox_rows(engine)[before:])
    assert types[ev.RESERVATION_TAKEN] == 2  # the cart hold, then the order's allocation
    assert types[ev.RESERVATION_RELEASED] == 1
    assert types[ev.ORDER_INGESTED] == 1
    assert types[ev.STOCK_CHANGED] >= 3
    order_events = [r for r in outbox_rows(engine) if r.type.startswith("order.")]
    versions = [r.version for r in order_events]
    assert versions == sorted(versions)
    assert len({r.aggregate_id for r in order_events}) == 1


def test_a_duplicate_movement_changes_nothing_and_records_no_event(engine: Engine) -> None:
    seed(engine)
    receive(engine, 5, "GRN-1")
    receive(engine, 5, "GRN-1")
    assert on_hand(engine) == 5
    assert len(outbox_rows(engine)) == 1


def test_a_unit_of_work_that_is_not_committed_leaves_no_outbox_rows(engine: Engine) -> None:
    seed(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.stock.move(WAREHOUSE, SKU, MovementKind.RECEIPT, 7, "GRN-ROLLED-BACK", NOW)
        uow.emit(inventory.stock_changed_event(uow, SKU, NOW))
        # leaving the block without commit() rolls everything back
    assert outbox_rows(engine) == []
    assert on_hand(engine) == 0


def test_a_use_case_that_fails_half_way_leaves_neither_its_change_nor_its_events(
    engine: Engine,
) -> None:
    seed(engine)
    receive(engine, 2, "GRN-1")
    before = outbox_rows(engine)

    with pytest.raises(inventory.InsufficientStock):
        inventory.reserve_stock(
            SqlUnitOfWork(engine), inventory.ReserveStock(SKU, 3, WAREHOUSE), CLOCK
        )

    assert outbox_rows(engine) == before
    level = inventory.stock_of(SqlUnitOfWork(engine, read_only=True), SKU).levels[0]
    assert (level.on_hand, level.reserved) == (2, 0)


def test_when_the_outbox_insert_fails_the_state_change_is_rolled_back_with_it(
    engine: Engine,
) -> None:
    """The events and the change commit together or not at all: an event id already in the
    outbox (unique) makes the commit fail, and the stock movement goes with it."""
    seed(engine)
    receive(engine, 1, "GRN-1")
    [first] = outbox_rows(engine)

    with SqlUnitOfWork(engine) as uow:
        uow.stock.move(WAREHOUSE, SKU, MovementKind.RECEIPT, 9, "GRN-2", NOW)
        uow.emit(Event(ev.STOCK_CHANGED, SKU, NOW, {"sku": SKU}, id=first.event_id))
        with pytest.raises(sa.exc.IntegrityError):
            uow.commit()

    assert on_hand(engine) == 1
    assert [r.event_id for r in outbox_rows(engine)] == [first.event_id]
    with SqlUnitOfWork(engine, read_only=True) as uow:
        assert not uow.stock.has_movement(WAREHOUSE, SKU, MovementKind.RECEIPT, "GRN-2")


# -- the relay -----------------------------------------------------------------------------------
def test_the_relay_publishes_the_oldest_events_first_in_batches_and_in_order(
    engine: Engine,
) -> None:
    ids = fill_outbox(engine, 250)
    relay = SqlIntegrationStores.on(engine).outbox
    batches: list[list[Envelope]] = []

    assert drain(relay, batches.append, limit=100) == 250

    assert [len(b) for b in batches] == [100, 100, 50]
    published = [e["id"] for b in batches for e in b]
    assert published == ids
    sequences = [e["sequence"] for b in batches for e in b]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 250
    assert undelivered(engine) == []
    assert relay.totals() == {"events": 250, "published": 250}


def test_the_relay_publishes_the_envelope_receivers_are_promised(engine: Engine) -> None:
    seed(engine)
    receive(engine, 12, "GRN-1")
    [row] = outbox_rows(engine)
    got: list[Envelope] = []

    SqlIntegrationStores.on(engine).outbox.relay_batch(got.extend, NOW)

    [envelope] = got
    assert {"id", "type", "occurred_at", "aggregate_id", "version", "data"} <= set(envelope)
    assert envelope["id"] == row.event_id
    assert envelope["type"] == ev.STOCK_CHANGED
    assert envelope["aggregate_id"] == SKU
    assert envelope["data"]["sku"] == SKU
    assert envelope["data"]["available"] == 12
    assert datetime.fromisoformat(envelope["occurred_at"]).tzinfo is not None
    # a stock event's version grows with every change of the SKU (the outbox sequence)
    assert envelope["version"] == row.id


def test_the_relay_marks_events_delivered_only_after_publish_returns(engine: Engine) -> None:
    fill_outbox(engine, 30)
    relay = SqlIntegrationStores.on(engine).outbox
    seen_while_publishing: list[list[int]] = []

    def publish(envelopes: list[Envelope]) -> None:
        # what another connection sees while the bus has not yet acknowledged
        seen_while_publishing.append(undelivered(engine))

    assert relay.relay_batch(publish, NOW, limit=20) == 20
    rows = outbox_rows(engine)
    assert seen_while_publishing == [[r.id for r in rows]]
    assert undelivered(engine) == [r.id for r in rows[20:]]
    assert {r.delivered_at for r in rows[:20]} == {NOW}


def test_a_bus_that_is_unavailable_leaves_every_event_undelivered(engine: Engine) -> None:
    ids = fill_outbox(engine, 40)
    relay = SqlIntegrationStores.on(engine).outbox
    before = undelivered(engine)
    half_sent: list[str] = []

    def broken(envelopes: list[Envelope]) -> None:
        half_sent.extend(e["id"] for e in envelopes[:10])  # took some, acknowledged none
        raise BusUnavailable("NATS did not acknowledge")

    for _ in range(3):
        with pytest.raises(BusUnavailable):
            relay.relay_batch(broken, NOW)
        assert undelivered(engine) == before
    assert relay.backlog(NOW).events == 40

    # back up: everything is published, the half-sent ones again (receivers drop duplicates)
    published: list[Envelope] = []
    assert drain(relay, published.extend, limit=500) == 40
    assert [e["id"] for e in published] == ids
    assert set(half_sent) <= set(ids)
    assert undelivered(engine) == []


def test_a_hub_subscriber_that_fails_keeps_the_events_in_the_outbox_until_it_succeeds(
    engine: Engine,
) -> None:
    """The in-process bus delivers while publishing: a failing reaction is a failed publish."""
    fill_outbox(engine, 5)
    relay = SqlIntegrationStores.on(engine).outbox
    bus = MemoryBus()
    calls: list[str] = []
    down = threading.Event()
    down.set()

    def reaction(envelope: Envelope) -> None:
        calls.append(envelope["id"])
        if down.is_set():
            raise RuntimeError("database of the reaction is locked")

    bus.subscribe("webhooks", ["*"], reaction)
    with pytest.raises(BusUnavailable):
        relay.relay_batch(bus.publish, NOW)
    assert len(undelivered(engine)) == 5

    down.clear()
    assert drain(relay, bus.publish, limit=500) == 5
    assert undelivered(engine) == []
    assert len(set(calls)) == 5


def _hub_reactions(engine: Engine) -> tuple[IntegrationStores, MemoryBus]:
    """The hub's stock and webhook reactions on the in-process bus, one channel, one
    subscriber to every event."""
    stores = SqlIntegrationStores.on(engine)
    stores.directory.add(
        ChannelRecord(
            code="jd", adapter="generic", endpoint="http://127.0.0.1:9/jd",
            secret="jd-secret-0123456789ab", allocation_ratio=1.0, buffer=0, locations=(),
            created_at=NOW,
        )
    )  # fmt: skip
    stores.webhooks.add(
        Subscription("erp", "http://127.0.0.1:9/erp", ("*",), "erp-secret-0123456789", NOW)
    )
    deps = handlers.Dependencies(
        deliveries=stores.deliveries,
        stock_sync=stores.stock_sync,
        directory=stores.directory,
        recipients=Recipients(stores.directory, stores.webhooks),
        channel_adapters=lambda name: pytest.fail(f"no platform adapter here, asked for {name}"),
        read_uow=lambda: SqlUnitOfWork(engine, read_only=True),
        backends={},
        clock=SystemClock(),
    )
    bus = MemoryBus()
    consumers = [c for c in handlers.HANDLERS if c.durable in ("webhooks", "stock-sync")]
    handlers.subscribe(bus, deps, consumers)
    return stores, bus


@contextlib.contextmanager
def write_transactions(engine: Engine) -> Iterator[list[str]]:
    """The write transactions begun on an SQLite engine (each takes the write lock)."""
    begun: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            begun.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        yield begun
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)


def test_on_sqlite_a_relay_batch_and_the_reactions_it_ran_take_the_write_lock_once(
    engine: Engine,
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL locks rows, not the database: each writer has its own")
    fill_outbox(engine, 30, skus=4)
    stores, bus = _hub_reactions(engine)
    with write_transactions(engine) as begun:
        assert stores.outbox.relay_batch(bus.publish, NOW) == 30
    assert len(begun) == 1
    assert undelivered(engine) == []
    assert set(stores.stock_sync.values("jd")) == {f"SKU-{n}" for n in range(4)}
    assert len(stores.deliveries.recent(endpoint="webhook:erp", limit=100)) == 30
    # idle: the relay and the delivery loops look with a read, and take no lock
    with write_transactions(engine) as begun:
        assert stores.outbox.relay_batch(bus.publish, NOW) == 0
        assert stores.deliveries.claim_due(NOW - timedelta(days=1), 32) == []
    assert begun == []


def test_on_sqlite_the_reactions_of_a_failed_publish_write_nothing(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's reactions commit on their own connections")
    fill_outbox(engine, 10)
    stores, bus = _hub_reactions(engine)

    def broken(envelopes: list[Envelope]) -> None:
        raise RuntimeError("a subscriber after the stock sync failed")

    bus.subscribe_batch("order-status", ["*"], broken)
    with pytest.raises(BusUnavailable):
        stores.outbox.relay_batch(bus.publish, NOW)
    assert len(undelivered(engine)) == 10
    assert stores.stock_sync.values("jd") == {}
    assert stores.deliveries.recent(limit=100) == []


@pytest.mark.postgres
def test_two_relays_in_parallel_never_publish_the_same_event_twice_and_together_publish_all(
    postgres_url: str,
) -> None:
    from omnihub.adapters.db.engine import create_engine

    engine = create_engine(postgres_url)
    try:
        ids = fill_outbox(engine, 3000)
        relay_store = SqlIntegrationStores.on(engine).outbox
        published: dict[str, list[str]] = {"A": [], "B": []}
        # both relays hold a locked batch at the same time before either may finish one
        both_publishing = threading.Barrier(2, timeout=30)
        errors: list[BaseException] = []

        def relay(name: str) -> None:
            first = True

            def publish(envelopes: list[Envelope]) -> None:
                nonlocal first
                published[name].extend(e["id"] for e in envelopes)
                if first:
                    first = False
                    both_publishing.wait()

            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    if relay_store.relay_batch(publish, NOW, limit=100) == 0 and not undelivered(
                        engine
                    ):
                        return
                raise AssertionError(f"relay {name} did not finish within 60 s")
            except BaseException as exc:  # judged below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=relay, args=(n,)) for n in published]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)

        assert errors == []
        a, b = published["A"], published["B"]
        assert a, "relay A took a share"
        assert b, "relay B took a share"
        assert not set(a) & set(b)
        assert len(a) == len(set(a))
        assert len(b) == len(set(b))
        assert sorted(a + b) == sorted(ids)
        assert undelivered(engine) == []
    finally:
        engine.dispose()


# -- throughput ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_relay_drains_a_backlog_of_thousands_of_events_through_the_in_process_bus(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    count = int(os.environ.get("OMNIHUB_TEST_RELAY_EVENTS", "5000"))
    fill_outbox(engine, count)
    relay = SqlIntegrationStores.on(engine).outbox
    bus = MemoryBus()
    received: list[str] = []
    bus.subscribe("count", ["*"], lambda e: received.append(e["id"]))

    started = time.perf_counter()
    assert drain(relay, bus.publish, limit=500) == count
    elapsed = time.perf_counter() - started

    assert len(received) == count
    with capsys.disabled():
        print(
            f"\nrelay on {engine.dialect.name} + memory bus: {count} events in "
            f"{elapsed:.2f} s = {count / elapsed:,.0f} events/s"
        )


@pytest.mark.slow
@pytest.mark.nats
def test_the_relay_drains_a_backlog_of_thousands_of_events_through_nats_jetstream(
    engine: Engine, nats_bus: NatsBus, capsys: pytest.CaptureFixture[str]
) -> None:
    count = int(os.environ.get("OMNIHUB_TEST_RELAY_EVENTS", "5000"))
    ids = fill_outbox(engine, count)
    relay = SqlIntegrationStores.on(engine).outbox
    received: set[str] = set()
    lock = threading.Lock()

    def consume(envelope: Envelope) -> None:
        with lock:
            received.add(envelope["id"])

    nats_bus.subscribe("count", ["stock.*"], consume)

    started = time.perf_counter()
    assert drain(relay, nats_bus.publish, limit=500) == count
    relayed = time.perf_counter() - started
    deadline = time.monotonic() + 120
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    consumed = time.perf_counter() - started

    assert received == set(ids)
    with capsys.disabled():
        print(
            f"\nrelay on {engine.dialect.name} + NATS JetStream: {count} events published in "
            f"{relayed:.2f} s = {count / relayed:,.0f} events/s; all consumed after "
            f"{consumed:.2f} s = {count / consumed:,.0f} events/s"
        )
