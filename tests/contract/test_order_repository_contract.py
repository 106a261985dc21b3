"""The OrderRepository contract: one order per channel id, optimistic saves, faithful rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta, timezone

import pytest
import sqlalchemy as sa
from contract_world import AT, MUG, TEE, UowFactory, seed

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import (
    Address,
    Buyer,
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
)
from omnihub.domain.values import Money, new_id
from omnihub.ports import ConcurrentUpdate, DuplicateOrder

pytestmark = pytest.mark.integration

S = OrderStatus
BEIJING = timezone(timedelta(hours=8))


def an_order(
    external_id: str = "TB-20261111-0001",
    *,
    channel: str = "tmall",
    status: OrderStatus = S.PAID,
    lines: list[OrderLine] | None = None,
) -> Order:
    placed = AT.astimezone(BEIJING)  # the channel's local time; the order keeps UTC
    return Order.receive(
        id=new_id(),
        channel=channel,
        external_id=external_id,
        channel_status=status,
        delivery=DeliveryMode.EXPRESS,
        lines=lines
        or [
            OrderLine(1, "TM-TEE-M", 2, Money.of("59.00"), Money.of("5.90"), TEE),
            OrderLine(2, "TM-MUG", 1, Money.of("39.00"), Money.of("0"), MUG),
        ],
        channel_created_at=placed,
        channel_updated_at=placed + timedelta(seconds=30),
        at=AT,
        buyer=Buyer(channel_buyer_id="tb_buyer_889", name="李雷", phone="13900139000"),
        ship_to=Address(
            name="李雷",
            phone="13900139000",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            address="文三路90号",
            postcode="310012",
            lat=30.2770,
            lon=120.1300,
        ),
        shipping_fee=Money.of("8.00"),
        total=Money.of("158.10"),
        payment=(
            Payment("alipay", "2026111122001499", Money.of("158.10"), AT)
            if status is S.PAID
            else None
        ),
        remark="请周末送货",
    )


def as_stored(order: Order) -> Order:
    """What a repository gives back: the same order without the events still to publish."""
    return replace(order, events=[])


class OrderRepositoryContract:
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        raise NotImplementedError

    @pytest.fixture
    def new_uow(self, uow_factory: UowFactory) -> UowFactory:
        return seed(uow_factory)

    def stored(self, new_uow: UowFactory, *orders: Order) -> None:
        with new_uow() as uow:
            for order in orders:
                uow.orders.add(order)
            uow.commit()

    def test_an_order_round_trips_with_its_lines_history_money_and_utc_times(
        self, new_uow: UowFactory
    ) -> None:
        order = an_order()
        self.stored(new_uow, order)

        with new_uow() as uow:
            loaded = uow.orders.get(order.id)
            by_channel_id = uow.orders.get_by_external("tmall", "TB-20261111-0001")

        assert loaded == as_stored(order)
        assert by_channel_id == loaded
        assert loaded is not None
        assert loaded.version == 1
        assert [line.amount for line in loaded.lines] == [Money.of("112.10"), Money.of("39.00")]
        assert [(t.from_status, t.to_status) for t in loaded.transitions] == [
            (None, S.CREATED),
            (S.CREATED, S.PAID),
        ]
        times = [loaded.channel_created_at, loaded.channel_updated_at]
        times += [t.at for t in loaded.transitions]
        assert all(t.utcoffset() == timedelta(0) for t in times)
        assert loaded.channel_created_at == AT

    def test_an_unknown_order_is_none(self, new_uow: UowFactory) -> None:
        self.stored(new_uow, an_order())

        with new_uow() as uow:
            assert uow.orders.get("01JNOSUCHORDER000000000000") is None
            assert uow.orders.get_by_external("tmall", "TB-NO-SUCH") is None
            assert uow.orders.get_by_external("jd", "TB-20261111-0001") is None

    def test_a_second_order_with_the_same_channel_id_is_a_duplicate(
        self, new_uow: UowFactory
    ) -> None:
        first = an_order()
        self.stored(new_uow, first)

        with new_uow() as uow, pytest.raises(DuplicateOrder):
            uow.orders.add(an_order())

        with new_uow() as uow:
            page = uow.orders.list()
        assert [o.id for o in page.items] == [first.id]

    def test_a_duplicate_refused_inside_a_transaction_does_not_spoil_the_rest_of_it(
        self, new_uow: UowFactory
    ) -> None:
        first, other = an_order("TB-1"), an_order("TB-2")

        with new_uow() as uow:
            uow.orders.add(first)
            with pytest.raises(DuplicateOrder):
                uow.orders.add(an_order("TB-1"))
            uow.orders.add(other)
            uow.commit()

        with new_uow() as uow:
            assert sorted(o.external_id for o in uow.orders.list().items) == ["TB-1", "TB-2"]

    def test_the_same_channel_id_on_another_channel_is_another_order(
        self, new_uow: UowFactory
    ) -> None:
        tmall, jd = an_order("10001"), an_order("10001", channel="jd")
        self.stored(new_uow, tmall, jd)

        with new_uow() as uow:
            found = uow.orders.get_by_external("jd", "10001")
        assert found is not None
        assert found.id == jd.id

    def test_a_save_keeps_the_new_status_history_hold_and_resolved_skus(
        self, new_uow: UowFactory
    ) -> None:
        order = an_order(lines=[OrderLine(1, "TM-CAP", 1, Money.of("29.00"), Money.of("0"))])
        order.hold(HoldReason.UNMAPPED_SKU, AT)
        self.stored(new_uow, order)

        with new_uow() as uow:
            loaded = uow.orders.get(order.id)
            assert loaded is not None
            assert loaded.held_from is S.PAID
            loaded.lines[0].sku = TEE
            loaded.resume("mapping added", AT + timedelta(minutes=1))
            loaded.transition(S.ALLOCATED, "allocated at SH-WH", AT + timedelta(minutes=1))
            uow.orders.save(loaded)
            assert loaded.version == 2
            uow.commit()

        with new_uow() as uow:
            again = uow.orders.get(order.id)
        assert again == as_stored(loaded)
        assert again is not None
        assert again.status is S.ALLOCATED
        assert again.hold_reason is None
        assert again.held_from is None
        assert again.lines[0].sku == TEE
        assert [t.to_status for t in again.transitions] == [
            S.CREATED,
            S.PAID,
            S.HELD,
            S.PAID,
            S.ALLOCATED,
        ]

    def test_saving_twice_in_one_transaction_moves_the_version_on_each_time(
        self, new_uow: UowFactory
    ) -> None:
        order = an_order()
        self.stored(new_uow, order)

        with new_uow() as uow:
            loaded = uow.orders.get(order.id)
            assert loaded is not None
            loaded.transition(S.ALLOCATED, "allocated", AT)
            uow.orders.save(loaded)
            loaded.transition(S.RELEASED, "released", AT)
            uow.orders.save(loaded)
            uow.commit()

        with new_uow() as uow:
            again = uow.orders.get(order.id)
        assert again is not None
        assert (again.version, again.status) == (3, S.RELEASED)
        assert len(again.transitions) == 4

    def test_a_save_after_another_writers_save_raises_concurrent_update(
        self, new_uow: UowFactory
    ) -> None:
        order = an_order()
        self.stored(new_uow, order)

        with new_uow() as slow:
            stale = slow.orders.get(order.id)
            assert stale is not None
            with new_uow() as fast:
                winner = fast.orders.get(order.id)
                assert winner is not None
                winner.transition(S.CANCELLED, "cancelled by the buyer", AT)
                fast.orders.save(winner)
                fast.commit()
            stale.transition(S.ALLOCATED, "allocated", AT)
            with pytest.raises(ConcurrentUpdate):
                slow.orders.save(stale)

        with new_uow() as uow:
            final = uow.orders.get(order.id)
        assert final is not None
        assert (final.status, final.version) == (S.CANCELLED, 2)

    def test_leaving_without_commit_leaves_no_order_and_frees_its_channel_id(
        self, new_uow: UowFactory
    ) -> None:
        abandoned = an_order()

        with new_uow() as uow:
            uow.orders.add(abandoned)

        with new_uow() as uow:
            assert uow.orders.get(abandoned.id) is None
            assert uow.orders.get_by_external("tmall", abandoned.external_id) is None
            uow.orders.add(an_order())
            uow.commit()

    def test_orders_are_listed_by_id_page_by_page_and_filtered(self, new_uow: UowFactory) -> None:
        orders = [an_order(f"TB-{n}") for n in range(5)]
        orders.append(an_order("JD-1", channel="jd", status=S.CREATED))
        self.stored(new_uow, *orders)
        expected = sorted(o.id for o in orders if o.channel == "tmall")

        pages: list[list[str]] = []
        cursor = None
        with new_uow() as uow:
            while True:
                page = uow.orders.list(channel="tmall", cursor=cursor, limit=2)
                pages.append([o.id for o in page.items])
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            created = uow.orders.list(status=S.CREATED).items
            everything = uow.orders.list(limit=100)

        assert pages == [expected[0:2], expected[2:4], expected[4:]]
        assert [o.external_id for o in created] == ["JD-1"]
        assert len(everything.items) == 6
        assert everything.next_cursor is None

    def test_held_orders_waiting_for_a_listing_are_found_by_channel_and_listing(
        self, new_uow: UowFactory
    ) -> None:
        cap = OrderLine(1, "TM-CAP", 1, Money.of("29.00"), Money.of("0"))
        waiting = an_order("TB-1", lines=[cap])
        waiting.hold(HoldReason.UNMAPPED_SKU, AT)
        not_held = an_order("TB-2", lines=[cap])
        other_channel = an_order("JD-1", channel="jd", lines=[cap])
        other_channel.hold(HoldReason.UNMAPPED_SKU, AT)
        self.stored(new_uow, waiting, not_held, other_channel)

        with new_uow() as uow:
            assert uow.orders.waiting_for_mapping("tmall", "TM-CAP") == [waiting.id]
            assert uow.orders.waiting_for_mapping("tmall", "TM-TEE-M") == []

    def test_orders_are_counted_by_channel_status_and_hold_reason(
        self, new_uow: UowFactory
    ) -> None:
        held = an_order("TB-3")
        held.hold(HoldReason.NO_STOCK, AT)
        self.stored(
            new_uow, an_order("TB-1"), an_order("TB-2"), held, an_order("JD-1", channel="jd")
        )

        with new_uow() as uow:
            counts = sorted(uow.orders.count_by(), key=lambda row: (row[0], row[1]))
        assert counts == [
            ("jd", "paid", None, 1),
            ("tmall", "held", "no_stock", 1),
            ("tmall", "paid", None, 2),
        ]

    def test_orders_loaded_or_added_are_seen_by_the_unit_of_work(self, new_uow: UowFactory) -> None:
        first, second = an_order("TB-1"), an_order("TB-2")
        self.stored(new_uow, first)

        with new_uow() as uow:
            uow.orders.get(first.id)
            uow.orders.add(second)
            assert set(uow.orders.seen) == {first.id, second.id}


class TestOrderRepositoryOnFakes(OrderRepositoryContract):
    @pytest.fixture
    def uow_factory(self, fake_uow_factory: UowFactory) -> UowFactory:
        return fake_uow_factory


class TestOrderRepositoryOnSqlite(OrderRepositoryContract):
    """SQLite lets one writer in at a time, so the stale save above cannot even be set up."""

    test_a_save_after_another_writers_save_raises_concurrent_update = None  # type: ignore[assignment]

    @pytest.fixture
    def uow_factory(self, sqlite_uow_factory: UowFactory) -> UowFactory:
        return sqlite_uow_factory

    @pytest.fixture
    def impatient_uow_factory(self, sqlite_url: str) -> Iterator[UowFactory]:
        """Units of work that fail at once instead of waiting for the write lock."""
        engine = create_engine(sqlite_url)

        @sa.event.listens_for(engine, "connect")
        def _no_waiting(dbapi_connection: object, _record: object) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[attr-defined]

        yield lambda: SqlUnitOfWork(engine)
        engine.dispose()

    def test_a_second_writer_cannot_start_while_the_first_holds_the_database(
        self, new_uow: UowFactory, impatient_uow_factory: UowFactory
    ) -> None:
        order = an_order()
        self.stored(new_uow, order)

        with new_uow() as first:
            loaded = first.orders.get(order.id)
            assert loaded is not None
            with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                impatient_uow_factory().__enter__()
            loaded.transition(S.CANCELLED, "cancelled by the buyer", AT)
            first.orders.save(loaded)
            first.commit()

        with impatient_uow_factory() as second:
            after = second.orders.get(order.id)
        assert after is not None
        assert (after.status, after.version) == (S.CANCELLED, 2)


@pytest.mark.postgres
class TestOrderRepositoryOnPostgres(OrderRepositoryContract):
    @pytest.fixture
    def uow_factory(self, postgres_uow_factory: UowFactory) -> UowFactory:
        return postgres_uow_factory
