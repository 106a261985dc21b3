"""Routing use cases on the in-memory fakes: review holds, member-tier service, split shipments,
merges, store pickup (BOPIS) codes and holds, bad input, node capacity and review-rule files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from retailer import (
    CAP,
    HZ_WH,
    MUG,
    RECEIVED,
    SH_STORE,
    SH_WH,
    SHANGHAI_BUYER,
    TEE,
    alipay,
    level,
    tmall_order,
)

from fakes import FakeUnitOfWork, FrozenClock
from omnihub.domain.catalog import ChannelMapping
from omnihub.domain.errors import Conflict, DomainError, ErrorCode, NotFound
from omnihub.domain.inventory import MovementKind, Reservation
from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.orders import Address, Buyer, Order, OrderStatus
from omnihub.domain.routing.fulfilment import (
    PICKUP_MAX_ATTEMPTS,
    Fulfilment,
    FulfilmentStatus,
    MergeGroup,
    MergeState,
)
from omnihub.domain.routing.review import DEFAULT_RULES, RuleFileError
from omnihub.domain.values import Money
from omnihub.services import catalog, invariants, locations, routing
from omnihub.services.inventory import RecordMovement, expire_due, record_movement
from omnihub.services.orders import IngestResult, OrderAction, Outcome, apply_action, ingest_order
from omnihub.services.routing import RoutingPolicy

pytestmark = pytest.mark.service

S = OrderStatus
PAY_WINDOW = 15 * 60
COLLECT_WINDOW = 72 * 3600
MERGE_WINDOW = 60
#: A store in Jing'an a few hundred metres from the buyer that ships parcels too.
JINGAN_STORE = "SH-JINGAN-ST"
#: A warehouse in Minhang that takes one fulfilment a day.
MINHANG_WH = "SH-MINHANG-WH"


@pytest.fixture
def policy() -> RoutingPolicy:
    """Default review rules; no merge window, so an allocated order is released at once."""
    return RoutingPolicy(
        merge_window_seconds=0,
        pickup_pay_seconds=PAY_WINDOW,
        pickup_collect_seconds=COLLECT_WINDOW,
    )


@pytest.fixture
def merging() -> RoutingPolicy:
    """Orders of one buyer to one address within a minute ship together."""
    return RoutingPolicy(merge_window_seconds=MERGE_WINDOW)


def ingest(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy, **fields: Any
) -> IngestResult:
    return ingest_order(lambda: uow, tmall_order(**fields), clock, policy)


def act(
    uow: FakeUnitOfWork,
    clock: FrozenClock,
    policy: RoutingPolicy,
    order_id: str,
    action: str,
    **details: Any,
) -> Order:
    command = OrderAction(order_id, action, actor="console:li.lei", details=details)
    return apply_action(uow, command, clock, policy)


def stored(uow: FakeUnitOfWork, order_id: str) -> Order:
    with uow:
        order = uow.orders.get(order_id)
    assert order is not None
    return order


def reservations_of(uow: FakeUnitOfWork, order_id: str) -> list[Reservation]:
    with uow:
        return uow.reservations.for_order(order_id)


def fulfilments_of(uow: FakeUnitOfWork, order_id: str) -> list[Fulfilment]:
    with uow:
        return uow.routing.fulfilments(order_id)


def decisions_of(uow: FakeUnitOfWork, order_id: str) -> list[dict[str, Any]]:
    with uow:
        return uow.routing.decisions(order_id)


def merge_group(uow: FakeUnitOfWork, group_id: str) -> MergeGroup:
    with uow:
        group = uow.routing.get_merge_group(group_id)
    assert group is not None
    return group


def receive(uow: FakeUnitOfWork, clock: FrozenClock, location: str, sku: str, qty: int) -> None:
    record_movement(
        uow,
        RecordMovement(location, sku, MovementKind.RECEIPT, qty, f"GRN-{location}-{sku}-{qty}"),
        clock,
    )


def books_balance(uow: FakeUnitOfWork) -> bool:
    report = invariants.check_books(uow)
    assert report.violations == []
    return report.balanced


def pickup_order(status: OrderStatus = S.PAID, external_id: str = "TB-BOPIS-1") -> dict[str, Any]:
    """Two white tees to collect at the People's Square store; the payment record comes with
    the order (a created order is paid later by the ``pay`` action)."""
    return {
        "external_id": external_id,
        "status": status,
        "delivery": DeliveryMode.PICKUP,
        "pickup_location": SH_STORE,
        "payment": alipay(external_id, Money.of("118.00")),
    }


def audit_actions(uow: FakeUnitOfWork, order_id: str) -> list[str]:
    return [a["action"] for a in uow.committed.audit if a["subject"] == f"order:{order_id}"]


# -- automatic review -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"remark": "请周六上午送货，谢谢"}, "buyer_remark"),
        (
            {"ship_to": Address(name="王小明", province="上海市", city="上海市")},
            "address_incomplete",
        ),
        ({"payment": None}, "payment_missing"),
        ({"lines": [("TM-TEE-M", 60)]}, "risky_quantity"),
    ],
)
def test_review_holds_a_paid_order_with_the_reason_of_the_rule_and_reserves_nothing(
    uow: FakeUnitOfWork,
    clock: FrozenClock,
    policy: RoutingPolicy,
    fields: dict[str, Any],
    reason: str,
) -> None:
    result = ingest(uow, clock, policy, **fields)

    assert result.outcome is Outcome.HELD
    assert (result.order.status, result.order.hold_reason) == (S.HELD, reason)
    assert result.order.held_from is S.PAID
    assert reservations_of(uow, result.order.id) == []
    assert level(uow, SH_WH, TEE).reserved == 0
    (decision,) = decisions_of(uow, result.order.id)
    assert decision["outcome"] == f"held:{reason}"
    assert reason in {finding["hold"] for finding in decision["explanation"]["review"]}


def test_a_person_releasing_a_reviewed_order_lets_it_through_without_a_second_review(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    held = ingest(uow, clock, policy, remark="放门卫室").order
    assert held.hold_reason == "buyer_remark"

    released = act(uow, clock, policy, held.id, "release")

    assert released.status is S.RELEASED  # allocated and handed over: the remark was read
    assert released.hold_reason is None
    assert released.remark == "放门卫室"
    assert [r.qty for r in reservations_of(uow, held.id)] == [2]
    assert level(uow, SH_WH, TEE).reserved == 2
    assert [d["outcome"] for d in decisions_of(uow, held.id)] == ["held:buyer_remark", "allocated"]
    (entry,) = [a for a in uow.committed.audit if a["action"] == "order.release"]
    assert entry["actor"] == "console:li.lei"
    assert entry["subject"] == f"order:{held.id}"
    assert entry["details"]["status"] == "released"
    assert books_balance(uow)


def test_a_pickup_order_paid_after_its_store_reserved_it_is_still_reviewed(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    unpaid = ingest(uow, clock, policy, **pickup_order(S.CREATED), remark="帮我包成礼物").order
    assert unpaid.status is S.CREATED
    assert level(uow, SH_STORE, TEE).reserved == 2

    paid = act(uow, clock, policy, unpaid.id, "pay")

    # the same order paid at once would be held for its remark: paying later must not skip review
    assert (paid.status, paid.hold_reason) == (S.HELD, "buyer_remark")
    assert reservations_of(uow, unpaid.id) == []  # a held order holds no stock
    assert level(uow, SH_STORE, TEE).reserved == 0
    assert {f.status for f in fulfilments_of(uow, unpaid.id)} == {FulfilmentStatus.CANCELLED}
    assert books_balance(uow)

    released = act(uow, clock, policy, unpaid.id, "release")
    assert released.status is S.RELEASED
    assert level(uow, SH_STORE, TEE).reserved == 2
    assert books_balance(uow)


# -- member tier ----------------------------------------------------------------------------------


def _add_jingan_store(uow: FakeUnitOfWork, clock: FrozenClock) -> None:
    """A ship-from-store store next to the buyer, with tees and caps."""
    locations.add_location(
        uow,
        Location(
            JINGAN_STORE,
            "静安店",
            LocationType.STORE,
            31.2290,
            121.4490,
            frozenset({Service.SHIP, Service.PICKUP}),
        ),
    )
    catalog.add_mapping(uow, ChannelMapping("tmall", "TM-CAP-RED", CAP), clock)
    receive(uow, clock, JINGAN_STORE, TEE, 5)
    receive(uow, clock, JINGAN_STORE, CAP, 5)


def test_a_vip_gets_next_day_service_from_the_warehouse_rather_than_the_nearer_store(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    _add_jingan_store(uow, clock)
    regular = ingest(uow, clock, policy, external_id="TB-REGULAR").order
    vip_buyer = Buyer(channel_buyer_id="tb_vip_88", name="李娜", tier="VIP")

    vip = ingest(uow, clock, policy, external_id="TB-VIP", buyer=vip_buyer).order

    assert [f.location for f in fulfilments_of(uow, regular.id)] == [JINGAN_STORE]
    assert regular.service_level is None
    assert [f.location for f in fulfilments_of(uow, vip.id)] == [SH_WH]
    assert vip.service_level == "next_day"
    explanation = decisions_of(uow, vip.id)[-1]["explanation"]
    assert explanation["service"] == {
        "tier": "vip",
        "service_level": "next_day",
        "free_shipping": True,
        "prefer_warehouse": True,
    }
    assert books_balance(uow)


def test_a_vip_is_served_from_a_store_when_no_warehouse_has_the_goods(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    _add_jingan_store(uow, clock)
    vip_buyer = Buyer(channel_buyer_id="tb_vip_88", name="李娜", tier="vip")

    vip = ingest(uow, clock, policy, lines=[("TM-CAP-RED", 1)], buyer=vip_buyer).order

    assert vip.status is S.RELEASED
    assert vip.service_level == "next_day"
    assert [f.location for f in fulfilments_of(uow, vip.id)] == [JINGAN_STORE]


# -- split shipments ------------------------------------------------------------------------------


def test_a_split_order_has_one_fulfilment_per_node_and_each_ships_its_own_part(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    order = ingest(uow, clock, policy, lines=[("TM-TEE-M", 2), ("TM-MUG", 1)]).order
    assert order.status is S.RELEASED
    hangzhou, shanghai = fulfilments_of(uow, order.id)
    assert (hangzhou.location, hangzhou.lines) == (HZ_WH, [{"line_no": 2, "sku": MUG, "qty": 1}])
    assert (shanghai.location, shanghai.lines) == (SH_WH, [{"line_no": 1, "sku": TEE, "qty": 2}])
    assert {hangzhou.status, shanghai.status} == {FulfilmentStatus.RELEASED}
    assert hangzhou.shipment != shanghai.shipment

    part, after_part = routing.ship_fulfilment(
        uow, shanghai.id, clock.now(), carrier="SF", tracking_number="SF1001"
    )

    assert (part.status, part.carrier, part.tracking_number) == (
        FulfilmentStatus.SHIPPED,
        "SF",
        "SF1001",
    )
    assert after_part.status is S.RELEASED
    sh = level(uow, SH_WH, TEE)
    assert (sh.on_hand, sh.reserved) == (RECEIVED[(SH_WH, TEE)] - 2, 0)
    hz = level(uow, HZ_WH, MUG)
    assert (hz.on_hand, hz.reserved) == (RECEIVED[(HZ_WH, MUG)], 1)  # untouched until it ships
    assert stored(uow, order.id).status is S.RELEASED
    assert books_balance(uow)  # a partly shipped order holds only what is left to ship

    _, after_last = routing.ship_fulfilment(
        uow, hangzhou.id, clock.now(), carrier="ZTO", tracking_number="ZT2002"
    )

    assert after_last.status is S.SHIPPED
    assert stored(uow, order.id).status is S.SHIPPED
    hz = level(uow, HZ_WH, MUG)
    assert (hz.on_hand, hz.reserved) == (RECEIVED[(HZ_WH, MUG)] - 1, 0)
    assert {f.status for f in fulfilments_of(uow, order.id)} == {FulfilmentStatus.SHIPPED}
    assert [a for a in audit_actions(uow, order.id) if a == "fulfilment.shipped"] == [
        "fulfilment.shipped"
    ] * 2
    assert books_balance(uow)


def test_a_part_that_shipped_already_or_does_not_exist_cannot_ship(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    order = ingest(uow, clock, policy, lines=[("TM-TEE-M", 2), ("TM-MUG", 1)]).order
    (first,) = [f for f in fulfilments_of(uow, order.id) if f.location == SH_WH]
    routing.ship_fulfilment(uow, first.id, clock.now(), carrier="SF", tracking_number="SF1")

    with pytest.raises(Conflict) as twice:
        routing.ship_fulfilment(uow, first.id, clock.now(), carrier="SF", tracking_number="SF1")
    with pytest.raises(NotFound):
        routing.ship_fulfilment(
            uow, "01JNOSUCHFULFILMENT0000000", clock.now(), carrier=None, tracking_number=None
        )

    assert twice.value.code is ErrorCode.ILLEGAL_TRANSITION
    assert level(uow, SH_WH, TEE).on_hand == RECEIVED[(SH_WH, TEE)] - 2
    assert books_balance(uow)


def test_a_part_waiting_in_its_merge_window_cannot_ship_yet(
    uow: FakeUnitOfWork, clock: FrozenClock, merging: RoutingPolicy
) -> None:
    order = ingest(uow, clock, merging).order
    (part,) = fulfilments_of(uow, order.id)
    assert (order.status, part.status) == (S.ALLOCATED, FulfilmentStatus.PENDING)

    with pytest.raises(Conflict, match="only a released one can ship"):
        routing.ship_fulfilment(uow, part.id, clock.now(), carrier=None, tracking_number=None)
    assert level(uow, SH_WH, TEE).reserved == 2


# -- merges ---------------------------------------------------------------------------------------


def _two_orders_of_one_buyer(
    uow: FakeUnitOfWork, clock: FrozenClock, merging: RoutingPolicy
) -> tuple[Order, Order]:
    first = ingest(uow, clock, merging, external_id="TB-MERGE-1").order
    clock.advance(timedelta(seconds=MERGE_WINDOW / 2))
    second = ingest(
        uow, clock, merging, external_id="TB-MERGE-2", lines=[("TM-TEE-M", 1), ("TM-MUG", 1)]
    ).order
    return first, second


def test_two_paid_orders_of_one_buyer_to_one_address_within_the_window_ship_together(
    uow: FakeUnitOfWork, clock: FrozenClock, merging: RoutingPolicy
) -> None:
    first, second = _two_orders_of_one_buyer(uow, clock, merging)

    assert (first.status, second.status) == (S.ALLOCATED, S.ALLOCATED)
    assert first.merge_group is not None
    assert second.merge_group == first.merge_group
    assert merge_group(uow, first.merge_group).order_ids == sorted([first.id, second.id])
    assert routing.release_due(uow, clock.now(), merging) == 0  # the window is still open
    assert stored(uow, first.id).status is S.ALLOCATED

    clock.advance(timedelta(seconds=MERGE_WINDOW / 2 + 1))
    assert routing.release_due(uow, clock.now(), merging) == 2

    assert (stored(uow, first.id).status, stored(uow, second.id).status) == (
        S.RELEASED,
        S.RELEASED,
    )
    assert merge_group(uow, first.merge_group).state is MergeState.RELEASED
    (first_sh,) = fulfilments_of(uow, first.id)
    second_hz, second_sh = fulfilments_of(uow, second.id)
    assert (first_sh.location, second_sh.location, second_hz.location) == (SH_WH, SH_WH, HZ_WH)
    assert first_sh.shipment == second_sh.shipment  # one parcel from Shanghai
    assert second_hz.shipment != first_sh.shipment
    assert routing.release_due(uow, clock.now(), merging) == 0
    assert books_balance(uow)


def test_an_order_after_the_window_or_to_another_address_is_not_merged(
    uow: FakeUnitOfWork, clock: FrozenClock, merging: RoutingPolicy
) -> None:
    first = ingest(uow, clock, merging, external_id="TB-M-1").order
    elsewhere = Address(
        name="王小明",
        phone="13800138000",
        province="浙江省",
        city="杭州市",
        district="西湖区",
        address="文三路90号",
        lat=30.2800,
        lon=120.1300,
    )
    other_address = ingest(uow, clock, merging, external_id="TB-M-2", ship_to=elsewhere).order
    clock.advance(timedelta(seconds=MERGE_WINDOW + 1))
    late = ingest(uow, clock, merging, external_id="TB-M-3").order

    groups = {first.merge_group, other_address.merge_group, late.merge_group}
    assert None not in groups
    assert len(groups) == 3


def test_a_person_releasing_one_merged_order_hands_over_the_whole_group(
    uow: FakeUnitOfWork, clock: FrozenClock, merging: RoutingPolicy
) -> None:
    first, second = _two_orders_of_one_buyer(uow, clock, merging)

    act(uow, clock, merging, second.id, "release")

    assert (stored(uow, first.id).status, stored(uow, second.id).status) == (
        S.RELEASED,
        S.RELEASED,
    )
    (first_sh,) = fulfilments_of(uow, first.id)
    _, second_sh = fulfilments_of(uow, second.id)
    assert first_sh.shipment == second_sh.shipment
    assert first.merge_group is not None
    assert merge_group(uow, first.merge_group).state is MergeState.RELEASED


def test_unmerging_before_release_ships_each_order_on_its_own(
    uow: FakeUnitOfWork, clock: FrozenClock, merging: RoutingPolicy
) -> None:
    first, second = _two_orders_of_one_buyer(uow, clock, merging)
    assert first.merge_group is not None

    group = routing.unmerge(uow, first.merge_group, clock.now(), actor="console:han.mei")

    assert group.state is MergeState.UNMERGED
    assert merge_group(uow, first.merge_group).state is MergeState.UNMERGED
    apart = {stored(uow, first.id).merge_group, stored(uow, second.id).merge_group}
    assert len(apart) == 2
    assert first.merge_group not in apart
    (entry,) = [a for a in uow.committed.audit if a["action"] == "merge.unmerged"]
    assert entry["actor"] == "console:han.mei"
    assert sorted(entry["details"]["orders"]) == sorted([first.id, second.id])

    clock.advance(timedelta(seconds=MERGE_WINDOW + 1))
    assert routing.release_due(uow, clock.now(), merging) == 2

    (first_sh,) = fulfilments_of(uow, first.id)
    _, second_sh = fulfilments_of(uow, second.id)
    assert first_sh.status is second_sh.status is FulfilmentStatus.RELEASED
    assert first_sh.shipment != second_sh.shipment  # two parcels now
    assert books_balance(uow)


def test_unmerging_after_release_is_refused(
    uow: FakeUnitOfWork, clock: FrozenClock, merging: RoutingPolicy
) -> None:
    first, _ = _two_orders_of_one_buyer(uow, clock, merging)
    assert first.merge_group is not None
    clock.advance(timedelta(seconds=MERGE_WINDOW + 1))
    routing.release_due(uow, clock.now(), merging)

    with pytest.raises(Conflict, match="only an open group") as refused:
        routing.unmerge(uow, first.merge_group, clock.now())
    with pytest.raises(NotFound):
        routing.unmerge(uow, "01JNOSUCHGROUP000000000000", clock.now())

    assert refused.value.code is ErrorCode.ILLEGAL_TRANSITION
    assert merge_group(uow, first.merge_group).state is MergeState.RELEASED
    assert [a for a in uow.committed.audit if a["action"] == "merge.unmerged"] == []


# -- store pickup (BOPIS) -------------------------------------------------------------------------


def test_an_unpaid_pickup_order_holds_its_stores_stock_for_the_payment_window(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    result = ingest(uow, clock, policy, **pickup_order(S.CREATED))

    assert result.order.status is S.CREATED
    assert result.pickup_code is not None
    assert result.pickup_code.isdigit()
    assert len(result.pickup_code) == 8
    (reservation,) = reservations_of(uow, result.order.id)
    assert (reservation.location, reservation.sku, reservation.qty) == (SH_STORE, TEE, 2)
    assert reservation.expires_at == clock.now() + timedelta(seconds=PAY_WINDOW)
    assert level(uow, SH_WH, TEE).reserved == 0
    assert books_balance(uow)


def test_paying_a_pickup_order_extends_its_hold_to_the_pickup_deadline(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    order = ingest(uow, clock, policy, **pickup_order(S.CREATED)).order
    clock.advance(timedelta(minutes=10))

    paid = act(uow, clock, policy, order.id, "pay")

    assert paid.status is S.RELEASED
    (reservation,) = reservations_of(uow, order.id)
    assert reservation.expires_at == clock.now() + timedelta(seconds=COLLECT_WINDOW)
    clock.advance(timedelta(minutes=10))  # past the payment window: the hold stays
    assert expire_due(uow, clock) == []
    assert level(uow, SH_STORE, TEE).reserved == 2


def test_collecting_with_the_right_code_delivers_the_order_and_the_code_works_once(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    result = ingest(uow, clock, policy, **pickup_order(S.CREATED))
    act(uow, clock, policy, result.order.id, "pay")
    assert result.pickup_code is not None

    collected = act(uow, clock, policy, result.order.id, "pickup", code=result.pickup_code)

    assert collected.status is S.DELIVERED
    store = level(uow, SH_STORE, TEE)
    assert (store.on_hand, store.reserved) == (RECEIVED[(SH_STORE, TEE)] - 2, 0)
    assert {f.status for f in fulfilments_of(uow, collected.id)} == {FulfilmentStatus.DELIVERED}
    assert "order.picked_up" in audit_actions(uow, collected.id)
    with pytest.raises(DomainError):
        act(uow, clock, policy, result.order.id, "pickup", code=result.pickup_code)
    assert level(uow, SH_STORE, TEE) == store
    assert books_balance(uow)


def test_a_wrong_code_is_refused_and_counted_and_the_fifth_locks_even_the_right_code(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    result = ingest(uow, clock, policy, **pickup_order())
    code = result.pickup_code
    assert code is not None
    wrong = f"{(int(code) + 1) % 10**8:08d}"

    for attempt in range(1, PICKUP_MAX_ATTEMPTS + 1):
        with pytest.raises(routing.WrongPickupCode) as refused:
            act(uow, clock, policy, result.order.id, "pickup", code=wrong)
        assert refused.value.code is ErrorCode.WRONG_PICKUP_CODE
        assert refused.value.details == {
            "attempts": attempt,
            "tries_left": PICKUP_MAX_ATTEMPTS - attempt,
        }
    with pytest.raises(DomainError) as locked:
        act(uow, clock, policy, result.order.id, "pickup", code=code)

    assert locked.value.code is ErrorCode.PICKUP_CODE_LOCKED
    assert stored(uow, result.order.id).status is S.RELEASED
    assert level(uow, SH_STORE, TEE).reserved == 2
    refusals = [a for a in audit_actions(uow, result.order.id) if a == "order.pickup_refused"]
    assert len(refusals) == PICKUP_MAX_ATTEMPTS

    new_code = routing.reissue_pickup_code(uow, result.order.id, clock.now())

    assert "order.pickup_code_reissued" in audit_actions(uow, result.order.id)
    if new_code != code:  # one chance in 10^8 that the new code is the old one
        with pytest.raises(routing.WrongPickupCode):
            act(uow, clock, policy, result.order.id, "pickup", code=code)
    collected = act(uow, clock, policy, result.order.id, "pickup", code=new_code)
    assert collected.status is S.DELIVERED
    assert books_balance(uow)


def test_a_pickup_action_without_a_code_or_for_a_parcel_order_is_refused(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    bopis = ingest(uow, clock, policy, **pickup_order()).order
    parcel = ingest(uow, clock, policy, external_id="TB-PARCEL").order

    with pytest.raises(DomainError, match="pickup code"):
        act(uow, clock, policy, bopis.id, "pickup", code="  ")
    with pytest.raises(Conflict, match="not a store pickup order"):
        act(uow, clock, policy, parcel.id, "pickup", code="12345678")
    assert stored(uow, bopis.id).status is S.RELEASED


def _expire(uow: FakeUnitOfWork, clock: FrozenClock) -> int:
    """The sweeper's two steps, as the background worker runs them."""
    expired = expire_due(uow, clock)
    order_ids = sorted({r.order_id for r in expired if r.order_id})
    return routing.expire_pickup_holds(uow, order_ids, clock.now())


def test_an_unpaid_pickup_hold_that_runs_out_gives_the_stock_back_and_cancels_the_order(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    result = ingest(uow, clock, policy, **pickup_order(S.CREATED))
    clock.advance(timedelta(seconds=PAY_WINDOW - 1))
    assert _expire(uow, clock) == 0
    clock.advance(timedelta(seconds=1))

    assert _expire(uow, clock) == 1

    order = stored(uow, result.order.id)
    assert (order.status, order.hold_reason) == (S.CANCELLED, "pickup_expired")
    assert "not paid in time" in order.transitions[-1].cause
    assert level(uow, SH_STORE, TEE).reserved == 0
    assert {f.status for f in fulfilments_of(uow, order.id)} == {FulfilmentStatus.CANCELLED}
    assert "order.pickup_expired" in audit_actions(uow, order.id)
    with pytest.raises(DomainError):
        act(uow, clock, policy, order.id, "pickup", code=result.pickup_code)
    assert books_balance(uow)


def test_a_paid_pickup_not_collected_by_the_deadline_is_cancelled_and_says_why(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    order = ingest(uow, clock, policy, **pickup_order()).order
    clock.advance(timedelta(seconds=COLLECT_WINDOW))

    assert _expire(uow, clock) == 1

    cancelled = stored(uow, order.id)
    assert (cancelled.status, cancelled.hold_reason) == (S.CANCELLED, "pickup_expired")
    assert "not collected by the deadline" in cancelled.transitions[-1].cause
    store = level(uow, SH_STORE, TEE)
    assert (store.on_hand, store.reserved) == (RECEIVED[(SH_STORE, TEE)], 0)
    assert books_balance(uow)


def test_a_payment_between_the_sweep_and_the_cancellation_keeps_the_paid_order(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    order = ingest(uow, clock, policy, **pickup_order(S.CREATED)).order
    clock.advance(timedelta(seconds=PAY_WINDOW))
    expired = expire_due(uow, clock)  # one worker's sweep released the hold...
    paid = act(uow, clock, policy, order.id, "pay")  # ...the buyer paid in another worker...
    assert paid.status is S.RELEASED  # and the store's stock was reserved again

    routing.expire_pickup_holds(uow, [r.order_id for r in expired if r.order_id], clock.now())

    after = stored(uow, order.id)
    assert after.status is S.RELEASED  # a paid order with a fresh hold is not cancelled
    assert [r.qty for r in reservations_of(uow, order.id)] == [2]
    assert level(uow, SH_STORE, TEE).reserved == 2
    assert books_balance(uow)


def test_a_code_shown_after_the_hold_was_released_does_not_hand_over_unreserved_goods(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    result = ingest(uow, clock, policy, **pickup_order())
    clock.advance(timedelta(seconds=COLLECT_WINDOW))
    expire_due(uow, clock)  # the sweep released the store's stock; the order is not cancelled yet

    with pytest.raises(DomainError):
        act(uow, clock, policy, result.order.id, "pickup", code=result.pickup_code)

    store = level(uow, SH_STORE, TEE)
    assert (store.on_hand, store.reserved) == (RECEIVED[(SH_STORE, TEE)], 0)
    assert routing.expire_pickup_holds(uow, [result.order.id], clock.now()) == 1
    assert stored(uow, result.order.id).status is S.CANCELLED
    assert books_balance(uow)


# -- bad input is a hold with the reason, never an exception -------------------------------------


NO_COORDINATES = Address(
    name="王小明",
    phone="13800138000",
    province="上海市",
    city="上海市",
    district="静安区",
    address="南京西路1266号",
)


@pytest.mark.parametrize(
    ("status", "fields", "reason"),
    [
        (S.PAID, {"pickup_location": "BJ-WANGFUJING"}, "unknown_pickup_store"),
        (S.CREATED, {"pickup_location": "BJ-WANGFUJING"}, "unknown_pickup_store"),
        (S.PAID, {"pickup_location": SH_WH}, "pickup_not_offered"),
        (S.CREATED, {"pickup_location": HZ_WH}, "pickup_not_offered"),
        (S.PAID, {"delivery": DeliveryMode.SAME_DAY, "ship_to": NO_COORDINATES}, "no_coordinates"),
    ],
)
def test_an_order_that_cannot_be_routed_as_asked_is_held_with_the_reason(
    uow: FakeUnitOfWork,
    clock: FrozenClock,
    policy: RoutingPolicy,
    status: OrderStatus,
    fields: dict[str, Any],
    reason: str,
) -> None:
    asked = {**pickup_order(status), **fields}
    if asked["delivery"] is not DeliveryMode.PICKUP:
        del asked["pickup_location"]

    result = ingest(uow, clock, policy, **asked)

    assert result.outcome is Outcome.HELD
    order = stored(uow, result.order.id)
    assert (order.status, order.hold_reason) == (S.HELD, reason)
    assert result.pickup_code is None
    assert reservations_of(uow, order.id) == []
    decision = decisions_of(uow, order.id)[-1]
    assert decision["outcome"] == f"held:{reason}"
    assert decision["explanation"]["why"]
    assert books_balance(uow)


def test_a_pickup_at_a_store_that_serves_other_channels_only_is_not_offered_rather_than_short(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    jd_store = "SZ-GUANQIAN-JD"
    locations.add_location(
        uow,
        Location(
            jd_store,
            "观前街京东之家",
            LocationType.STORE,
            31.3110,
            120.6200,
            frozenset({Service.PICKUP}),
            channels=frozenset({"jd"}),
        ),
    )
    receive(uow, clock, jd_store, TEE, 5)  # the goods are there: shortage is not the reason

    result = ingest(uow, clock, policy, **{**pickup_order(), "pickup_location": jd_store})

    assert (result.order.status, result.order.hold_reason) == (S.HELD, "pickup_not_offered")
    assert "tmall" in decisions_of(uow, result.order.id)[-1]["explanation"]["why"]
    assert level(uow, jd_store, TEE).reserved == 0


def test_a_same_day_order_is_served_by_a_store_within_the_radius(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    order = ingest(uow, clock, policy, delivery=DeliveryMode.SAME_DAY, ship_to=SHANGHAI_BUYER).order

    assert order.status is S.RELEASED
    assert [f.location for f in fulfilments_of(uow, order.id)] == [SH_STORE]


# -- capacity -------------------------------------------------------------------------------------


def test_a_node_whose_daily_capacity_is_used_up_passes_the_next_order_to_the_next_node(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    locations.add_location(
        uow,
        Location(
            MINHANG_WH,
            "闵行仓",
            LocationType.WAREHOUSE,
            31.1120,
            121.3820,
            frozenset({Service.SHIP}),
            capacity_per_day=1,
        ),
    )
    catalog.add_mapping(uow, ChannelMapping("tmall", "TM-CAP-RED", CAP), clock)
    receive(uow, clock, MINHANG_WH, CAP, 5)
    receive(uow, clock, HZ_WH, CAP, 5)

    first = ingest(uow, clock, policy, external_id="TB-CAP-1", lines=[("TM-CAP-RED", 1)]).order
    second = ingest(uow, clock, policy, external_id="TB-CAP-2", lines=[("TM-CAP-RED", 1)]).order

    assert [f.location for f in fulfilments_of(uow, first.id)] == [MINHANG_WH]
    assert [f.location for f in fulfilments_of(uow, second.id)] == [HZ_WH]
    explanation = decisions_of(uow, second.id)[-1]["explanation"]
    assert explanation["rejected"]["capacity_full"] == 1
    assert level(uow, MINHANG_WH, CAP).reserved == 1
    assert level(uow, HZ_WH, CAP).reserved == 1

    clock.advance(timedelta(days=1))  # a new day: the node takes orders again
    third = ingest(uow, clock, policy, external_id="TB-CAP-3", lines=[("TM-CAP-RED", 1)]).order
    assert [f.location for f in fulfilments_of(uow, third.id)] == [MINHANG_WH]


# -- review rule files ----------------------------------------------------------------------------

ONLY_BLACKLIST = """\
[[rule]]
when = "blacklisted"
buyers = ["tb_scalper_007"]
hold = "blacklisted"
"""

BAD_CONDITION = """\
[[rule]]
when = "buyer_remark"

[[rule]]
when = "moon_phase"
hold = "astrology"
"""


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (BAD_CONDITION, 4, "moon_phase"),
        ('[[rule]]\nwhen = "total_above"\namount = 5000.0\n', 1, "amount"),
        ('[[rule]]\nwhen = "buyer_remark"\nhold = \n', 3, ""),
    ],
)
def test_a_bad_rule_file_is_refused_with_its_line_and_the_old_rules_stay(
    uow: FakeUnitOfWork,
    clock: FrozenClock,
    policy: RoutingPolicy,
    text: str,
    line: int,
    problem: str,
) -> None:
    before = policy.rules

    with pytest.raises(RuleFileError) as refused:
        routing.replace_review_rules(uow, text, clock.now(), policy)

    assert refused.value.details["line"] == line
    assert f"line {line}" in refused.value.message
    assert problem in refused.value.details["problem"]
    assert policy.rules is before
    assert policy.rules_version == 0
    assert uow.committed.documents == {}
    assert [a for a in uow.committed.audit if a["action"] == "rules.review_replaced"] == []
    held = ingest(uow, clock, policy, remark="还是要审").order
    assert held.hold_reason == "buyer_remark"


def test_new_rules_change_what_is_held_and_other_workers_pick_them_up(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    other_worker = RoutingPolicy(merge_window_seconds=0)

    rules, version = routing.replace_review_rules(
        uow, ONLY_BLACKLIST, clock.now(), policy, actor="ops"
    )

    assert [(r.when, r.hold) for r in rules.rules] == [("blacklisted", "blacklisted")]
    assert version == policy.rules_version == 1
    (entry,) = [a for a in uow.committed.audit if a["action"] == "rules.review_replaced"]
    assert entry["actor"] == "ops"
    remark = ingest(uow, clock, policy, external_id="TB-R-1", remark="请快点").order
    assert remark.status is S.RELEASED  # no remark rule any more
    scalper = Buyer(channel_buyer_id="tb_scalper_007")
    blocked = ingest(uow, clock, policy, external_id="TB-R-2", buyer=scalper).order
    assert (blocked.status, blocked.hold_reason) == (S.HELD, "blacklisted")

    assert other_worker.rules.source == DEFAULT_RULES
    assert routing.sync_review_rules(uow, other_worker) is True
    assert other_worker.rules.source == ONLY_BLACKLIST
    assert other_worker.rules_version == 1
    assert routing.sync_review_rules(uow, other_worker) is False


def test_rules_a_slower_worker_stored_earlier_never_replace_newer_rules_in_force(
    uow: FakeUnitOfWork, clock: FrozenClock, policy: RoutingPolicy
) -> None:
    other_worker = RoutingPolicy(merge_window_seconds=0)
    older, _ = routing.replace_review_rules(uow, ONLY_BLACKLIST, clock.now(), policy)
    _, version = routing.replace_review_rules(uow, DEFAULT_RULES, clock.now(), other_worker)
    assert version == 2

    assert routing.sync_review_rules(uow, policy) is True
    assert policy.adopt(older, 1) is False  # a thread that saved version 1 finishing late

    assert (policy.rules.source, policy.rules_version) == (DEFAULT_RULES, 2)
    assert routing.sync_review_rules(uow, policy) is False
