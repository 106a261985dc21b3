"""Random sequences of real use cases against a real database keep the books of DESIGN.md §4.

A hypothesis state machine receives, adjusts and counts stock (refused when it would remove
promised units), sets safety stock, takes and releases carts' holds (InsufficientStock is a valid
answer), lets time pass and runs the sweepers, ingests canonical orders (new, duplicate, stale and
newer messages; mapped and unmapped listings; express and store pickup), moves orders through
their life (illegal moves are refused) and adds missing mappings. After every step the books are
checked by ``services.invariants.check_books`` and against a small model of what must be true,
kept here independently of the code under test.

SQLite gets a fresh file per example; PostgreSQL one database whose tables are emptied per example.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.engine import Engine

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.migrate import upgrade
from omnihub.adapters.db.tables import metadata
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.errors import Conflict, DomainError, ErrorCode
from omnihub.domain.inventory import (
    InsufficientStock,
    MovementKind,
    Reservation,
    ReservationState,
    StockLevel,
)
from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.orders import HOLDS_STOCK, Address, Buyer, Order, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.ports import Clock
from omnihub.services import catalog, inventory, locations, routing
from omnihub.services import orders as order_services
from omnihub.services.invariants import check_books

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))

WAREHOUSE = "WH-SH"
STORE = "ST-PD"
LOCATIONS = (WAREHOUSE, STORE)
SKUS = ("TEA-001", "MUG-002")
CHANNELS = ("tmall", "jd")
#: every channel listing and the SKU it stands for; only some are mapped at the start
LISTINGS: dict[tuple[str, str], str] = {
    ("tmall", "tm-tea"): "TEA-001",
    ("tmall", "tm-mug"): "MUG-002",
    ("jd", "jd-tea"): "TEA-001",
    ("jd", "jd-mug"): "MUG-002",
}
MAPPED_AT_START = {("tmall", "tm-tea"), ("tmall", "tm-mug"), ("jd", "jd-mug")}
OPENING_STOCK = 8
EXTERNAL_IDS = ("E-1", "E-2", "E-3")
PRICE = Money.of("59.00")
#: a full address, so the automatic review does not hold every order for it
SHIP_TO = Address(
    name="Li Lei",
    phone="13800000000",
    province="Shanghai",
    city="Shanghai",
    district="Pudong",
    address="88 Century Avenue",
)

#: statuses in which an order has (or had) stock promised or taken for every line
FULFILLING = HOLDS_STOCK | {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED}
FORWARD = ("pay", "allocate", "release", "pick", "ship", "deliver", "complete")
BACKWARD = ("cancel", "refund", "hold")
NEXT_ACTION = {
    OrderStatus.CREATED: "pay",
    OrderStatus.PAID: "allocate",
    OrderStatus.HELD: "release",
    OrderStatus.ALLOCATED: "release",
    OrderStatus.RELEASED: "pick",
    OrderStatus.PICKED: "ship",
    OrderStatus.SHIPPED: "deliver",
    OrderStatus.DELIVERED: "complete",
}


class ManualClock(Clock):
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: int) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class CartHold:
    qty: int
    expires_at: datetime
    state: ReservationState = ReservationState.ACTIVE


@dataclass
class Model:
    """What the hub must show, derived only from the commands sent and their documented rules."""

    on_hand: dict[tuple[str, str], int] = field(
        default_factory=lambda: {(loc, sku): OPENING_STOCK for loc in LOCATIONS for sku in SKUS}
    )
    references: set[tuple[str, str, MovementKind, str]] = field(
        default_factory=lambda: {
            (loc, sku, MovementKind.RECEIPT, "OPENING") for loc in LOCATIONS for sku in SKUS
        }
    )
    carts: dict[str, CartHold] = field(default_factory=dict)
    mapped: set[tuple[str, str]] = field(default_factory=lambda: set(MAPPED_AT_START))
    #: (channel, external id) -> (order id, newest channel update time, the buyer name it sent)
    orders: dict[tuple[str, str], tuple[str, datetime, str]] = field(default_factory=dict)


def _seed(engine: Engine, clock: Clock) -> None:
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
    locations.add_location(
        SqlUnitOfWork(engine),
        Location(
            STORE,
            "Pudong store",
            LocationType.STORE,
            31.22,
            121.54,
            services=frozenset({Service.SHIP, Service.PICKUP}),
        ),
    )
    for code in SKUS:
        catalog.add_sku(SqlUnitOfWork(engine), Sku(code, f"product {code}", PRICE))
    for channel, listing in sorted(MAPPED_AT_START):
        catalog.add_mapping(
            SqlUnitOfWork(engine),
            ChannelMapping(channel, listing, LISTINGS[(channel, listing)]),
            clock,
        )
    for location in LOCATIONS:
        for code in SKUS:
            inventory.record_movement(
                SqlUnitOfWork(engine),
                inventory.RecordMovement(
                    location, code, MovementKind.RECEIPT, OPENING_STOCK, "OPENING"
                ),
                clock,
            )


class BooksMachine(RuleBasedStateMachine):
    """Drives the services; subclasses say how a fresh database is opened and closed."""

    carts = Bundle("carts")
    orders = Bundle("orders")

    def open_database(self) -> Engine:
        raise NotImplementedError

    def close_database(self, engine: Engine) -> None:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.engine = self.open_database()
        self.clock = ManualClock(START)
        self.model = Model()
        _seed(self.engine, self.clock)

    def teardown(self) -> None:
        self.close_database(self.engine)

    # -- helpers --------------------------------------------------------------------------------
    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def reader(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=True)

    def level(self, location: str, sku: str) -> StockLevel:
        with self.reader() as uow:
            return uow.stock.level(location, sku)

    def order(self, order_id: str) -> Order:
        with self.reader() as uow:
            order = uow.orders.get(order_id)
        assert order is not None
        return order

    def all_orders(self) -> list[Order]:
        with self.reader() as uow:
            return uow.orders.list(limit=1000).items

    # -- stock movements ------------------------------------------------------------------------
    def _move(self, location: str, sku: str, kind: MovementKind, qty: int, ref: str) -> None:
        before = self.level(location, sku)
        key = (location, sku, kind, ref)
        command = inventory.RecordMovement(location, sku, kind, qty, ref)
        delta = qty - before.on_hand if kind is MovementKind.STOCKTAKE else qty
        if key in self.model.references:
            result = inventory.record_movement(self.uow(), command, self.clock)
            assert result.duplicate
            assert result.delta == 0
            assert result.level == before
            return
        if before.on_hand + delta < before.reserved:
            # removing stock that is promised to someone is refused, never done
            with pytest.raises(Conflict) as refused:
                inventory.record_movement(self.uow(), command, self.clock)
            assert refused.value.code is ErrorCode.STOCK_RESERVED
            event(f"{kind} refused: stock is reserved")
            assert self.level(location, sku) == before
            return
        result = inventory.record_movement(self.uow(), command, self.clock)
        assert not result.duplicate
        assert result.delta == delta
        self.model.references.add(key)
        self.model.on_hand[(location, sku)] = self.model.on_hand.get((location, sku), 0) + delta
        assert result.level.on_hand == self.model.on_hand[(location, sku)]

    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        qty=st.integers(1, 10),
        ref=st.sampled_from(["PO-1", "PO-2", "PO-3", "PO-4"]),
    )
    def receive(self, location: str, sku: str, qty: int, ref: str) -> None:
        self._move(location, sku, MovementKind.RECEIPT, qty, ref)

    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        qty=st.integers(-8, 6).filter(bool),
        ref=st.sampled_from(["ADJ-1", "ADJ-2", "ADJ-3"]),
    )
    def adjust(self, location: str, sku: str, qty: int, ref: str) -> None:
        self._move(location, sku, MovementKind.ADJUSTMENT, qty, ref)

    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        counted=st.integers(0, 12),
        ref=st.sampled_from(["COUNT-1", "COUNT-2", "COUNT-3"]),
    )
    def count_stock(self, location: str, sku: str, counted: int, ref: str) -> None:
        self._move(location, sku, MovementKind.STOCKTAKE, counted, ref)

    @rule(location=st.sampled_from(LOCATIONS), sku=st.sampled_from(SKUS), safety=st.integers(0, 3))
    def set_safety(self, location: str, sku: str, safety: int) -> None:
        level = inventory.set_safety_stock(self.uow(), location, sku, safety, self.clock)
        assert level.safety == safety

    # -- carts' reservations --------------------------------------------------------------------
    @rule(
        target=carts,
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        qty=st.integers(1, 4),
        ttl=st.sampled_from([30, 60, 300, 900]),
    )
    def reserve(self, location: str, sku: str, qty: int, ttl: int) -> object:
        before = self.level(location, sku)
        command = inventory.ReserveStock(sku, qty, location, ttl_seconds=ttl)
        if before.on_hand - before.reserved - before.safety < qty:
            with pytest.raises(InsufficientStock):
                inventory.reserve_stock(self.uow(), command, self.clock)
            event("reservation refused: insufficient stock")
            assert self.level(location, sku) == before
            return multiple()
        held = inventory.reserve_stock(self.uow(), command, self.clock)
        after = self.level(location, sku)
        assert after.reserved == before.reserved + qty
        # what was promised fits in what is on hand less the safety stock, when it was taken
        assert after.reserved <= after.on_hand - after.safety
        assert held.expires_at == self.clock.now() + timedelta(seconds=ttl)
        self.model.carts[held.id] = CartHold(qty, held.expires_at)
        return held.id

    @rule(reservation_id=carts)
    def release(self, reservation_id: str) -> None:
        hold = self.model.carts[reservation_id]
        result = inventory.release_reservation(self.uow(), reservation_id, self.clock)
        if hold.state is ReservationState.ACTIVE:
            hold.state = ReservationState.RELEASED
        # releasing again, or after expiry, is harmless and answers the state it is in
        assert result.state is hold.state

    @rule(seconds=st.sampled_from([0, 20, 45, 120, 600, 1000]))
    def time_passes_and_the_sweeper_runs(self, seconds: int) -> None:
        self.clock.advance(seconds)
        due = {
            rid
            for rid, hold in self.model.carts.items()
            if hold.state is ReservationState.ACTIVE and hold.expires_at <= self.clock.now()
        }
        expired = inventory.expire_due(self.uow(), self.clock)
        # a store's hold for a pickup order that ran out cancels the order, saying why
        routing.expire_pickup_holds(
            self.uow(), sorted({r.order_id for r in expired if r.order_id}), self.clock.now()
        )
        assert {r.id for r in expired if r.order_id is None} == due
        for rid in due:
            self.model.carts[rid].state = ReservationState.EXPIRED
        assert inventory.expire_due(self.uow(), self.clock) == []

    @rule(hours=st.sampled_from([1, 24, 80]))
    def hours_pass_and_the_cron_sweeper_runs(self, hours: int) -> None:
        """``omnihub sweep`` (cron) calls expire_reservations: it must do the server's job."""
        self.clock.advance(hours * 3600)
        due = {
            rid
            for rid, hold in self.model.carts.items()
            if hold.state is ReservationState.ACTIVE and hold.expires_at <= self.clock.now()
        }
        expired = routing.expire_reservations(self.uow(), self.clock)
        assert expired >= len(due)
        for rid in due:
            self.model.carts[rid].state = ReservationState.EXPIRED
        assert routing.expire_reservations(self.uow(), self.clock) == 0

    # -- orders ---------------------------------------------------------------------------------
    @rule(
        target=orders,
        channel=st.sampled_from(CHANNELS),
        external_id=st.sampled_from(EXTERNAL_IDS),
        status=st.sampled_from(
            [OrderStatus.PAID] * 3 + [OrderStatus.CREATED] * 2 + [OrderStatus.CANCELLED]
        ),
        minute=st.integers(0, 4),
        in_shanghai_time=st.booleans(),
        pickup=st.booleans(),
        lines=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 3)), min_size=1, max_size=2),
    )
    def ingest(
        self,
        channel: str,
        external_id: str,
        status: OrderStatus,
        minute: int,
        in_shanghai_time: bool,
        pickup: bool,
        lines: list[tuple[int, int]],
    ) -> object:
        listings = [listing for (ch, listing) in LISTINGS if ch == channel]
        updated_at = START + timedelta(minutes=minute)
        if in_shanghai_time:  # the same instant written with the channel's +08:00 offset
            updated_at = updated_at.astimezone(SHANGHAI)
        stamp = f"buyer as of minute {minute}"  # newer messages carry a newer name
        incoming = [
            order_services.IncomingLine(listings[i], qty, PRICE, Money.of("0")) for i, qty in lines
        ]
        total = PRICE.times(sum(qty for _, qty in lines))
        command = order_services.IngestOrder(
            channel=channel,
            external_id=external_id,
            status=status,
            created_at=START,
            updated_at=updated_at,
            delivery=DeliveryMode.PICKUP if pickup else DeliveryMode.EXPRESS,
            pickup_location=STORE if pickup else None,
            lines=incoming,
            buyer=Buyer(channel_buyer_id="buyer-1", name=stamp),
            ship_to=SHIP_TO,
            total=total,
            payment=Payment("alipay", f"PAY-{external_id}", total, updated_at)
            if status is OrderStatus.PAID
            else None,
            raw=f'{{"id": "{external_id}", "minute": {minute}}}',
        )
        key = (channel, external_id)
        known = self.model.orders.get(key)
        before = self.order(known[0]) if known else None

        result = order_services.ingest_order(lambda: self.uow(), command, self.clock)
        event(f"ingest: {result.outcome} as {result.order.status} ({result.order.hold_reason})")

        Outcome = order_services.Outcome
        if known is None:
            assert result.outcome is (
                Outcome.HELD if result.order.status is OrderStatus.HELD else Outcome.CREATED
            )
            self.model.orders[key] = (result.order.id, updated_at, stamp)
            return result.order.id
        order_id, newest, _ = known
        assert result.order.id == order_id
        if updated_at == newest:
            assert result.outcome is Outcome.DUPLICATE
        elif updated_at < newest:
            assert result.outcome is Outcome.STALE
        else:
            assert result.outcome is Outcome.UPDATED
            self.model.orders[key] = (order_id, updated_at, stamp)
        if result.outcome is not Outcome.UPDATED:
            # an older or repeated message changes nothing at all
            after = self.order(order_id)
            assert before is not None
            assert (after.version, after.status, after.channel_updated_at, after.buyer) == (
                before.version,
                before.status,
                before.channel_updated_at,
                before.buyer,
            )
        return multiple()

    @rule(order_id=orders, action=st.sampled_from(FORWARD))
    def move_an_order_forward(self, order_id: str, action: str) -> None:
        self._act(order_id, action)

    @rule(order_id=orders, action=st.sampled_from(FORWARD))
    def move_an_order_forward_again(self, order_id: str, action: str) -> None:
        self._act(order_id, action)

    @rule(order_id=orders)
    def take_an_order_one_step_along_its_usual_path(self, order_id: str) -> None:
        order = self.order(order_id)
        if order.delivery is DeliveryMode.PICKUP and order.status in HOLDS_STOCK:
            self._collect_at_the_store(order_id)
            return
        action = NEXT_ACTION.get(order.status)
        if action is not None:
            self._act(order_id, action)

    def _collect_at_the_store(self, order_id: str) -> None:
        with self.reader() as uow:
            active = uow.reservations.for_order(order_id)
        # the code goes to the buyer once, when issued; the store desk can issue a fresh one
        code = routing.reissue_pickup_code(self.uow(), order_id, self.clock.now())
        order = order_services.apply_action(
            self.uow(),
            order_services.OrderAction(order_id, "pickup", details={"code": code}),
            self.clock,
        )
        assert order.status is OrderStatus.DELIVERED
        event("pickup: collected at the store")
        self._count_consumed(active, expected=True)

    @rule(order_id=orders, action=st.sampled_from(BACKWARD))
    def stop_or_hold_an_order(self, order_id: str, action: str) -> None:
        self._act(order_id, action)

    def _act(self, order_id: str, action: str) -> None:
        with self.reader() as uow:
            active = uow.reservations.for_order(order_id)
        before = self.order(order_id)
        refused: DomainError | None = None
        try:
            after = order_services.apply_action(
                self.uow(), order_services.OrderAction(order_id, action), self.clock
            )
        except DomainError as exc:
            refused = exc
        if refused is not None:
            # a refusal says it is the wrong moment for that action, and changes nothing
            assert refused.code is ErrorCode.ILLEGAL_TRANSITION, refused
            event(f"{action} refused")
            assert self.order(order_id).version == before.version
            return
        note(f"{action}: {before.status} -> {after.status}")
        event(f"{action}: {before.status} -> {after.status}")
        self._count_consumed(active, expected=action in ("ship", "deliver", "pickup"))

    def _count_consumed(self, active: list[Reservation], *, expected: bool) -> None:
        """Stock the order held and that left the building takes on hand down by exactly that."""
        with self.reader() as uow:
            states = [uow.reservations.get(r.id) for r in active]
        for reservation, now in zip(active, states, strict=True):
            assert now is not None
            if now.state is ReservationState.CONSUMED:
                assert expected, f"{reservation.id} was consumed by a step that ships nothing"
                key = (reservation.location, reservation.sku)
                self.model.on_hand[key] = self.model.on_hand.get(key, 0) - reservation.qty

    @rule()
    def the_release_worker_runs(self) -> None:
        """Merged orders wait for their window; the worker then hands them to their nodes."""
        routing.release_due(self.uow(), self.clock.now())

    @rule(listing=st.sampled_from(sorted(LISTINGS)))
    def add_missing_mapping(self, listing: tuple[str, str]) -> None:
        channel, channel_sku = listing
        _, released = catalog.add_mapping(
            self.uow(), ChannelMapping(channel, channel_sku, LISTINGS[listing]), self.clock
        )
        if listing in self.model.mapped:
            assert released == []  # mapping it again is harmless
        self.model.mapped.add(listing)
        for order_id in released:
            order = self.order(order_id)
            assert order.hold_reason != "unmapped_sku"
            assert not order.unresolved_lines

    # -- invariants -----------------------------------------------------------------------------
    @invariant()
    def the_books_balance(self) -> None:
        report = check_books(self.reader())
        assert report.violations == [], report.violations

    @invariant()
    def nothing_is_promised_beyond_what_is_on_hand(self) -> None:
        with self.reader() as uow:
            levels = uow.stock.all_levels()
        for level in levels:
            assert 0 <= level.reserved <= level.on_hand, level
            assert level.on_hand == self.model.on_hand.get((level.location, level.sku), 0), level
        stocked = {(lv.location, lv.sku) for lv in levels}
        assert {key for key, qty in self.model.on_hand.items() if qty} <= stocked

    @invariant()
    def carts_hold_exactly_the_reservations_the_model_expects(self) -> None:
        with self.reader() as uow:
            for rid, hold in self.model.carts.items():
                stored = uow.reservations.get(rid)
                assert stored is not None
                assert (stored.state, stored.qty) == (hold.state, hold.qty)
                assert stored.order_id is None

    @invariant()
    def there_is_one_order_per_channel_and_external_id(self) -> None:
        found = self.all_orders()
        assert len(found) == len(self.model.orders)
        by_key = {(o.channel, o.external_id): o for o in found}
        assert set(by_key) == set(self.model.orders)
        for key, (order_id, newest, stamp) in self.model.orders.items():
            order = by_key[key]
            assert order.id == order_id
            # the newest message wins; a stale one never overwrote it
            assert order.channel_updated_at == newest
            assert order.buyer.name == stamp

    @invariant()
    def order_statuses_tell_the_truth(self) -> None:
        for order in self.all_orders():
            if order.status is OrderStatus.HELD:
                # every held order shows why, and where it returns to
                assert order.hold_reason is not None
                assert order.held_from is not None
            elif order.status not in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
                # a live order out of a hold carries no reason from it (a cancelled one may keep
                # the last reason, as the record of why it ended)
                assert (order.hold_reason, order.held_from) == (None, None), order.status
            if order.status in FULFILLING:
                # stock is never allocated to, or shipped for, an order with an unknown product
                assert not order.unresolved_lines, (order.id, order.status)
            if order.status is OrderStatus.HELD and order.hold_reason == "unmapped_sku":
                assert order.unresolved_lines
                assert any(
                    (order.channel, line.channel_sku) not in self.model.mapped
                    for line in order.unresolved_lines
                ), "held for a missing mapping that exists"


# -- running it -------------------------------------------------------------------------------

SQLITE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
POSTGRES_SETTINGS = settings(
    max_examples=10,
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _machine(
    open_database: Callable[[], Engine], close_database: Callable[[Engine], None]
) -> type[BooksMachine]:
    class Machine(BooksMachine):
        def open_database(self) -> Engine:
            return open_database()

        def close_database(self, engine: Engine) -> None:
            close_database(engine)

    return Machine


def test_random_use_cases_on_sqlite_keep_the_books(tmp_path: Path) -> None:
    numbers = itertools.count()

    def open_database() -> Engine:
        folder = Path(tempfile.mkdtemp(prefix=f"example{next(numbers)}-", dir=tmp_path))
        engine = create_engine(f"sqlite:///{folder / 'omnihub.db'}")
        upgrade(engine)
        return engine

    def close_database(engine: Engine) -> None:
        folder = Path(str(engine.url.database)).parent
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)

    run_state_machine_as_test(_machine(open_database, close_database), settings=SQLITE_SETTINGS)


@pytest.mark.postgres
def test_random_use_cases_on_postgresql_keep_the_books(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)

    def open_database() -> Engine:
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE"))
        return engine

    try:
        run_state_machine_as_test(
            _machine(open_database, lambda _: None), settings=POSTGRES_SETTINGS
        )
    finally:
        engine.dispose()
