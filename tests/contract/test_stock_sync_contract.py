"""The StockSync contract: per (channel, SKU) the newest value wanted, one push in flight at a
time, what the channel acknowledged and the drift the full compare pushes again; on the fakes,
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract_world import AT, MUG, TEE, IntegrationWorld, seed

from omnihub.domain.catalog import ChannelMapping
from omnihub.ports import (
    NEVER,
    STOCK_PUSH,
    ChannelSkus,
    NewDelivery,
    StockPush,
    StockSync,
    StockSyncRow,
    StockWant,
)

pytestmark = pytest.mark.integration

LATER = AT + timedelta(seconds=30)


def push_of(row: StockSyncRow, skus: ChannelSkus) -> StockPush:
    return StockPush(
        NewDelivery(
            endpoint=f"channel:{row.channel}",
            url=f"http://127.0.0.1:9/{row.channel}/stock",
            event_id=f"stock:{row.sku}:{row.wanted_version}"
            + (f":r{row.repushes}" if row.repushes else ""),
            event_type=STOCK_PUSH,
            payload={
                "channel": row.channel,
                "sku": row.sku,
                "quantity": row.wanted,
                "version": row.wanted_version,
                "channel_skus": skus(row.channel, row.sku),
            },
        )
    )


class StockSyncContract:
    @pytest.fixture
    def world(self) -> IntegrationWorld:
        raise NotImplementedError

    @pytest.fixture
    def sync(self, world: IntegrationWorld) -> StockSync:
        return world.stores.stock_sync

    def pending(self, world: IntegrationWorld) -> list[tuple[str, int]]:
        return [
            (d.event_id, d.payload["quantity"])
            for d in world.stores.deliveries.recent(status="pending", limit=100)
        ]

    def test_only_the_newest_version_of_a_value_is_kept(self, sync: StockSync) -> None:
        sync.want("jd", TEE, 5, 10, AT)
        sync.want("jd", TEE, 9, 9, AT)  # older: an event that came late
        sync.want("jd", TEE, 5, 10, AT)  # the same again
        sync.want_many([StockWant("jd", MUG, 2, 3), StockWant("tmall", TEE, 4, 10)], AT)
        assert sync.values("jd") == {TEE: (5, None), MUG: (2, None)}
        assert sync.values("tmall") == {TEE: (4, None)}
        assert sync.values("pdd") == {}

    def test_a_value_waits_since_its_first_change_not_queued(self, sync: StockSync) -> None:
        sync.want("jd", TEE, 5, 10, AT)
        sync.want("jd", TEE, 3, 11, LATER)
        sync.want("jd", MUG, 1, 4, AT - timedelta(seconds=1))
        assert sync.waiting_since("jd", TEE) == AT
        assert [(w.channel, w.sku, w.since) for w in sync.waiting()] == [
            ("jd", MUG, AT - timedelta(seconds=1)),
            ("jd", TEE, AT),
        ]
        [row] = [r for r in sync.to_push(10) if r.sku == TEE]
        assert (row.wanted, row.wanted_version, row.queued_version, row.acked) == (
            3,
            11,
            NEVER,
            None,
        )
        assert (row.acked, row.acked_version, row.repushes, row.wanted_at) == (None, NEVER, 0, AT)
        assert len(sync.to_push(1)) == 1

    def test_one_push_per_value_and_none_beside_one_in_flight(
        self, world: IntegrationWorld, sync: StockSync
    ) -> None:
        sync.want("jd", TEE, 5, 10, AT)
        assert sync.queue_pushes(push_of, AT) == 1
        assert sync.queue_pushes(push_of, AT) == 0  # nothing new waits
        sync.want("jd", TEE, 3, 11, LATER)
        assert sync.waiting_since("jd", TEE) == LATER
        assert sync.waiting() == []  # its push of 10 is in flight: 11 may not overtake it
        assert sync.to_push(10) == []
        assert sync.queue_pushes(push_of, LATER) == 0
        [first] = world.stores.deliveries.recent(limit=1)
        assert sync.acked("jd", TEE, 5, 10, LATER) == LATER  # 11 has waited since then
        world.stores.deliveries.succeeded(first.id, 200, 1.0, LATER)
        assert sync.queue_pushes(push_of, LATER) == 1
        assert self.pending(world) == [("stock:TEE-WHITE-M:11", 3)]

    def test_a_push_is_queued_only_for_the_pairs_and_waits_asked(
        self, world: IntegrationWorld, sync: StockSync
    ) -> None:
        sync.want("jd", TEE, 5, 10, AT)
        sync.want("jd", MUG, 2, 10, LATER)
        sync.want("pdd", TEE, 4, 10, AT)
        assert sync.queue_pushes(push_of, LATER, pairs=[]) == 0
        assert sync.queue_pushes(push_of, LATER, waiting_since=AT - timedelta(seconds=1)) == 0
        assert sync.queue_pushes(push_of, LATER, waiting_since=AT, pairs=[("jd", TEE)]) == 1
        assert sync.queue_pushes(push_of, LATER, waiting_since=AT) == 1  # pdd's; MUG is later
        assert sorted(self.pending(world)) == [
            ("stock:TEE-WHITE-M:10", 4),
            ("stock:TEE-WHITE-M:10", 5),
        ]
        assert sync.queue_pushes(push_of, LATER, limit=1) == 1
        assert [w.sku for w in sync.waiting()] == []

    def test_a_builder_may_leave_a_value_waiting_or_count_it_pushed_with_nothing_to_send(
        self, world: IntegrationWorld, sync: StockSync
    ) -> None:
        sync.want("jd", TEE, 5, 10, AT)
        sync.want("jd", MUG, 2, 10, AT)
        assert sync.queue_pushes(lambda row, skus: None, AT) == 0  # nowhere to push to yet
        assert len(sync.waiting()) == 2
        assert sync.queue_pushes(lambda row, skus: StockPush(None), AT, pairs=[("jd", MUG)]) == 0
        assert [w.sku for w in sync.waiting()] == [TEE]  # MUG counts as pushed: not sold there
        assert world.stores.deliveries.recent(limit=10) == []

    def test_the_builder_is_given_the_channel_item_ids_of_the_sku(
        self, world: IntegrationWorld, sync: StockSync
    ) -> None:
        seed(world.uow)
        with world.uow() as uow:
            uow.catalog.add_mapping(ChannelMapping("jd", "JD-200", TEE))
            uow.catalog.add_mapping(ChannelMapping("jd", "JD-100", TEE))
            uow.catalog.add_mapping(ChannelMapping("tmall", "TM-1", TEE))
            uow.commit()
        sync.want("jd", TEE, 5, 10, AT)
        sync.want("jd", MUG, 2, 10, AT)
        assert sync.queue_pushes(push_of, AT) == 2
        skus = {
            d.payload["sku"]: d.payload["channel_skus"] for d in world.stores.deliveries.recent()
        }
        assert skus == {TEE: ["JD-100", "JD-200"], MUG: []}

    def test_an_acknowledgement_records_the_value_the_lag_and_the_sync_status(
        self, sync: StockSync
    ) -> None:
        sync.want("jd", TEE, 5, 10, AT)
        sync.want("jd", MUG, 2, 10, AT)
        sync.queue_pushes(push_of, AT)
        assert sync.acked("jd", TEE, 5, 10, AT + timedelta(milliseconds=250)) is None
        assert sync.acked("jd", MUG, 1, 10, AT + timedelta(milliseconds=750)) is None
        assert sync.acked("jd", "NOT-SYNCED", 1, 1, AT) is None
        status = sync.status("jd")
        assert (status.channel, status.skus, status.in_sync, status.behind) == ("jd", 2, 1, 1)
        assert (status.lag_ms_p50, status.lag_ms_p99) == (750.0, 750.0)
        assert status.last_ack_at == AT + timedelta(milliseconds=750)
        assert status.to_dict()["last_ack_at"] == (AT + timedelta(milliseconds=750)).isoformat()
        sync.acked("jd", MUG, 3, 9, LATER)  # an older version's answer changes nothing
        assert sync.values("jd") == {TEE: (5, 5), MUG: (2, 1)}
        empty = sync.status("pdd")
        assert (empty.skus, empty.lag_ms_p50, empty.last_ack_at) == (0, None, None)

    def test_the_full_compare_pushes_a_drifted_value_again_unless_its_push_is_in_flight(
        self, world: IntegrationWorld, sync: StockSync
    ) -> None:
        sync.want("jd", TEE, 5, 10, AT)
        sync.queue_pushes(push_of, AT)
        assert sync.requeue_drift() == 0  # in flight: left to its acknowledgement
        [first] = world.stores.deliveries.recent(limit=1)
        world.stores.deliveries.succeeded(first.id, 200, 1.0, LATER)
        sync.acked("jd", TEE, 4, 10, LATER)  # the channel kept another value
        assert sync.requeue_drift() == 1
        assert sync.queue_pushes(push_of, LATER) == 1
        assert self.pending(world) == [("stock:TEE-WHITE-M:10:r1", 5)]
        [again] = world.stores.deliveries.recent(status="pending", limit=1)
        world.stores.deliveries.succeeded(again.id, 200, 1.0, LATER)
        assert sync.values("jd") == {TEE: (5, 5)}
        assert sync.requeue_drift() == 0


class TestStockSyncOnFakes(StockSyncContract):
    @pytest.fixture
    def world(self, fake_world: IntegrationWorld) -> IntegrationWorld:
        return fake_world


class TestStockSyncOnSqlite(StockSyncContract):
    @pytest.fixture
    def world(self, sqlite_world: IntegrationWorld) -> IntegrationWorld:
        return sqlite_world


@pytest.mark.postgres
class TestStockSyncOnPostgres(StockSyncContract):
    @pytest.fixture
    def world(self, postgres_world: IntegrationWorld) -> IntegrationWorld:
        return postgres_world
