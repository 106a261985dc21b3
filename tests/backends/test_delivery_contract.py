"""The delivery port's contract, run against each instant-delivery adapter and its simulated
platform over real HTTP on 127.0.0.1: riders move on the platform's clock and the platform
calls a stand-in of the hub's callback receiver at each status."""

from __future__ import annotations

import abc
import json
import math
from typing import Any

import pytest
from tests.backends.backend_world import (
    AT,
    BUYER,
    MUG,
    SH_STORE,
    TEE,
    CallbackReceiver,
    backend,
    line,
    run,
)

from omnihub.adapters.backends import adapter_for
from omnihub.domain.backends import Position, RiderState, RiderStatus, RiderTask, supersedes
from omnihub.domain.values import Money
from omnihub.platforms.local_time import utc_now
from omnihub.ports import BackendConfig, CallRefused, DeliveryAdapter
from omnihub.simulators.backends.delivery.dada import DadaSimulator

pytestmark = pytest.mark.integration

STORE = Position(31.2200, 121.4200)
BUYER_AT = Position(31.2300, 121.4400)
RIDE = [
    RiderState.WAITING,
    RiderState.ACCEPTED,
    RiderState.PICKING_UP,
    RiderState.DELIVERING,
    RiderState.DELIVERED,
]


class DeliveryWorld(abc.ABC):
    adapter: DeliveryAdapter
    config: BackendConfig
    simulator: Any
    receiver: CallbackReceiver

    @abc.abstractmethod
    def step(self) -> None:
        """The platform's clock moves on one step."""

    @abc.abstractmethod
    def provider_cancels(self, reference: str) -> None: ...

    @abc.abstractmethod
    def expires(self, reference: str) -> None: ...

    @abc.abstractmethod
    def rider_gives_up(self, reference: str) -> None: ...

    @abc.abstractmethod
    def delivery_fails(self, reference: str) -> None: ...

    @abc.abstractmethod
    def tasks_with(self, reference: str) -> int: ...


class DadaWorld(DeliveryWorld):
    adapter = adapter_for("dada")  # type: ignore[assignment]

    def __init__(self, sim: DadaSimulator, receiver: CallbackReceiver) -> None:
        self.simulator, self.receiver = sim, receiver
        sim.add_shop("11047059", STORE.lat, STORE.lng)
        self.config = backend(
            {
                "code": "dada",
                "kind": "delivery",
                "adapter": "dada",
                "endpoint": sim.url,
                "credentials": sim.credentials(),
                "locations": [SH_STORE],
                "warehouses": {SH_STORE: "11047059"},
                "settings": {
                    "city_code": "021",
                    "callback_url": receiver.url_for("dada"),
                    "callback_token": "cb-token",
                },
            }
        )
        receiver.backends["dada"] = self.config

    def step(self) -> None:
        self.simulator.tick()

    def provider_cancels(self, reference: str) -> None:
        self.simulator.provider_cancels(reference, "运力不足")

    def expires(self, reference: str) -> None:
        self.simulator.expire(reference)

    def rider_gives_up(self, reference: str) -> None:
        self.simulator.rider_gives_up(reference)

    def delivery_fails(self, reference: str) -> None:
        self.simulator.fail_delivery(reference)

    def tasks_with(self, reference: str) -> int:
        return int(reference in self.simulator.tasks)


def task(reference: str = "FF-4001") -> RiderTask:
    return RiderTask(
        reference,
        SH_STORE,
        AT,
        BUYER,
        BUYER_AT,
        Money.of("88.00"),
        (line(TEE, 1), line(MUG, 2)),
        weight_kg=1.2,
    )


def statuses(world: DeliveryWorld) -> list[RiderStatus]:
    return [d for d in world.receiver.documents() if isinstance(d, RiderStatus)]


def distance(a: Position, b: Position) -> float:
    return math.hypot(a.lat - b.lat, a.lng - b.lng)


class DeliveryContract:
    @pytest.fixture
    def world(self) -> DeliveryWorld:
        raise NotImplementedError

    def create(self, world: DeliveryWorld, reference: str = "FF-4001") -> Any:
        return run(world.config, world.adapter.create_task(world.config, task(reference)))

    def test_a_task_is_dispatched_with_its_fee_and_distance(self, world: DeliveryWorld) -> None:
        ref = self.create(world)
        assert (ref.reference, ref.state) == ("FF-4001", RiderState.WAITING)
        assert ref.fee.amount > 0
        assert 2000 < ref.distance_m < 2500  # the straight line, store to buyer

    def test_sending_a_live_task_again_does_not_dispatch_a_second_rider(
        self, world: DeliveryWorld
    ) -> None:
        first = self.create(world)
        world.step()
        again = self.create(world)
        assert (again.fee, again.state) == (first.fee, RiderState.ACCEPTED)
        assert world.tasks_with("FF-4001") == 1

    def test_a_ride_is_called_back_status_by_status_each_superseding_the_last(
        self, world: DeliveryWorld
    ) -> None:
        self.create(world)
        for _ in range(8):
            world.step()
        received = statuses(world)
        assert [s.state for s in received] == RIDE
        current = None
        for status in received:
            assert supersedes(current, status), status.state
            current = status
        assert received[0].rider is None  # nobody took it yet
        assert received[1].rider is not None
        assert {s.rider for s in received[1:]} == {received[1].rider}

    def test_the_rider_rides_a_straight_line_from_the_store_to_the_buyer(
        self, world: DeliveryWorld
    ) -> None:
        self.create(world)
        positions: list[Position] = []
        for _ in range(8):
            world.step()
            status = run(world.config, world.adapter.task_status(world.config, "FF-4001"))
            if status.state in (RiderState.PICKING_UP, RiderState.DELIVERING, RiderState.DELIVERED):
                assert status.position is not None
                positions.append(status.position)
        assert distance(positions[0], STORE) < 1e-6
        assert distance(positions[-1], BUYER_AT) < 1e-6
        gaps = [distance(p, BUYER_AT) for p in positions]
        assert gaps == sorted(gaps, reverse=True)
        for p in positions:  # on the segment: the two legs add up to the whole
            assert math.isclose(
                distance(STORE, p) + distance(p, BUYER_AT), distance(STORE, BUYER_AT), rel_tol=1e-6
            )
        assert status.fee == self.create(world).fee

    def test_a_task_cancelled_before_pickup_is_cancelled_with_the_penalty_charged(
        self, world: DeliveryWorld
    ) -> None:
        self.create(world)
        world.step()  # a rider accepted it: cancelling now costs a penalty
        penalty = run(
            world.config, world.adapter.cancel_task(world.config, "FF-4001", "buyer cancelled")
        )
        again = run(
            world.config, world.adapter.cancel_task(world.config, "FF-4001", "buyer cancelled")
        )
        assert penalty.amount > 0
        assert again == Money.of("0")
        assert statuses(world)[-1].state == RiderState.CANCELLED

    def test_a_task_on_its_way_cannot_be_cancelled_and_a_retry_will_not_help(
        self, world: DeliveryWorld
    ) -> None:
        self.create(world)
        for _ in range(3):
            world.step()
        with pytest.raises(CallRefused) as refused:
            run(world.config, world.adapter.cancel_task(world.config, "FF-4001", "too late"))
        assert refused.value.retry is False

    def test_a_task_the_provider_cancels_says_why_and_can_be_sent_again(
        self, world: DeliveryWorld
    ) -> None:
        self.create(world)
        world.step()
        world.provider_cancels("FF-4001")
        cancelled = statuses(world)[-1]
        assert (cancelled.state, cancelled.cancelled_by) == (RiderState.CANCELLED, "provider")
        assert cancelled.cancel_reason
        assert cancelled.state.failed
        again = self.create(world)
        assert again.state == RiderState.WAITING
        world.step()
        assert statuses(world)[-1].state == RiderState.ACCEPTED
        assert supersedes(cancelled, statuses(world)[-1])

    def test_a_task_no_rider_took_expires(self, world: DeliveryWorld) -> None:
        self.create(world)
        world.expires("FF-4001")
        assert statuses(world)[-1].state == RiderState.EXPIRED

    def test_a_rider_who_gives_up_puts_the_task_back_to_waiting(self, world: DeliveryWorld) -> None:
        self.create(world)
        world.step()
        world.rider_gives_up("FF-4001")
        _, accepted, waiting = statuses(world)
        assert waiting.state == RiderState.WAITING
        assert supersedes(accepted, waiting)

    def test_a_failed_delivery_brings_the_goods_back(self, world: DeliveryWorld) -> None:
        self.create(world)
        for _ in range(3):
            world.step()
        world.delivery_fails("FF-4001")
        world.step()
        assert [s.state for s in statuses(world)][-2:] == [
            RiderState.RETURNING,
            RiderState.RETURNED,
        ]

    def test_callbacks_out_of_order_leave_the_newest_status(self, world: DeliveryWorld) -> None:
        world.simulator.faults.out_of_order = True
        self.create(world)
        for _ in range(8):
            world.step()
        world.simulator.flush()
        current = None
        for status in statuses(world):
            if supersedes(current, status):
                current = status
        assert current is not None
        assert current.state == RiderState.DELIVERED
        assert [s.state for s in statuses(world)] != RIDE  # they did arrive out of order

    def test_a_task_the_provider_never_had_is_not_found(self, world: DeliveryWorld) -> None:
        with pytest.raises(CallRefused) as refused:
            run(world.config, world.adapter.task_status(world.config, "FF-NEVER"))
        assert (refused.value.retry, refused.value.code) == (False, "not_found")

    def test_a_provider_that_is_down_failing_or_limiting_calls_is_a_retry(
        self, world: DeliveryWorld
    ) -> None:
        for fault, value in (("down", True), ("error_rate", 1.0), ("rate_limited", 1)):
            setattr(world.simulator.faults, fault, value)
            with pytest.raises(CallRefused) as refused:
                self.create(world)
            assert refused.value.retry is True, fault
            world.simulator.faults.down, world.simulator.faults.error_rate = False, 0.0
        self.create(world)
        assert world.tasks_with("FF-4001") == 1


class TestDada(DeliveryContract):
    @pytest.fixture
    def world(self, dada: DadaSimulator, receiver: CallbackReceiver) -> DeliveryWorld:
        return DadaWorld(dada, receiver)


def test_a_dada_task_whose_creation_failed_is_read_as_cancelled_at_its_second(
    dada: DadaSimulator, receiver: CallbackReceiver
) -> None:
    world = DadaWorld(dada, receiver)
    run(world.config, world.adapter.create_task(world.config, task()))
    dada.fail_creation("FF-4001")
    failed = statuses(world)[-1]
    sent = json.loads(dada.callback_log[-1].body)
    assert sent["order_status"] == 1000
    assert sent["update_time"] > 10**12  # Dada stamps this status in milliseconds
    assert (failed.state, failed.native_status, failed.cancelled_by) == (
        RiderState.CANCELLED,
        1000,
        "provider",
    )
    assert abs((failed.updated_at - utc_now()).total_seconds()) < 60
    again = run(world.config, world.adapter.create_task(world.config, task()))
    assert again.state == RiderState.WAITING  # a failed creation is sent again
