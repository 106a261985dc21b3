"""The OutboxRelay contract: the committed events published oldest first, marked published
only when the publish returned, with the envelope receivers are promised; on the fakes, SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract_world import AT, TEE, IntegrationWorld

from omnihub.domain.events import Event, LocationStock, OrderIngested, StockChanged
from omnihub.ports import BusUnavailable, Envelope

pytestmark = pytest.mark.integration

ORDER = "01JORDERA0000000000000000A"


def stock_event(available: int, minutes: int = 0) -> Event:
    change = StockChanged(TEE, available, (LocationStock("SH-WH", available, 0, available),))
    return Event.of(change, TEE, AT + timedelta(minutes=minutes))


def order_event() -> Event:
    return Event.of(OrderIngested(ORDER, "tmall", "TB-1", "created"), ORDER, AT, version=3)


def commit(world: IntegrationWorld, *events: Event) -> list[str]:
    with world.uow() as uow:
        uow.emit(*events)
        uow.commit()
    return [e.id for e in events]


class OutboxRelayContract:
    @pytest.fixture
    def world(self) -> IntegrationWorld:
        raise NotImplementedError

    def test_the_oldest_events_are_published_first_in_batches_and_each_once(
        self, world: IntegrationWorld
    ) -> None:
        ids = commit(world, *(stock_event(n, n) for n in range(5)))
        batches: list[list[Envelope]] = []
        relay = world.stores.outbox

        assert relay.relay_batch(batches.append, AT, limit=2) == 2
        assert relay.relay_batch(batches.append, AT, limit=2) == 2
        assert relay.relay_batch(batches.append, AT, limit=2) == 1
        assert relay.relay_batch(batches.append, AT, limit=2) == 0

        assert [len(b) for b in batches] == [2, 2, 1]
        assert [e["id"] for b in batches for e in b] == ids
        sequences = [e["sequence"] for b in batches for e in b]
        assert sequences == sorted(sequences)
        assert len(set(sequences)) == 5
        assert relay.totals() == {"events": 5, "published": 5}

    def test_a_publish_that_raises_marks_nothing_published(self, world: IntegrationWorld) -> None:
        ids = commit(world, stock_event(1), stock_event(2, 1))
        relay = world.stores.outbox

        def down(envelopes: list[Envelope]) -> None:
            raise BusUnavailable("the broker did not acknowledge")

        with pytest.raises(BusUnavailable):
            relay.relay_batch(down, AT)
        assert relay.totals() == {"events": 2, "published": 0}
        again: list[Envelope] = []
        assert relay.relay_batch(again.extend, AT) == 2
        assert [e["id"] for e in again] == ids

    def test_an_envelope_carries_the_event_and_a_stock_event_its_sequence_as_version(
        self, world: IntegrationWorld
    ) -> None:
        stock, order = stock_event(7), order_event()
        commit(world, stock, order)
        got: list[Envelope] = []

        world.stores.outbox.relay_batch(got.extend, AT)

        first, second = got
        assert set(first) == {
            "id", "type", "occurred_at", "aggregate_id", "version", "sequence", "data",
        }  # fmt: skip
        assert (first["id"], first["type"], first["aggregate_id"]) == (
            stock.id,
            "stock.changed",
            TEE,
        )
        assert first["occurred_at"] == AT.isoformat()
        # (PostgreSQL's outbox writes a stock event with the levels as they are at commit)
        assert first["data"]["sku"] == TEE
        assert first["version"] == first["sequence"]  # grows with every change of the SKU
        assert (second["version"], second["data"]) == (3, order.data)
        assert second["sequence"] > first["sequence"]

    def test_the_position_is_the_sequence_of_the_newest_event(
        self, world: IntegrationWorld
    ) -> None:
        relay = world.stores.outbox
        assert relay.position() == 0
        commit(world, stock_event(1), stock_event(2, 1))
        got: list[Envelope] = []
        relay.relay_batch(got.extend, AT)
        assert relay.position() == got[-1]["sequence"]

    def test_the_backlog_counts_the_unpublished_events_and_the_age_of_the_oldest(
        self, world: IntegrationWorld
    ) -> None:
        relay = world.stores.outbox
        assert relay.backlog(AT) == (0, 0.0)
        commit(world, stock_event(1), stock_event(2, 1), stock_event(3, 2))
        backlog = relay.backlog(AT + timedelta(minutes=10))
        assert (backlog.events, backlog.oldest_age_seconds) == (3, 600.0)
        relay.relay_batch(lambda envelopes: None, AT, limit=1)
        assert relay.backlog(AT + timedelta(minutes=10)) == (2, 540.0)


class TestOutboxRelayOnFakes(OutboxRelayContract):
    @pytest.fixture
    def world(self, fake_world: IntegrationWorld) -> IntegrationWorld:
        return fake_world


class TestOutboxRelayOnSqlite(OutboxRelayContract):
    @pytest.fixture
    def world(self, sqlite_world: IntegrationWorld) -> IntegrationWorld:
        return sqlite_world


@pytest.mark.postgres
class TestOutboxRelayOnPostgres(OutboxRelayContract):
    @pytest.fixture
    def world(self, postgres_world: IntegrationWorld) -> IntegrationWorld:
        return postgres_world
