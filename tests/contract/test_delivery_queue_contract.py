"""The DeliveryQueue contract: one delivery per (endpoint, event id), claims leased to one
worker, outcomes recorded (delivered, retried, dead, postponed), dead letters replayed or
discarded; on the fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract_world import AT, IntegrationWorld

from omnihub.ports import (
    DEAD,
    DELIVERED,
    DISCARDED,
    PENDING,
    STOCK_PUSH,
    DeliveryQueue,
    NewDelivery,
    Outcome,
    StockPush,
)

pytestmark = pytest.mark.integration

LATER = AT + timedelta(minutes=1)


def item(event_id: str, endpoint: str = "webhook:erp") -> NewDelivery:
    return NewDelivery(
        endpoint=endpoint,
        url=f"http://127.0.0.1:9/{endpoint.partition(':')[2]}",
        event_id=event_id,
        event_type="stock.changed",
        payload={"id": event_id, "data": {"sku": "TEE", "note": "库存 ✓"}},
    )


def ids(queue: DeliveryQueue, **filters: str) -> list[str]:
    return [d.event_id for d in queue.recent(limit=100, **filters)]


class DeliveryQueueContract:
    @pytest.fixture
    def world(self) -> IntegrationWorld:
        raise NotImplementedError

    @pytest.fixture
    def queue(self, world: IntegrationWorld) -> DeliveryQueue:
        return world.stores.deliveries

    def test_an_event_is_queued_once_per_endpoint_however_often_it_comes(
        self, queue: DeliveryQueue
    ) -> None:
        assert queue.enqueue([item("e-1"), item("e-1")], AT) == 1
        assert queue.enqueue([item("e-1")], AT) == 0
        assert queue.enqueue([item("e-1", "channel:jd"), item("e-2")], AT) == 2
        assert queue.enqueue([], AT) == 0
        [first] = queue.recent(endpoint="webhook:erp", status=PENDING, limit=1)
        assert (first.event_id, first.attempts, first.last_error) == ("e-2", 0, None)
        stored = queue.get(first.id)
        assert stored is not None
        assert stored.payload == {"id": "e-2", "data": {"sku": "TEE", "note": "库存 ✓"}}
        assert (stored.url, stored.event_type) == ("http://127.0.0.1:9/erp", "stock.changed")
        assert (stored.created_at, stored.next_attempt_at, stored.finished_at) == (AT, AT, None)
        assert queue.status_of("webhook:erp", "e-1") == PENDING
        assert queue.status_of("webhook:bi", "e-1") is None

    def test_due_deliveries_are_claimed_oldest_due_first_and_leased_to_one_worker(
        self, queue: DeliveryQueue
    ) -> None:
        soon = AT + timedelta(seconds=10)
        queue.enqueue([item("e-1"), item("e-2")], AT)
        queue.enqueue([item("e-3")], soon)
        assert queue.claim_due(AT - timedelta(seconds=1), 10) == []  # none due yet

        claimed = queue.claim_due(AT, 10)
        assert [d.event_id for d in claimed] == ["e-1", "e-2"]
        assert [(d.attempts, d.next_attempt_at) for d in claimed] == [(0, AT), (0, AT)]
        # leased: another worker sees none of them until the lease runs out
        assert [d.event_id for d in queue.claim_due(soon, 10)] == ["e-3"]
        assert queue.claim_due(soon, 10) == []
        again = queue.claim_due(AT + timedelta(minutes=5), 1)
        assert [d.event_id for d in again] == ["e-1"]

    def test_outcomes_deliver_retry_kill_and_postpone(self, queue: DeliveryQueue) -> None:
        queue.enqueue([item(f"e-{n}") for n in range(4)], AT)
        ok, retried, dead, postponed = sorted(queue.recent(limit=10), key=lambda d: d.event_id)
        queue.record(
            [
                Outcome(ok.id, LATER, status=200, latency_ms=3.5),
                Outcome(retried.id, LATER, error="HTTP 500: boom", status=500, retry_at=LATER),
                Outcome(dead.id, LATER, error="x" * 3000, status=None),
                Outcome(postponed.id, LATER, postpone_until=LATER + timedelta(seconds=5)),
            ]
        )
        after = {d.event_id: d for d in queue.recent(limit=10)}
        assert (after["e-0"].status, after["e-0"].attempts, after["e-0"].last_status) == (
            DELIVERED,
            1,
            200,
        )
        assert (after["e-0"].finished_at, after["e-0"].last_error) == (LATER, None)
        assert (after["e-1"].status, after["e-1"].attempts) == (PENDING, 1)
        assert (after["e-1"].next_attempt_at, after["e-1"].last_error) == (LATER, "HTTP 500: boom")
        assert (after["e-2"].status, after["e-2"].finished_at) == (DEAD, LATER)
        assert after["e-2"].last_error == "x" * 2000  # the last error, kept to its first 2000
        assert (after["e-3"].status, after["e-3"].attempts) == (PENDING, 0)
        assert after["e-3"].next_attempt_at == LATER + timedelta(seconds=5)
        assert sorted(queue.counts()) == [
            ("webhook:erp", DEAD, 1, 1),
            ("webhook:erp", DELIVERED, 1, 1),
            ("webhook:erp", PENDING, 2, 1),
        ]

    def test_the_convenience_outcomes_record_one_attempt_each(self, queue: DeliveryQueue) -> None:
        queue.enqueue([item("e-1"), item("e-2"), item("e-3")], AT)
        one, two, three = sorted(queue.recent(limit=10), key=lambda d: d.event_id)
        queue.succeeded(one.id, 204, 1.0, LATER)
        queue.failed(two.id, "timed out after 5s", None, 5000.0, None, LATER)
        queue.postpone(three.id, LATER)
        assert [(d.event_id, d.status, d.attempts) for d in queue.recent(limit=10)] == [
            ("e-3", PENDING, 0),
            ("e-2", DEAD, 1),
            ("e-1", DELIVERED, 1),
        ]

    def test_dead_letters_are_replayed_one_or_per_endpoint_and_discarded(
        self, queue: DeliveryQueue
    ) -> None:
        queue.enqueue([item("e-1"), item("e-2"), item("e-3", "channel:jd")], AT)
        for d in queue.recent(limit=10):
            queue.failed(d.id, "HTTP 503", 503, 1.0, None, AT)
        one = queue.recent(endpoint="webhook:erp", limit=1)[0]

        assert queue.replay(LATER, delivery_id=one.id) == 1
        assert queue.replay(LATER, delivery_id=one.id) == 0  # not a dead letter any more
        replayed = queue.get(one.id)
        assert replayed is not None
        assert (replayed.status, replayed.attempts, replayed.finished_at) == (PENDING, 0, None)
        assert replayed.next_attempt_at == LATER
        assert queue.replay(LATER, endpoint="webhook:erp") == 1
        assert ids(queue, status=DEAD) == ["e-3"]

        [jd] = queue.recent(status=DEAD)
        assert queue.discard(jd.id, LATER) is True
        assert queue.discard(jd.id, LATER) is False
        assert queue.discard(one.id, LATER) is False  # pending: not a dead letter
        discarded = queue.get(jd.id)
        assert discarded is not None
        assert (discarded.status, discarded.finished_at) == (DISCARDED, LATER)
        assert queue.get(10**9) is None

    def test_the_newest_are_listed_first_by_status_and_endpoint(self, queue: DeliveryQueue) -> None:
        queue.enqueue([item("e-1"), item("e-2", "channel:jd"), item("e-3")], AT)
        assert ids(queue) == ["e-3", "e-2", "e-1"]
        assert ids(queue, endpoint="webhook:erp") == ["e-3", "e-1"]
        assert [d.event_id for d in queue.recent(limit=1)] == ["e-3"]
        assert ids(queue, status=DELIVERED) == []

    def test_a_delivered_stock_push_is_the_channel_acknowledging_its_value(
        self, world: IntegrationWorld, queue: DeliveryQueue
    ) -> None:
        sync = world.stores.stock_sync
        sync.want("jd", "TEE", 5, 10, AT)
        push = NewDelivery(
            endpoint="channel:jd",
            url="http://127.0.0.1:9/jd/stock",
            event_id="stock:TEE:10",
            event_type=STOCK_PUSH,
            payload={"channel": "jd", "sku": "TEE", "quantity": 5, "version": 10},
        )
        assert sync.queue_pushes(lambda row, skus: StockPush(push), AT) == 1
        [queued] = queue.recent(limit=1)
        queue.succeeded(queued.id, 200, 1.0, LATER)
        assert sync.values("jd") == {"TEE": (5, 5)}
        status = sync.status("jd")
        assert (status.in_sync, status.lag_ms_p50, status.last_ack_at) == (1, 60000.0, LATER)


class TestDeliveryQueueOnFakes(DeliveryQueueContract):
    @pytest.fixture
    def world(self, fake_world: IntegrationWorld) -> IntegrationWorld:
        return fake_world


class TestDeliveryQueueOnSqlite(DeliveryQueueContract):
    @pytest.fixture
    def world(self, sqlite_world: IntegrationWorld) -> IntegrationWorld:
        return sqlite_world


@pytest.mark.postgres
class TestDeliveryQueueOnPostgres(DeliveryQueueContract):
    @pytest.fixture
    def world(self, postgres_world: IntegrationWorld) -> IntegrationWorld:
        return postgres_world
