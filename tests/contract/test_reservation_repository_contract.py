"""The ReservationRepository contract: rows with a state that only moves away from active."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract_world import AT, HZ_WH, MUG, SH_WH, TEE, UowFactory, seed

from omnihub.domain.inventory import Reservation, ReservationState

pytestmark = pytest.mark.integration

ACTIVE, RELEASED = ReservationState.ACTIVE, ReservationState.RELEASED
EXPIRED, CONSUMED = ReservationState.EXPIRED, ReservationState.CONSUMED
ORDER_A, ORDER_B = "01JORDERA0000000000000000A", "01JORDERB0000000000000000B"


def a_reservation(
    number: int,
    *,
    location: str = SH_WH,
    sku: str = TEE,
    qty: int = 1,
    ttl: timedelta | None = None,
    order_id: str | None = None,
) -> Reservation:
    return Reservation(
        id=f"01JRES{number:020d}",
        location=location,
        sku=sku,
        qty=qty,
        state=ACTIVE,
        created_at=AT,
        expires_at=AT + ttl if ttl is not None else None,
        order_id=order_id,
    )


class ReservationRepositoryContract:
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        raise NotImplementedError

    @pytest.fixture
    def new_uow(self, uow_factory: UowFactory) -> UowFactory:
        return seed(uow_factory)

    def stored(self, new_uow: UowFactory, *reservations: Reservation) -> None:
        with new_uow() as uow:
            for reservation in reservations:
                uow.reservations.add(reservation)
            uow.commit()

    def test_a_reservation_round_trips_with_aware_utc_times(self, new_uow: UowFactory) -> None:
        cart = a_reservation(1, qty=3, ttl=timedelta(minutes=15))
        for_order = a_reservation(2, location=HZ_WH, sku=MUG, order_id=ORDER_A)
        self.stored(new_uow, cart, for_order)

        with new_uow() as uow:
            assert uow.reservations.get(cart.id) == cart
            assert uow.reservations.get(for_order.id) == for_order
            assert uow.reservations.get("01JNOSUCHRESERVATION000000") is None
            loaded = uow.reservations.get(cart.id)
        assert loaded is not None
        assert loaded.expires_at is not None
        assert loaded.created_at.utcoffset() == loaded.expires_at.utcoffset() == timedelta(0)

    def test_a_reservation_leaves_the_active_state_once_and_only_once(
        self, new_uow: UowFactory
    ) -> None:
        reservation = a_reservation(1)
        self.stored(new_uow, reservation)

        with new_uow() as uow:
            assert uow.reservations.change_state(reservation.id, RELEASED, AT) is True
            assert uow.reservations.change_state(reservation.id, EXPIRED, AT) is False
            assert uow.reservations.change_state(reservation.id, CONSUMED, AT) is False
            uow.commit()

        with new_uow() as uow:
            stored = uow.reservations.get(reservation.id)
            assert (
                uow.reservations.change_state("01JNOSUCHRESERVATION000000", RELEASED, AT) is False
            )
        assert stored is not None
        assert stored.state is RELEASED

    def test_only_active_reservations_whose_time_has_come_are_expired_oldest_first(
        self, new_uow: UowFactory
    ) -> None:
        now = AT + timedelta(minutes=30)
        late = a_reservation(1, ttl=timedelta(minutes=20))
        later = a_reservation(2, ttl=timedelta(minutes=30))
        earliest = a_reservation(3, ttl=timedelta(minutes=10))
        not_yet = a_reservation(4, ttl=timedelta(minutes=31))
        never = a_reservation(5)
        released = a_reservation(6, ttl=timedelta(minutes=1))
        self.stored(new_uow, late, later, earliest, not_yet, never, released)
        with new_uow() as uow:
            uow.reservations.change_state(released.id, RELEASED, AT)
            uow.commit()

        with new_uow() as uow:
            due = [r.id for r in uow.reservations.expired(now, limit=10)]
            first_two = [r.id for r in uow.reservations.expired(now, limit=2)]
        assert due == [earliest.id, late.id, later.id]
        assert first_two == [earliest.id, late.id]

    def test_the_reservations_of_an_order_are_listed_active_or_all(
        self, new_uow: UowFactory
    ) -> None:
        first, second = a_reservation(1, order_id=ORDER_A), a_reservation(2, order_id=ORDER_A)
        self.stored(new_uow, second, first, a_reservation(3, order_id=ORDER_B), a_reservation(4))
        with new_uow() as uow:
            uow.reservations.change_state(first.id, CONSUMED, AT)
            uow.commit()

        with new_uow() as uow:
            active = [r.id for r in uow.reservations.for_order(ORDER_A)]
            every = [(r.id, r.state) for r in uow.reservations.for_order(ORDER_A, False)]
        assert active == [second.id]
        assert every == [(first.id, CONSUMED), (second.id, ACTIVE)]

    def test_several_reservations_added_at_once_are_each_stored(self, new_uow: UowFactory) -> None:
        taken = [
            a_reservation(1, order_id=ORDER_A),
            a_reservation(2, location=HZ_WH, sku=MUG, qty=2, order_id=ORDER_A),
            a_reservation(3, qty=4, ttl=timedelta(hours=72), order_id=ORDER_A),
        ]
        with new_uow() as uow:
            uow.reservations.add_all(taken)
            uow.reservations.add_all([])
            uow.commit()

        with new_uow() as uow:
            assert uow.reservations.for_order(ORDER_A) == taken

    def test_active_sums_add_up_only_active_reservations_per_location_and_sku(
        self, new_uow: UowFactory
    ) -> None:
        self.stored(
            new_uow,
            a_reservation(1, qty=2),
            a_reservation(2, qty=3),
            a_reservation(3, qty=5, location=HZ_WH, sku=MUG),
            a_reservation(4, qty=7),
        )
        with new_uow() as uow:
            uow.reservations.change_state(f"01JRES{4:020d}", EXPIRED, AT)
            uow.commit()

        with new_uow() as uow:
            assert uow.reservations.active_sums() == {(SH_WH, TEE): 5, (HZ_WH, MUG): 5}
            assert uow.reservations.count_by_state() == {"active": 3, "expired": 1}

    def test_the_expiry_of_an_orders_active_reservations_can_be_moved(
        self, new_uow: UowFactory
    ) -> None:
        held = a_reservation(1, order_id=ORDER_A, ttl=timedelta(hours=1))
        ended = a_reservation(2, order_id=ORDER_A, ttl=timedelta(hours=1))
        other = a_reservation(3, order_id=ORDER_B, ttl=timedelta(hours=1))
        self.stored(new_uow, held, ended, other)
        pickup_deadline = AT + timedelta(days=3)

        with new_uow() as uow:
            uow.reservations.change_state(ended.id, RELEASED, AT)
            uow.reservations.set_expiry(ORDER_A, pickup_deadline)
            uow.commit()

        with new_uow() as uow:
            expiries = {r.id: r.expires_at for r in uow.reservations.for_order(ORDER_A, False)}
            assert uow.reservations.get(other.id) == other
        assert expiries == {held.id: pickup_deadline, ended.id: ended.expires_at}

    def test_leaving_without_commit_leaves_no_reservation(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            uow.reservations.add(a_reservation(1))

        with new_uow() as uow:
            assert uow.reservations.get(a_reservation(1).id) is None
            assert uow.reservations.count_by_state() == {}


class TestReservationRepositoryOnFakes(ReservationRepositoryContract):
    @pytest.fixture
    def uow_factory(self, fake_uow_factory: UowFactory) -> UowFactory:
        return fake_uow_factory


class TestReservationRepositoryOnSqlite(ReservationRepositoryContract):
    @pytest.fixture
    def uow_factory(self, sqlite_uow_factory: UowFactory) -> UowFactory:
        return sqlite_uow_factory


@pytest.mark.postgres
class TestReservationRepositoryOnPostgres(ReservationRepositoryContract):
    @pytest.fixture
    def uow_factory(self, postgres_uow_factory: UowFactory) -> UowFactory:
        return postgres_uow_factory
