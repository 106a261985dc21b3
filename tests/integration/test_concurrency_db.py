"""Many writers at once on a real database: reservations never oversell, an order is made once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.tables import external_refs, orders, outbox, reservations
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.inventory import InsufficientStock, MovementKind
from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.orders import Address, Order, OrderLine, OrderStatus, Payment
from omnihub.domain.values import Money, new_id
from omnihub.ports import Clock, UnitOfWork
from omnihub.services import catalog, inventory, locations, routing
from omnihub.services import orders as order_services
from omnihub.services.invariants import check_books

pytestmark = pytest.mark.integration

T = TypeVar("T")

WAREHOUSE = "WH-SH"
SKU = "TEA-001"
CHANNEL = "tmall"
PRICE = Money.of("59.00")
STOCK = 50
THREADS = 16


class FixedClock(Clock):
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


CLOCK = FixedClock(datetime(2026, 11, 11, 0, 0, tzinfo=UTC))


def _seed(engine: Engine) -> None:
    """One warehouse, one SKU with a channel mapping, and STOCK units received."""
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
    inventory.record_movement(
        SqlUnitOfWork(engine),
        inventory.RecordMovement(WAREHOUSE, SKU, MovementKind.RECEIPT, STOCK, "PO-1"),
        CLOCK,
    )


@pytest.fixture
def stocked(engine: Engine) -> Engine:
    _seed(engine)
    return engine


def _at_once(workers: int, job: Callable[[int], T]) -> list[T | Exception]:
    """Run ``job(i)`` in ``workers`` threads released together by a barrier."""
    barrier = threading.Barrier(workers)

    def run(i: int) -> T | Exception:
        barrier.wait(timeout=30)
        try:
            return job(i)
        except Exception as exc:  # collected and judged by the test
            return exc

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


def _assert_books_balance(engine: Engine) -> None:
    report = check_books(SqlUnitOfWork(engine, read_only=True))
    assert report.violations == []


def _level(engine: Engine) -> tuple[int, int]:
    stock = inventory.stock_of(SqlUnitOfWork(engine, read_only=True), SKU)
    [level] = stock.levels
    return level.on_hand, level.reserved


def test_concurrent_reservations_take_exactly_the_stock_there_is(stocked: Engine) -> None:
    attempts_each = 5  # 16 x 5 = 80 requests for 50 units

    def reserve_until_done(_: int) -> list[str]:
        outcomes = []
        for _ in range(attempts_each):
            try:
                inventory.reserve_stock(
                    SqlUnitOfWork(stocked), inventory.ReserveStock(SKU, 1, WAREHOUSE), CLOCK
                )
                outcomes.append("reserved")
            except InsufficientStock:
                outcomes.append("insufficient")
        return outcomes

    results = _at_once(THREADS, reserve_until_done)

    assert not [r for r in results if isinstance(r, Exception)]
    counts = Counter(o for r in results if not isinstance(r, Exception) for o in r)
    assert counts == {"reserved": STOCK, "insufficient": THREADS * attempts_each - STOCK}
    assert _level(stocked) == (STOCK, STOCK)
    _assert_books_balance(stocked)


def test_concurrent_reservations_of_mixed_sizes_never_promise_more_than_is_on_hand(
    stocked: Engine,
) -> None:
    def reserve(i: int) -> tuple[int, bool]:
        qty = 1 + i % 4  # 1..4 units; 16 threads ask for 40, twice over
        taken = 0
        refused = False
        for _ in range(2):
            try:
                inventory.reserve_stock(
                    SqlUnitOfWork(stocked), inventory.ReserveStock(SKU, qty, WAREHOUSE), CLOCK
                )
                taken += qty
            except InsufficientStock:
                refused = True
        return taken, refused

    results = _at_once(THREADS, reserve)

    assert not [r for r in results if isinstance(r, Exception)]
    taken = sum(r[0] for r in results if not isinstance(r, Exception))
    on_hand, reserved = _level(stocked)
    assert (on_hand, reserved) == (STOCK, taken)
    assert taken <= STOCK
    left = STOCK - taken
    refused_sizes = [
        1 + i % 4 for i, r in enumerate(results) if not isinstance(r, Exception) and r[1]
    ]
    # stock only went down, so every refused request wanted more than is left at the end
    assert all(size > left for size in refused_sizes)
    _assert_books_balance(stocked)


def test_reservations_and_releases_racing_keep_the_books_balanced(stocked: Engine) -> None:
    def churn(_: int) -> int:
        """Take two units six times; keep the first hold, give every later one back."""
        kept = 0
        for _ in range(6):
            try:
                held = inventory.reserve_stock(
                    SqlUnitOfWork(stocked), inventory.ReserveStock(SKU, 2, WAREHOUSE), CLOCK
                )
            except InsufficientStock:
                continue
            if kept == 0:
                kept = held.qty
            else:
                inventory.release_reservation(SqlUnitOfWork(stocked), held.id, CLOCK)
        return kept

    results = _at_once(THREADS, churn)

    assert not [r for r in results if isinstance(r, Exception)]
    kept = sum(r for r in results if isinstance(r, int))
    assert _level(stocked) == (STOCK, kept)
    assert kept <= STOCK
    _assert_books_balance(stocked)


def test_a_receipt_resent_by_eight_threads_at_once_is_booked_once(stocked: Engine) -> None:
    command = inventory.RecordMovement(WAREHOUSE, SKU, MovementKind.RECEIPT, 12, "PO-2")

    results = _at_once(
        8, lambda _: inventory.record_movement(SqlUnitOfWork(stocked), command, CLOCK)
    )

    assert not [r for r in results if isinstance(r, Exception)]
    assert (
        sorted(r.duplicate for r in results if not isinstance(r, Exception)) == [False] + [True] * 7
    )
    assert _level(stocked) == (STOCK + 12, 0)
    _assert_books_balance(stocked)


def test_sweepers_in_several_workers_expire_each_reservation_exactly_once(
    stocked: Engine,
) -> None:
    for _ in range(40):
        inventory.reserve_stock(
            SqlUnitOfWork(stocked),
            inventory.ReserveStock(SKU, 1, WAREHOUSE, ttl_seconds=60),
            CLOCK,
        )
    later = FixedClock(CLOCK.now() + timedelta(seconds=61))

    swept = _at_once(
        4, lambda _: routing.expire_reservations(SqlUnitOfWork(stocked), later, batch=15)
    )

    assert not [r for r in swept if isinstance(r, Exception)]
    # each worker sweeps one batch of 15; whatever they left, one more sweep takes
    rest = routing.expire_reservations(SqlUnitOfWork(stocked), later)
    assert sum(n for n in swept if isinstance(n, int)) + rest == 40  # none expired twice
    assert routing.expire_reservations(SqlUnitOfWork(stocked), later) == 0
    assert _level(stocked) == (STOCK, 0)
    _assert_books_balance(stocked)


def test_the_books_check_reads_one_consistent_snapshot_while_writers_are_busy(
    stocked: Engine,
) -> None:
    """Reservations are taken and released while the books are checked over and over: every
    report must balance (a check that read each table at a different moment would not)."""
    done = threading.Event()

    def churn() -> None:
        while not done.is_set():
            try:
                held = inventory.reserve_stock(
                    SqlUnitOfWork(stocked), inventory.ReserveStock(SKU, 1, WAREHOUSE), CLOCK
                )
            except InsufficientStock:
                continue
            inventory.release_reservation(SqlUnitOfWork(stocked), held.id, CLOCK)

    with ThreadPoolExecutor(max_workers=6) as pool:
        writers = [pool.submit(churn) for _ in range(6)]
        try:
            reports = [check_books(SqlUnitOfWork(stocked, read_only=True)) for _ in range(60)]
        finally:
            done.set()
        for writer in writers:
            writer.result(timeout=60)

    assert [v for report in reports for v in report.violations] == []
    assert _level(stocked) == (STOCK, 0)


def _paid_order(external_id: str, qty: int = 3) -> order_services.IngestOrder:
    """A paid express order that passes the automatic review (full address, payment, totals)."""
    moment = datetime(2026, 11, 11, 0, 0, 1, tzinfo=UTC)
    total = PRICE.times(qty)
    return order_services.IngestOrder(
        channel=CHANNEL,
        external_id=external_id,
        status=OrderStatus.PAID,
        created_at=moment,
        updated_at=moment,
        delivery=DeliveryMode.EXPRESS,
        lines=[order_services.IncomingLine("tm-889", qty, PRICE, Money.of("0"))],
        ship_to=Address(
            name="Han Meimei", province="Zhejiang", city="Hangzhou", address="1 West Lake Road"
        ),
        total=total,
        payment=Payment("alipay", f"PAY-{external_id}", total, moment),
        raw=f'{{"tid": "{external_id}"}}',
    )


def _counting_factory(engine: Engine) -> tuple[Callable[[], UnitOfWork], Counter[str]]:
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def factory() -> UnitOfWork:
        with lock:
            calls["units_of_work"] += 1
        return SqlUnitOfWork(engine)

    return factory, calls


def _rows(engine: Engine, query: sa.Select[tuple[int]]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_the_same_order_delivered_by_eight_threads_at_once_is_stored_once(
    stocked: Engine,
) -> None:
    factory, calls = _counting_factory(stocked)
    command = _paid_order("T-20261111-0001")

    results = _at_once(8, lambda _: order_services.ingest_order(factory, command, CLOCK))

    assert not [r for r in results if isinstance(r, Exception)]
    outcomes = Counter(r.outcome for r in results if not isinstance(r, Exception))
    assert outcomes == {order_services.Outcome.CREATED: 1, order_services.Outcome.DUPLICATE: 7}
    assert len({r.order.id for r in results if not isinstance(r, Exception)}) == 1
    assert _rows(stocked, sa.select(sa.func.count()).select_from(orders)) == 1
    assert (
        _rows(
            stocked,
            sa.select(sa.func.count())
            .select_from(external_refs)
            .where(external_refs.c.kind == "order"),
        )
        == 1
    )
    # allocated once: three units reserved, not 8 x 3
    assert _level(stocked) == (STOCK, 3)
    assert _rows(stocked, sa.select(sa.func.count()).select_from(reservations)) == 1
    if stocked.dialect.name == "sqlite":
        # BEGIN IMMEDIATE queues the writers, so the later ones find the order on first try
        assert calls["units_of_work"] == 8
    _assert_books_balance(stocked)


def test_paid_orders_racing_for_the_last_units_are_allocated_or_held_never_oversold(
    stocked: Engine,
) -> None:
    factory, _ = _counting_factory(stocked)
    # 16 different orders of 4 units each want 64 of the 50 units
    results = _at_once(
        THREADS,
        lambda i: order_services.ingest_order(factory, _paid_order(f"T-RACE-{i:02d}", 4), CLOCK),
    )

    assert not [r for r in results if isinstance(r, Exception)]
    statuses = Counter(r.order.status for r in results if not isinstance(r, Exception))
    assert statuses == {OrderStatus.RELEASED: STOCK // 4, OrderStatus.HELD: THREADS - STOCK // 4}
    assert {
        r.order.hold_reason
        for r in results
        if not isinstance(r, Exception) and r.order.status is OrderStatus.HELD
    } == {"no_stock"}
    assert _level(stocked) == (STOCK, STOCK // 4 * 4)
    _assert_books_balance(stocked)


def test_each_stock_change_of_racing_orders_and_holds_carries_the_levels_it_left(
    stocked: Engine,
) -> None:
    factory, _ = _counting_factory(stocked)

    def take(i: int) -> object:
        if i % 2:
            return inventory.reserve_stock(
                SqlUnitOfWork(stocked), inventory.ReserveStock(SKU, 1, WAREHOUSE), CLOCK
            )
        return order_services.ingest_order(factory, _paid_order(f"T-LEVELS-{i:02d}", 2), CLOCK)

    results = _at_once(THREADS, take)

    assert not [r for r in results if isinstance(r, Exception)]
    with stocked.connect() as conn:
        changes = list(
            conn.execute(
                sa.select(outbox.c.data)
                .where(outbox.c.type == "stock.changed", outbox.c.aggregate_id == SKU)
                .order_by(outbox.c.id)
            ).scalars()
        )
    # the receipt's, then one per hold (1 unit) or order (2 units), in the order they committed
    reserved = [change["locations"][0]["reserved"] for change in changes]
    assert len(changes) == 1 + THREADS
    assert reserved[0] == 0
    steps = [later - earlier for earlier, later in zip(reserved, reserved[1:], strict=False)]
    assert sorted(steps) == [1] * (THREADS // 2) + [2] * (THREADS // 2)
    on_hand, held = _level(stocked)
    assert (on_hand, held) == (STOCK, THREADS // 2 * 3)
    assert changes[-1] == {
        "sku": SKU,
        "available": on_hand - held,
        "locations": [
            {
                "location": WAREHOUSE,
                "on_hand": on_hand,
                "reserved": held,
                "available": on_hand - held,
            }
        ],
    }
    _assert_books_balance(stocked)


def test_sqlite_writers_wait_in_line_and_one_that_fails_gives_its_turn_back(
    sqlite_url: str,
) -> None:
    # two engines on one file stand for two server processes: they meet on the lock file
    here, other = create_engine(sqlite_url), create_engine(sqlite_url)
    entered = threading.Event()

    def write_from_the_other_process() -> None:
        with SqlUnitOfWork(other) as uow:
            entered.set()
            uow.commit()

    try:
        with pytest.raises(RuntimeError), SqlUnitOfWork(here):
            raise RuntimeError("the use case failed")
        started = time.monotonic()
        with SqlUnitOfWork(here):
            assert time.monotonic() - started < 5  # the failed writer's turn was given back
            waiter = threading.Thread(target=write_from_the_other_process)
            waiter.start()
            assert not entered.wait(0.3)  # in line while this writer holds its turn,
            assert other.pool.checkedout() == 0  # before it takes a connection or BEGINs
        assert entered.wait(5)  # and in as soon as this one lets go
        waiter.join(timeout=5)
    finally:
        here.dispose()
        other.dispose()


def _wait_for_lock_waiters(engine: Engine, count: int, deadline_seconds: float = 30.0) -> None:
    """Poll PostgreSQL until ``count`` other sessions wait on a row lock (no fixed sleep)."""
    give_up = time.monotonic() + deadline_seconds
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while True:
            waiting = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting >= count:
                return
            assert time.monotonic() < give_up, f"only {waiting} of {count} sessions are waiting"


@pytest.mark.postgres
def test_on_postgresql_losers_of_the_insert_race_retry_and_find_the_order(
    postgres_url: str,
) -> None:
    """Force the race: one transaction binds the order and stays open while eight deliveries
    of the same order queue behind its unique key; after it commits each gets DuplicateOrder,
    retries in a new transaction, and reports the order as a duplicate."""
    engine = create_engine(postgres_url)
    try:
        _seed(engine)
        factory, calls = _counting_factory(engine)
        command = _paid_order("T-20261111-0002")

        first = SqlUnitOfWork(engine)
        with first:
            order = Order.receive(
                id=new_id(),
                channel=CHANNEL,
                external_id=command.external_id,
                channel_status=OrderStatus.CREATED,
                delivery=command.delivery,
                lines=[OrderLine(1, "tm-889", 3, PRICE, Money.of("0"), SKU)],
                channel_created_at=command.created_at,
                channel_updated_at=command.updated_at,
                at=CLOCK.now(),
            )
            first.orders.add(order)  # the binding row is written, not yet committed

            with ThreadPoolExecutor(max_workers=8) as pool:
                futures = [
                    pool.submit(order_services.ingest_order, factory, command, CLOCK)
                    for _ in range(8)
                ]
                _wait_for_lock_waiters(engine, 8)
                first.commit()
                results = [f.result(timeout=60) for f in futures]

        assert {r.outcome for r in results} == {order_services.Outcome.DUPLICATE}
        assert {r.order.id for r in results} == {order.id}
        assert calls["units_of_work"] == 16  # every delivery needed a second attempt
        assert _rows(engine, sa.select(sa.func.count()).select_from(orders)) == 1
        _assert_books_balance(engine)
    finally:
        engine.dispose()
