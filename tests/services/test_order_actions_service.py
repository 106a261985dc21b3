"""Moving an order through its life by actions: stock follows the order, illegal moves fail."""

from __future__ import annotations

import pytest
from retailer import (
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
from omnihub.domain.errors import Conflict, DomainError, ErrorCode, InvalidInput, NotFound
from omnihub.domain.inventory import MovementKind, ReservationState
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import HOLDS_STOCK, IllegalTransition, Order, OrderLine, OrderStatus
from omnihub.domain.values import Money
from omnihub.services import invariants
from omnihub.services.orders import OrderAction, apply_action, get_order, ingest_order

pytestmark = pytest.mark.service

S = OrderStatus


def act(uow: FakeUnitOfWork, clock: FrozenClock, order: Order, action: str) -> Order:
    return apply_action(uow, OrderAction(order.id, action, actor="console:li.lei"), clock)


def ingest(uow: FakeUnitOfWork, clock: FrozenClock, **fields: object) -> Order:
    return ingest_order(lambda: uow, tmall_order(**fields), clock).order  # type: ignore[arg-type]


def test_a_full_life_pay_allocate_release_pick_ship_consumes_the_stock(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = ingest(uow, clock, status=S.CREATED, payment=alipay("TB-1", Money.of("118.00")))
    assert level(uow, SH_WH, TEE).reserved == 0

    paid = act(uow, clock, order, "pay")
    assert paid.status is S.ALLOCATED  # paying allocates; it waits to merge with her others
    assert level(uow, SH_WH, TEE).reserved == 2
    for action, status in [("release", S.RELEASED), ("pick", S.PICKED), ("ship", S.SHIPPED)]:
        assert act(uow, clock, order, action).status is status

    after = level(uow, SH_WH, TEE)
    assert (after.on_hand, after.reserved) == (RECEIVED[(SH_WH, TEE)] - 2, 0)
    with uow:
        newest = uow.stock.ledger(TEE, limit=1)[0]
        (reservation,) = uow.reservations.for_order(order.id, active_only=False)
    assert (newest.kind, newest.qty, newest.location) == (MovementKind.SALE, -2, SH_WH)
    assert newest.reference == f"order:{order.id}:{reservation.id}"
    assert reservation.state is ReservationState.CONSUMED
    assert invariants.check_books(uow).balanced


def test_a_pickup_order_consumes_its_stores_stock_when_collected_with_its_code(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = ingest_order(
        lambda: uow, tmall_order(delivery=DeliveryMode.PICKUP, pickup_location=SH_STORE), clock
    )
    assert result.order.status is S.RELEASED
    assert result.pickup_code is not None
    act(uow, clock, result.order, "pick")

    collected = apply_action(
        uow, OrderAction(result.order.id, "pickup", details={"code": result.pickup_code}), clock
    )
    completed = act(uow, clock, collected, "complete")

    assert collected.status is S.DELIVERED
    assert completed.status is S.COMPLETED
    store = level(uow, SH_STORE, TEE)
    assert (store.on_hand, store.reserved) == (RECEIVED[(SH_STORE, TEE)] - 2, 0)
    assert invariants.check_books(uow).balanced


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ([], "ship"),
        ([], "pick"),
        (["release"], "allocate"),
        (["release", "pick", "ship"], "cancel"),
    ],
)
def test_an_illegal_action_is_refused_and_changes_nothing(
    uow: FakeUnitOfWork, clock: FrozenClock, path: list[str], action: str
) -> None:
    order = ingest(uow, clock)
    for step in path:
        order = act(uow, clock, order, step)
    before = level(uow, SH_WH, TEE)
    outbox_before = len(uow.committed.outbox)

    with pytest.raises(DomainError) as refused:
        act(uow, clock, order, action)

    assert refused.value.code is ErrorCode.ILLEGAL_TRANSITION
    stored, _ = get_order(uow, order.id)
    assert stored.status is order.status
    assert stored.version == order.version
    assert level(uow, SH_WH, TEE) == before
    assert len(uow.committed.outbox) == outbox_before


def test_shipping_an_unpaid_order_is_an_illegal_transition_naming_what_it_can_do(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = ingest(uow, clock, status=S.CREATED)

    with pytest.raises(IllegalTransition, match="can become: cancelled, held, paid"):
        act(uow, clock, order, "ship")


def test_an_unknown_action_is_refused_with_the_list_of_actions(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = ingest(uow, clock)

    with pytest.raises(InvalidInput, match="actions are: pay, hold") as refused:
        act(uow, clock, order, "teleport")
    assert refused.value.code is ErrorCode.UNKNOWN_ACTION


def test_an_action_on_an_order_that_does_not_exist_is_not_found(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    with pytest.raises(NotFound):
        apply_action(uow, OrderAction("01JNOSUCHORDER000000000000", "pay"), clock)


@pytest.mark.parametrize("action", ["cancel", "refund"])
def test_cancelling_or_refunding_an_allocated_order_gives_its_stock_back(
    uow: FakeUnitOfWork, clock: FrozenClock, action: str
) -> None:
    order = ingest(uow, clock)

    ended = act(uow, clock, order, action)

    assert ended.status in (S.CANCELLED, S.REFUNDED)
    assert level(uow, SH_WH, TEE).reserved == 0
    assert invariants.check_books(uow).balanced


def test_holding_an_allocated_order_gives_its_stock_back_and_releasing_takes_it_again(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = ingest(uow, clock)

    held = act(uow, clock, order, "hold")
    assert held.status is S.HELD
    assert held.hold_reason == "manual"
    assert level(uow, SH_WH, TEE).reserved == 0

    resumed = act(uow, clock, order, "release")
    assert resumed.status is S.ALLOCATED
    assert resumed.hold_reason is None
    assert level(uow, SH_WH, TEE).reserved == 2
    assert invariants.check_books(uow).balanced


def test_an_order_already_handed_to_its_node_cannot_be_held(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = act(uow, clock, ingest(uow, clock), "release")

    with pytest.raises(Conflict, match="cancel it there instead"):
        act(uow, clock, order, "hold")
    assert level(uow, SH_WH, TEE).reserved == 2


def test_releasing_a_held_order_whose_lines_are_still_unmapped_is_refused(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = ingest(uow, clock, lines=[("TM-CAP-RED", 1)])
    assert order.hold_reason == "unmapped_sku"

    with pytest.raises(Conflict, match="TM-CAP-RED"):
        act(uow, clock, order, "release")


def test_paying_again_an_order_held_for_an_unmapped_listing_is_refused_and_keeps_the_hold(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = ingest(uow, clock, lines=[("TM-TEE-M", 1), ("TM-CAP-RED", 1)])

    with pytest.raises(DomainError) as refused:
        act(uow, clock, order, "pay")

    assert refused.value.code is ErrorCode.ILLEGAL_TRANSITION
    stored, reservations = get_order(uow, order.id)
    assert stored.status is S.HELD
    assert stored.hold_reason == "unmapped_sku"
    assert reservations == []
    assert level(uow, SH_WH, TEE).reserved == 0


def test_an_order_held_before_payment_is_paid_while_held_and_allocated_on_release(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = act(uow, clock, ingest(uow, clock, status=S.CREATED), "hold")

    paid = act(uow, clock, order, "pay")
    assert paid.status is S.HELD
    assert paid.is_paid
    assert level(uow, SH_WH, TEE).reserved == 0

    released = act(uow, clock, order, "release")
    assert released.status is S.ALLOCATED
    assert level(uow, SH_WH, TEE).reserved == 2


def test_the_allocate_action_reserves_stock_for_a_paid_order(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = Order.receive(
        id="01JPAIDNOTALLOCATED0000000",
        channel="pos",
        external_id="POS-0001",
        channel_status=S.PAID,
        delivery=DeliveryMode.EXPRESS,
        lines=[OrderLine(1, "POS-TEE", 2, Money.of("59.00"), Money.of("0"), TEE)],
        channel_created_at=clock.now(),
        channel_updated_at=clock.now(),
        at=clock.now(),
        ship_to=SHANGHAI_BUYER,
        total=Money.of("118.00"),
        payment=alipay("POS-0001", Money.of("118.00")),
    )
    with uow:  # stored as paid without allocation, as after a crash between the two
        uow.orders.add(order)
        uow.commit()

    allocated = act(uow, clock, order, "allocate")

    assert allocated.status in HOLDS_STOCK
    assert level(uow, SH_WH, TEE).reserved == 2
    with pytest.raises(Conflict, match="only a paid order can be allocated"):
        act(uow, clock, order, "allocate")


def test_every_action_is_audited_with_its_actor(uow: FakeUnitOfWork, clock: FrozenClock) -> None:
    order = ingest(uow, clock)

    act(uow, clock, order, "release")

    (entry,) = [a for a in uow.committed.audit if a["subject"] == f"order:{order.id}"]
    assert entry["actor"] == "console:li.lei"
    assert entry["action"] == "order.release"
    assert entry["details"]["status"] == "released"
