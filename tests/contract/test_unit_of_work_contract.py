"""The UnitOfWork contract: all or nothing, and committed state changes carry their events."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from contract_world import AT, SH_WH, TEE, UowFactory, seed

from fakes import FakeUnitOfWork
from omnihub.adapters.db.tables import outbox
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.domain import events as ev
from omnihub.domain.events import Event
from omnihub.domain.inventory import MovementKind
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Order, OrderLine, OrderStatus
from omnihub.domain.values import Money, new_id

pytestmark = pytest.mark.integration


def an_order(external_id: str = "TB-1") -> Order:
    return Order.receive(
        id=new_id(),
        channel="tmall",
        external_id=external_id,
        channel_status=OrderStatus.PAID,
        delivery=DeliveryMode.EXPRESS,
        lines=[OrderLine(1, "TM-TEE-M", 1, Money.of("59.00"), Money.of("0"), TEE)],
        channel_created_at=AT,
        channel_updated_at=AT,
        at=AT,
    )


class UnitOfWorkContract:
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        raise NotImplementedError

    @pytest.fixture
    def new_uow(self, uow_factory: UowFactory) -> UowFactory:
        return seed(uow_factory)

    def outbox_types(self, uow_factory: UowFactory) -> list[str]:
        """The types of the events in the outbox, oldest first (the port has no reader)."""
        raise NotImplementedError

    def test_leaving_the_block_without_commit_leaves_nothing(self, new_uow: UowFactory) -> None:
        order = an_order()

        with new_uow() as uow:
            uow.stock.move(SH_WH, TEE, MovementKind.RECEIPT, 5, "GRN-1", AT)
            uow.orders.add(order)
            uow.emit(Event(ev.STOCK_CHANGED, TEE, AT, {"sku": TEE}))

        with new_uow() as uow:
            assert uow.stock.all_levels() == []
            assert uow.stock.ledger_sums() == {}
            assert uow.orders.get(order.id) is None
        assert self.outbox_types(new_uow) == []

    def test_an_error_inside_the_block_rolls_everything_back_and_is_raised(
        self, new_uow: UowFactory
    ) -> None:
        def receive_then_fail() -> None:
            with new_uow() as uow:
                uow.stock.move(SH_WH, TEE, MovementKind.RECEIPT, 5, "GRN-1", AT)
                raise RuntimeError("the ERP hung up")

        with pytest.raises(RuntimeError, match="the ERP hung up"):
            receive_then_fail()

        with new_uow() as uow:
            assert uow.stock.level(SH_WH, TEE).on_hand == 0

    def test_a_commit_keeps_the_changes_and_puts_their_events_in_the_outbox(
        self, new_uow: UowFactory
    ) -> None:
        order = an_order()

        with new_uow() as uow:
            uow.stock.move(SH_WH, TEE, MovementKind.RECEIPT, 5, "GRN-1", AT)
            uow.orders.add(order)
            uow.emit(Event(ev.STOCK_CHANGED, TEE, AT, {"sku": TEE}))
            uow.commit()

        with new_uow() as uow:
            assert uow.stock.level(SH_WH, TEE).on_hand == 5
            assert uow.orders.get(order.id) is not None
        assert self.outbox_types(new_uow) == [
            ev.STOCK_CHANGED,
            ev.ORDER_INGESTED,
            ev.ORDER_STATUS_CHANGED,
        ]
        assert order.events == []  # handed over, so a second commit cannot publish them twice

    def test_work_done_after_a_commit_in_the_same_block_is_dropped_unless_committed_again(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            uow.stock.move(SH_WH, TEE, MovementKind.RECEIPT, 5, "GRN-1", AT)
            uow.commit()
            uow.stock.move(SH_WH, TEE, MovementKind.RECEIPT, 7, "GRN-2", AT)

        with new_uow() as uow:
            assert uow.stock.level(SH_WH, TEE).on_hand == 5
            assert uow.stock.ledger_sums() == {(SH_WH, TEE): 5}


class TestUnitOfWorkOnFakes(UnitOfWorkContract):
    @pytest.fixture
    def uow_factory(self, fake_uow_factory: UowFactory) -> UowFactory:
        return fake_uow_factory

    def outbox_types(self, uow_factory: UowFactory) -> list[str]:
        uow = uow_factory()
        assert isinstance(uow, FakeUnitOfWork)
        return [event.type for event in uow.committed.outbox]


class SqlOutboxReader:
    def outbox_types(self, uow_factory: UowFactory) -> list[str]:
        uow = uow_factory()
        assert isinstance(uow, SqlUnitOfWork)
        with uow.engine.connect() as conn:
            return list(conn.execute(sa.select(outbox.c.type).order_by(outbox.c.id)).scalars())


class TestUnitOfWorkOnSqlite(SqlOutboxReader, UnitOfWorkContract):
    @pytest.fixture
    def uow_factory(self, sqlite_uow_factory: UowFactory) -> UowFactory:
        return sqlite_uow_factory


@pytest.mark.postgres
class TestUnitOfWorkOnPostgres(SqlOutboxReader, UnitOfWorkContract):
    @pytest.fixture
    def uow_factory(self, postgres_uow_factory: UowFactory) -> UowFactory:
        return postgres_uow_factory
