"""The BackendRepository contract: bindings of back-end ids, message ids, rider tasks and
their track, stock in flight and stock compares, on the fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from contract_world import AT, HZ_WH, MUG, SH_WH, TEE, UowFactory, seed

from omnihub.domain.inventory import MovementKind, Reservation, ReservationState
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus
from omnihub.ports import CompareReport, RiderTaskRecord, TrackPoint

pytestmark = pytest.mark.integration

ORDER = "01JORDERA0000000000000000A"
TASK_A, TASK_B = "01JFUL00000000000000000001", "01JFUL00000000000000000002"


def a_task(reference: str = TASK_A, state: str = "requested", minutes: int = 0) -> RiderTaskRecord:
    at = AT + timedelta(minutes=minutes)
    return RiderTaskRecord(reference, "dada", ORDER, SH_WH, state, at, at)


class BackendRepositoryContract:
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        raise NotImplementedError

    @pytest.fixture
    def new_uow(self, uow_factory: UowFactory) -> UowFactory:
        return seed(uow_factory)

    def test_a_binding_is_kept_once_and_found_by_our_id(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            uow.backends.bind("wms", "wms_order", "WMS001", TASK_A, AT)
            uow.backends.bind("wms", "wms_order", "WMS001", TASK_A, AT)
            uow.commit()
        with new_uow() as uow:
            assert uow.backends.bound("wms", "wms_order", TASK_A) == "WMS001"
            assert uow.backends.bound("erp", "wms_order", TASK_A) is None
            assert uow.backends.bound("wms", "erp_order", TASK_A) is None

    def test_a_message_id_is_new_once_per_back_end(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            assert uow.backends.remember_message("wms", "WMS001-1", AT) is True
            assert uow.backends.remember_message("wms", "WMS001-1", AT) is False
            assert uow.backends.remember_message("dada", "WMS001-1", AT) is True
            uow.commit()
        with new_uow() as uow:
            assert uow.backends.remember_message("wms", "WMS001-1", AT) is False

    def test_a_message_id_remembered_in_a_rolled_back_unit_of_work_is_new_again(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            assert uow.backends.remember_message("wms", "m-1", AT) is True
        with new_uow() as uow:
            assert uow.backends.remember_message("wms", "m-1", AT) is True

    def test_rider_tasks_are_saved_replaced_and_listed_by_order_and_by_liveness(
        self, new_uow: UowFactory
    ) -> None:
        delivered = replace(
            a_task(TASK_B, "delivered", 1),
            rider={"id": "1", "name": "骑士1", "phone": "138"},
            fee_cents=650,
            distance_m=2400,
            state_at=AT,
            native_status=4,
            external_id="D-2",
        )
        with new_uow() as uow:
            uow.backends.save_rider_task(a_task())
            uow.backends.save_rider_task(delivered)
            uow.backends.save_rider_task(replace(a_task(), state="accepted", native_status=2))
            uow.commit()
        with new_uow() as uow:
            first = uow.backends.rider_task(TASK_A)
            assert first is not None
            assert (first.state, first.native_status) == ("accepted", 2)
            assert uow.backends.rider_task(TASK_B) == delivered
            assert [t.reference for t in uow.backends.rider_tasks(ORDER)] == [TASK_A, TASK_B]
            assert [t.reference for t in uow.backends.live_rider_tasks("dada", 10)] == [TASK_A]
            assert uow.backends.live_rider_tasks("other", 10) == []
            assert uow.backends.rider_task("01JNONE0000000000000000000") is None

    def test_a_rider_task_is_added_once_and_read_locked_as_it_is(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            assert uow.backends.add_rider_task(a_task()) is True
            assert uow.backends.add_rider_task(a_task(state="accepted")) is False
            uow.commit()
        with new_uow() as uow:
            assert uow.backends.rider_task(TASK_A, lock=True) == a_task()

    def test_the_track_comes_back_in_the_order_it_was_reported(self, new_uow: UowFactory) -> None:
        points = [
            TrackPoint(TASK_A, AT + timedelta(seconds=s), 31.2 + s / 1000, 121.4, "delivering")
            for s in (3, 1, 2)
        ]
        with new_uow() as uow:
            for point in points:
                uow.backends.add_track_point(ORDER, point)
            uow.backends.add_track_point("01JOTHER000000000000000000", points[0])
            uow.commit()
        with new_uow() as uow:
            assert uow.backends.track(ORDER) == sorted(points, key=lambda p: p.at)

    def test_stock_in_flight_is_what_is_reserved_for_released_fulfilments_only(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            for number, (location, sku, status) in enumerate(
                [
                    (SH_WH, TEE, FulfilmentStatus.RELEASED),
                    (SH_WH, MUG, FulfilmentStatus.PENDING),
                    (HZ_WH, TEE, FulfilmentStatus.RELEASED),
                ]
            ):
                order = f"01JORDER{number:018d}"
                uow.routing.add_fulfilment(
                    Fulfilment(
                        f"01JFUL{number:020d}",
                        order,
                        location,
                        status,
                        [{"line_no": 1, "sku": sku, "qty": 1}],
                        AT,
                        AT,
                    )
                )
                uow.reservations.add(
                    Reservation(
                        f"01JRES{number:020d}",
                        location,
                        sku,
                        1,
                        ReservationState.ACTIVE,
                        AT,
                        order_id=order,
                    )
                )
            uow.commit()
        with new_uow() as uow:
            assert uow.backends.in_flight([SH_WH]) == {(SH_WH, TEE)}
            assert uow.backends.in_flight([SH_WH, HZ_WH]) == {(SH_WH, TEE), (HZ_WH, TEE)}
            assert uow.backends.in_flight([]) == set()

    def test_compares_are_numbered_and_listed_newest_first(self, new_uow: UowFactory) -> None:
        report = CompareReport(
            "wms",
            AT,
            "correct",
            3,
            [
                {
                    "location": SH_WH,
                    "sku": TEE,
                    "hub": 10,
                    "backend": 9,
                    "difference": -1,
                    "corrected": True,
                    "note": None,
                }
            ],
            [],
            ["QM-OTHER"],
            1,
        )
        with new_uow() as uow:
            first = uow.backends.add_compare(report)
            second = uow.backends.add_compare(replace(report, corrected=0, error="down"))
            uow.backends.add_compare(replace(report, backend="erp"))
            uow.commit()
        assert second > first
        with new_uow() as uow:
            found = uow.backends.compares("wms", 10)
        assert [r.id for r in found] == [second, first]
        assert found[1] == replace(report, id=first)
        assert found[0].error == "down"

    def test_returns_are_the_return_movements_at_the_locations_since_a_time_oldest_first(
        self, new_uow: UowFactory
    ) -> None:
        moves = [
            (SH_WH, TEE, MovementKind.RETURN, 2, "order:O-1:1", 0),
            (SH_WH, MUG, MovementKind.RETURN, 1, "wms:RET-1", 5),
            (HZ_WH, TEE, MovementKind.RETURN, 1, "order:O-2:1", 6),  # another location
            (SH_WH, TEE, MovementKind.RECEIPT, 4, "GRN-RET", 7),  # not a return
            (SH_WH, TEE, MovementKind.RETURN, 1, "order:O-3:1", 9),
        ]
        with new_uow() as uow:
            for location, sku, kind, qty, reference, seconds in moves:
                uow.stock.move(location, sku, kind, qty, reference, AT + timedelta(seconds=seconds))
            uow.commit()
        with new_uow() as uow:
            since = uow.backends.returns_since([SH_WH], AT + timedelta(seconds=1), 10)
            every = uow.backends.returns_since([SH_WH, HZ_WH], AT, 10)
            first = uow.backends.returns_since([SH_WH, HZ_WH], AT, 2)
        assert [(e.sku, e.qty, e.reference) for e in since] == [
            (MUG, 1, "wms:RET-1"),
            (TEE, 1, "order:O-3:1"),
        ]
        assert all(e.kind is MovementKind.RETURN and e.location == SH_WH for e in since)
        assert since[0].at == AT + timedelta(seconds=5)
        assert [e.reference for e in every] == [
            "order:O-1:1",
            "wms:RET-1",
            "order:O-2:1",
            "order:O-3:1",
        ]
        assert [e.reference for e in first] == ["order:O-1:1", "wms:RET-1"]


class TestBackendRepositoryOnFakes(BackendRepositoryContract):
    @pytest.fixture
    def uow_factory(self, fake_uow_factory: UowFactory) -> UowFactory:
        return fake_uow_factory


class TestBackendRepositoryOnSqlite(BackendRepositoryContract):
    @pytest.fixture
    def uow_factory(self, sqlite_uow_factory: UowFactory) -> UowFactory:
        return sqlite_uow_factory


@pytest.mark.postgres
class TestBackendRepositoryOnPostgres(BackendRepositoryContract):
    @pytest.fixture
    def uow_factory(self, postgres_uow_factory: UowFactory) -> UowFactory:
        return postgres_uow_factory
