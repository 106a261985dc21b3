"""The RoutingRepository contract: decisions, fulfilments, merge groups, pickup codes, documents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract_world import AT, HZ_WH, MUG, SH_WH, TEE, UowFactory, seed

from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Order, OrderLine, OrderStatus
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus, MergeGroup, MergeState
from omnihub.domain.values import Money, new_id
from omnihub.ports import PickupCodeRecord

pytestmark = pytest.mark.integration

ORDER_A, ORDER_B = "01JORDERA0000000000000000A", "01JORDERB0000000000000000B"


def a_fulfilment(
    number: int,
    order_id: str = ORDER_A,
    location: str = SH_WH,
    status: FulfilmentStatus = FulfilmentStatus.PENDING,
    at_minutes: int = 0,
) -> Fulfilment:
    at = AT + timedelta(minutes=at_minutes)
    return Fulfilment(
        id=f"01JFUL{number:020d}",
        order_id=order_id,
        location=location,
        status=status,
        lines=[{"line_no": 1, "sku": TEE, "qty": 2}],
        created_at=at,
        updated_at=at,
    )


def a_group(number: int, key: str = "buyer#address", at_minutes: int = 0) -> MergeGroup:
    at = AT + timedelta(minutes=at_minutes)
    return MergeGroup(f"01JGRP{number:020d}", key, MergeState.OPEN, at, at)


def an_order_in(group: MergeGroup | None, external_id: str) -> Order:
    order = Order.receive(
        id=new_id(),
        channel="tmall",
        external_id=external_id,
        channel_status=OrderStatus.PAID,
        delivery=DeliveryMode.EXPRESS,
        lines=[OrderLine(1, "TM-MUG", 1, Money.of("39.00"), Money.of("0"), MUG)],
        channel_created_at=AT,
        channel_updated_at=AT,
        at=AT,
    )
    order.merge_group = group.id if group else None
    return order


class RoutingRepositoryContract:
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        raise NotImplementedError

    @pytest.fixture
    def new_uow(self, uow_factory: UowFactory) -> UowFactory:
        return seed(uow_factory)

    def test_routing_decisions_are_kept_per_order_in_the_order_made(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            uow.routing.add_decision(ORDER_A, AT, "held:no_stock", {"why": "none left"})
            uow.routing.add_decision(ORDER_B, AT, "allocated", {"nodes": [SH_WH]})
            uow.routing.add_decision(ORDER_A, AT + timedelta(minutes=1), "allocated", {"n": 1})
            uow.commit()

        with new_uow() as uow:
            decisions = uow.routing.decisions(ORDER_A)
        assert [d["outcome"] for d in decisions] == ["held:no_stock", "allocated"]
        assert decisions[0]["explanation"] == {"why": "none left"}
        assert decisions[1]["at"] == (AT + timedelta(minutes=1)).isoformat()

    def test_a_fulfilment_round_trips_and_its_changes_are_saved(self, new_uow: UowFactory) -> None:
        part = a_fulfilment(1)
        with new_uow() as uow:
            uow.routing.add_fulfilment(part)
            uow.commit()

        with new_uow() as uow:
            assert uow.routing.get_fulfilment(part.id) == part
            assert uow.routing.get_fulfilment("01JNOSUCHFULFILMENT0000000") is None
            part.status = FulfilmentStatus.SHIPPED
            part.carrier, part.tracking_number = "SF", "SF1234567890"
            part.updated_at = AT + timedelta(hours=2)
            uow.routing.save_fulfilment(part)
            uow.commit()

        with new_uow() as uow:
            assert uow.routing.get_fulfilment(part.id) == part

    def test_an_orders_fulfilments_are_listed_by_node_and_load_counts_live_ones_since_a_time(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            for part in [
                a_fulfilment(1, location=SH_WH, at_minutes=5),
                a_fulfilment(2, location=HZ_WH, at_minutes=5),
                a_fulfilment(3, ORDER_B, SH_WH, FulfilmentStatus.CANCELLED, at_minutes=5),
                a_fulfilment(4, ORDER_B, SH_WH, FulfilmentStatus.SHIPPED, at_minutes=10),
                a_fulfilment(5, ORDER_B, HZ_WH, at_minutes=-1),
            ]:
                uow.routing.add_fulfilment(part)
            uow.commit()

        with new_uow() as uow:
            nodes = [f.location for f in uow.routing.fulfilments(ORDER_A)]
            load = uow.routing.fulfilments_per_node_since(AT, [SH_WH, HZ_WH])
            only_sh = uow.routing.fulfilments_per_node_since(AT, [SH_WH])
            none = uow.routing.fulfilments_per_node_since(AT, [])
        assert nodes == [HZ_WH, SH_WH]
        assert load == {SH_WH: 2, HZ_WH: 1}
        assert only_sh == {SH_WH: 2}
        assert none == {}

    def test_an_open_merge_group_is_found_by_key_within_its_window_with_its_orders(
        self, new_uow: UowFactory
    ) -> None:
        old, fresh, other = a_group(1, at_minutes=-5), a_group(2), a_group(3, key="other")
        first, second = an_order_in(fresh, "TB-1"), an_order_in(fresh, "TB-2")
        with new_uow() as uow:
            for group in (old, fresh, other):
                uow.routing.add_merge_group(group)
            for order in (first, second, an_order_in(None, "TB-3")):
                uow.orders.add(order)
            uow.commit()

        with new_uow() as uow:
            found = uow.routing.open_merge_group("buyer#address", AT - timedelta(minutes=1))
            oldest = uow.routing.open_merge_group("buyer#address", AT - timedelta(hours=1))
            assert uow.routing.open_merge_group("nobody", AT - timedelta(hours=1)) is None
        assert found is not None
        assert found.id == fresh.id
        assert found.order_ids == sorted([first.id, second.id])
        assert oldest is not None
        assert (oldest.id, oldest.order_ids) == (old.id, [])

    def test_a_merge_group_leaves_the_open_ones_when_its_state_changes(
        self, new_uow: UowFactory
    ) -> None:
        early, late = a_group(1, at_minutes=-10), a_group(2, key="k2", at_minutes=-2)
        with new_uow() as uow:
            uow.routing.add_merge_group(early)
            uow.routing.add_merge_group(late)
            uow.commit()

        with new_uow() as uow:
            due = [g.id for g in uow.routing.groups_due(AT - timedelta(minutes=1), 10)]
            assert due == [early.id, late.id]
            uow.routing.set_merge_state(early.id, MergeState.RELEASED, AT)
            uow.commit()

        with new_uow() as uow:
            released = uow.routing.get_merge_group(early.id)
            due = [g.id for g in uow.routing.groups_due(AT, 10)]
            assert uow.routing.get_merge_group("01JNOSUCHGROUP000000000000") is None
        assert released is not None
        assert released.state is MergeState.RELEASED
        assert released.updated_at == AT
        assert due == [late.id]

    def test_a_pickup_code_counts_wrong_tries_and_can_be_used_once(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            uow.routing.put_pickup_code(ORDER_A, "hash-1", AT)
            assert uow.routing.count_pickup_attempt(ORDER_A) == 1
            assert uow.routing.count_pickup_attempt(ORDER_A) == 2
            uow.commit()

        with new_uow() as uow:
            assert uow.routing.pickup_code(ORDER_A) == PickupCodeRecord(
                ORDER_A, "hash-1", 2, AT, None
            )
            assert uow.routing.pickup_code(ORDER_B) is None
            assert uow.routing.use_pickup_code(ORDER_A, AT) is True
            assert uow.routing.use_pickup_code(ORDER_A, AT) is False
            assert uow.routing.use_pickup_code(ORDER_B, AT) is False
            uow.routing.put_pickup_code(ORDER_B, "hash-b", AT)
            uow.routing.put_pickup_code(ORDER_B, "hash-b2", AT + timedelta(hours=1))
            uow.commit()

        with new_uow() as uow:
            reissued = uow.routing.pickup_code(ORDER_B)
            used = uow.routing.pickup_code(ORDER_A)
        assert reissued == PickupCodeRecord(ORDER_B, "hash-b2", 0, AT + timedelta(hours=1), None)
        assert used is not None
        assert used.used_at == AT

    def test_a_document_keeps_its_newest_body_and_counts_its_versions(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            assert uow.routing.document("review_rules") is None
            assert uow.routing.save_document("review_rules", "[[rule]]\nv = 1", AT) == 1
            assert uow.routing.save_document("review_rules", "[[rule]]\nv = 2", AT) == 2
            uow.commit()

        with new_uow() as uow:
            assert uow.routing.document("review_rules") == (2, "[[rule]]\nv = 2")

    def test_stats_count_split_orders_merged_groups_codes_used_and_pickups_expired(
        self, new_uow: UowFactory
    ) -> None:
        group = a_group(1)
        with new_uow() as uow:
            uow.routing.add_fulfilment(a_fulfilment(1, ORDER_A, SH_WH))
            uow.routing.add_fulfilment(a_fulfilment(2, ORDER_A, HZ_WH))
            uow.routing.add_fulfilment(a_fulfilment(3, ORDER_B, SH_WH))
            uow.routing.add_merge_group(group)
            for n in range(3):
                uow.orders.add(an_order_in(group, f"TB-{n}"))
            uow.routing.put_pickup_code(ORDER_B, "hash", AT)
            uow.routing.use_pickup_code(ORDER_B, AT)
            uow.audit.record(
                actor="sweeper",
                action="order.pickup_expired",
                subject="order:X",
                details={},
                at=AT,
            )
            uow.commit()

        with new_uow() as uow:
            assert uow.routing.stats() == {
                "split_orders": 1,
                "merged_groups": 1,
                "merged_orders": 3,
                "picked_up_with_code": 1,
                "pickup_expired": 1,
            }


class TestRoutingRepositoryOnFakes(RoutingRepositoryContract):
    @pytest.fixture
    def uow_factory(self, fake_uow_factory: UowFactory) -> UowFactory:
        return fake_uow_factory


class TestRoutingRepositoryOnSqlite(RoutingRepositoryContract):
    @pytest.fixture
    def uow_factory(self, sqlite_uow_factory: UowFactory) -> UowFactory:
        return sqlite_uow_factory


@pytest.mark.postgres
class TestRoutingRepositoryOnPostgres(RoutingRepositoryContract):
    @pytest.fixture
    def uow_factory(self, postgres_uow_factory: UowFactory) -> UowFactory:
        return postgres_uow_factory
