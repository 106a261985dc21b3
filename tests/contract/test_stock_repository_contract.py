"""The StockRepository contract: counters, the ledger and the one conditional reservation.

One abstract suite, run against the fake, a real SQLite file and a real PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from contract_world import AT, HZ_WH, MUG, SH_WH, TEE, UowFactory, seed

from omnihub.domain.inventory import MovementKind, StockLevel

pytestmark = pytest.mark.integration

K = MovementKind


class StockRepositoryContract:
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        raise NotImplementedError

    @pytest.fixture
    def new_uow(self, uow_factory: UowFactory) -> UowFactory:
        return seed(uow_factory)

    def stocked(self, new_uow: UowFactory, on_hand: int, safety: int = 0) -> None:
        with new_uow() as uow:
            uow.stock.move(SH_WH, TEE, K.RECEIPT, on_hand, "GRN-0001", AT)
            if safety:
                uow.stock.set_safety(SH_WH, TEE, safety)
            uow.commit()

    def test_a_sku_never_stocked_has_zero_levels_and_cannot_be_reserved(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            assert uow.stock.level(SH_WH, TEE) == StockLevel(SH_WH, TEE, 0, 0, 0)
            assert uow.stock.try_reserve(SH_WH, TEE, 1) is False
            assert uow.stock.all_levels() == []
            assert uow.stock.ledger_sums() == {}

    def test_a_movement_writes_a_ledger_row_and_moves_on_hand_by_its_delta(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            uow.stock.move(SH_WH, TEE, K.RECEIPT, 10, "GRN-0001", AT)
            uow.stock.move(SH_WH, TEE, K.SALE, -3, "order:1:r1", AT + timedelta(hours=1))
            uow.commit()

        with new_uow() as uow:
            assert uow.stock.level(SH_WH, TEE).on_hand == 7
            newest, oldest = uow.stock.ledger(TEE)
            assert uow.stock.ledger_sums() == {(SH_WH, TEE): 7}
        assert (oldest.location, oldest.sku, oldest.kind, oldest.qty, oldest.reference) == (
            SH_WH,
            TEE,
            K.RECEIPT,
            10,
            "GRN-0001",
        )
        assert (newest.kind, newest.qty, newest.reference) == (K.SALE, -3, "order:1:r1")
        assert newest.at == AT + timedelta(hours=1)
        assert newest.at.utcoffset() == timedelta(0)
        assert newest.id > oldest.id

    def test_the_ledger_sums_equal_on_hand_at_every_location(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            uow.stock.move(SH_WH, TEE, K.RECEIPT, 10, "GRN-1", AT)
            uow.stock.move(SH_WH, TEE, K.ADJUSTMENT, -2, "ADJ-1", AT)
            uow.stock.move(HZ_WH, TEE, K.TRANSFER_IN, 4, "TI-1", AT)
            uow.stock.move(HZ_WH, MUG, K.RECEIPT, 6, "GRN-2", AT)
            uow.stock.move(HZ_WH, MUG, K.STOCKTAKE, -1, "COUNT-1", AT)
            uow.commit()

        with new_uow() as uow:
            sums = uow.stock.ledger_sums()
            levels = {(lv.location, lv.sku): lv.on_hand for lv in uow.stock.all_levels()}
        assert sums == levels == {(SH_WH, TEE): 8, (HZ_WH, TEE): 4, (HZ_WH, MUG): 5}

    def test_the_ledger_of_a_sku_is_newest_first_and_limited(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            for n in range(1, 6):
                uow.stock.move(SH_WH, TEE, K.RECEIPT, n, f"GRN-{n}", AT)
            uow.stock.move(SH_WH, MUG, K.RECEIPT, 1, "GRN-MUG", AT)
            uow.commit()

        with new_uow() as uow:
            assert [e.reference for e in uow.stock.ledger(TEE, limit=3)] == [
                "GRN-5",
                "GRN-4",
                "GRN-3",
            ]

    def test_a_recorded_movement_is_known_by_its_kind_and_reference(
        self, new_uow: UowFactory
    ) -> None:
        self.stocked(new_uow, 5)

        with new_uow() as uow:
            assert uow.stock.has_movement(SH_WH, TEE, K.RECEIPT, "GRN-0001")
            assert not uow.stock.has_movement(SH_WH, TEE, K.RECEIPT, "GRN-0002")
            assert not uow.stock.has_movement(SH_WH, TEE, K.RETURN, "GRN-0001")
            assert not uow.stock.has_movement(HZ_WH, TEE, K.RECEIPT, "GRN-0001")

    def test_a_movement_that_would_make_on_hand_negative_is_refused_and_leaves_no_ledger_row(
        self, new_uow: UowFactory
    ) -> None:
        self.stocked(new_uow, 2)

        with new_uow() as uow:
            with pytest.raises(ValueError, match="negative"):
                uow.stock.move(SH_WH, TEE, K.SALE, -3, "order:2:r2", AT)
            assert uow.stock.level(SH_WH, TEE).on_hand == 2
            assert uow.stock.ledger_sums() == {(SH_WH, TEE): 2}
            uow.commit()

        with new_uow() as uow:
            assert uow.stock.ledger_sums() == {(SH_WH, TEE): 2}
            assert not uow.stock.has_movement(SH_WH, TEE, K.SALE, "order:2:r2")

    def test_try_reserve_never_lets_reserved_exceed_on_hand_less_safety(
        self, new_uow: UowFactory
    ) -> None:
        self.stocked(new_uow, 10, safety=2)

        with new_uow() as uow:
            taken = [uow.stock.try_reserve(SH_WH, TEE, 3) for _ in range(3)]
            assert taken == [True, True, False]
            assert uow.stock.try_reserve(SH_WH, TEE, 2) is True
            assert uow.stock.try_reserve(SH_WH, TEE, 1) is False
            uow.commit()

        with new_uow() as uow:
            level = uow.stock.level(SH_WH, TEE)
        assert (level.on_hand, level.reserved, level.safety) == (10, 8, 2)
        assert level.available == 0

    def test_reserve_returns_the_level_as_the_reservation_left_it_or_none_when_refused(
        self, new_uow: UowFactory
    ) -> None:
        self.stocked(new_uow, 10, safety=2)

        with new_uow() as uow:
            assert uow.stock.reserve(SH_WH, TEE, 3) == StockLevel(SH_WH, TEE, 10, 3, 2)
            assert uow.stock.reserve(SH_WH, TEE, 5) == StockLevel(SH_WH, TEE, 10, 8, 2)
            assert uow.stock.reserve(SH_WH, TEE, 1) is None
            assert uow.stock.reserve(HZ_WH, TEE, 1) is None  # never stocked there
            uow.commit()

        with new_uow() as uow:
            assert uow.stock.level(SH_WH, TEE) == StockLevel(SH_WH, TEE, 10, 8, 2)

    def test_raising_safety_stock_takes_it_out_of_what_can_be_reserved(
        self, new_uow: UowFactory
    ) -> None:
        self.stocked(new_uow, 10)

        with new_uow() as uow:
            assert uow.stock.try_reserve(SH_WH, TEE, 4)
            uow.stock.set_safety(SH_WH, TEE, 5)
            assert uow.stock.level(SH_WH, TEE).available == 1
            assert uow.stock.try_reserve(SH_WH, TEE, 2) is False
            assert uow.stock.try_reserve(SH_WH, TEE, 1) is True

    def test_safety_stock_can_be_set_before_any_stock_arrives(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            uow.stock.set_safety(HZ_WH, MUG, 3)
            uow.commit()

        with new_uow() as uow:
            assert uow.stock.level(HZ_WH, MUG) == StockLevel(HZ_WH, MUG, 0, 0, 3)

    def test_unreserve_gives_stock_back_but_never_more_than_was_reserved(
        self, new_uow: UowFactory
    ) -> None:
        self.stocked(new_uow, 10)

        with new_uow() as uow:
            assert uow.stock.try_reserve(SH_WH, TEE, 4)
            uow.stock.unreserve(SH_WH, TEE, 3)
            assert uow.stock.level(SH_WH, TEE).reserved == 1
            with pytest.raises(ValueError, match="not reserved"):
                uow.stock.unreserve(SH_WH, TEE, 2)
            assert uow.stock.level(SH_WH, TEE).reserved == 1

    def test_levels_are_listed_by_sku_then_location_and_all_levels_by_location_then_sku(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            for location, sku in [(SH_WH, TEE), (HZ_WH, MUG), (HZ_WH, TEE), (SH_WH, MUG)]:
                uow.stock.move(location, sku, K.RECEIPT, 1, "GRN", AT)
            uow.commit()

        with new_uow() as uow:
            by_sku = [(lv.sku, lv.location) for lv in uow.stock.levels([TEE, MUG, "NO-SUCH"])]
            of_tee = [lv.location for lv in uow.stock.levels([TEE])]
            everything = [(lv.location, lv.sku) for lv in uow.stock.all_levels()]
        assert by_sku == [(MUG, HZ_WH), (MUG, SH_WH), (TEE, HZ_WH), (TEE, SH_WH)]
        assert of_tee == [HZ_WH, SH_WH]
        assert everything == [(HZ_WH, MUG), (HZ_WH, TEE), (SH_WH, MUG), (SH_WH, TEE)]

    def test_repairing_counters_overwrites_on_hand_and_reserved(self, new_uow: UowFactory) -> None:
        self.stocked(new_uow, 10, safety=1)

        with new_uow() as uow:
            uow.stock.set_counters(SH_WH, TEE, on_hand=7, reserved=2)
            uow.commit()

        with new_uow() as uow:
            assert uow.stock.level(SH_WH, TEE) == StockLevel(SH_WH, TEE, 7, 2, 1)

    def test_a_locked_read_of_a_never_stocked_sku_gives_zeros(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            assert uow.stock.level(HZ_WH, MUG, lock=True) == StockLevel(HZ_WH, MUG, 0, 0, 0)

    def test_leaving_without_commit_leaves_no_movement_and_no_reservation(
        self, new_uow: UowFactory
    ) -> None:
        self.stocked(new_uow, 10)

        with new_uow() as uow:
            uow.stock.move(SH_WH, TEE, K.RECEIPT, 5, "GRN-0002", AT)
            assert uow.stock.try_reserve(SH_WH, TEE, 15)

        with new_uow() as uow:
            assert uow.stock.level(SH_WH, TEE) == StockLevel(SH_WH, TEE, 10, 0, 0)
            assert not uow.stock.has_movement(SH_WH, TEE, K.RECEIPT, "GRN-0002")


class ConcurrentReservationContract:
    """Only for real databases: many transactions at once race for the same row."""

    WORKERS = 16

    def test_concurrent_reservations_never_take_more_than_is_available(
        self, uow_factory: UowFactory
    ) -> None:
        seed(uow_factory)
        with uow_factory() as uow:
            uow.stock.move(SH_WH, TEE, K.RECEIPT, 10, "GRN-0001", AT)
            uow.stock.set_safety(SH_WH, TEE, 1)
            uow.commit()
        start = threading.Barrier(self.WORKERS)
        outcomes: list[bool] = []
        errors: list[BaseException] = []

        def buyer() -> None:
            try:
                start.wait()
                with uow_factory() as uow:
                    won = uow.stock.try_reserve(SH_WH, TEE, 2)
                    uow.commit()
                outcomes.append(won)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=buyer) for _ in range(self.WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert outcomes.count(True) == 4
        with uow_factory() as uow:
            level = uow.stock.level(SH_WH, TEE)
        assert (level.on_hand, level.reserved, level.safety) == (10, 8, 1)


class TestStockRepositoryOnFakes(StockRepositoryContract):
    @pytest.fixture
    def uow_factory(self, fake_uow_factory: UowFactory) -> UowFactory:
        return fake_uow_factory


class TestStockRepositoryOnSqlite(StockRepositoryContract, ConcurrentReservationContract):
    @pytest.fixture
    def uow_factory(self, sqlite_uow_factory: UowFactory) -> UowFactory:
        return sqlite_uow_factory


@pytest.mark.postgres
class TestStockRepositoryOnPostgres(StockRepositoryContract, ConcurrentReservationContract):
    @pytest.fixture
    def uow_factory(self, postgres_uow_factory: UowFactory) -> UowFactory:
        return postgres_uow_factory
