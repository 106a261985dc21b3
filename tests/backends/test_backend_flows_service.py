"""The back-end flows as use cases on the in-memory fakes: a warehouse's confirmations ship
fulfilments, a rider's statuses deliver (or give back) store orders, receipts and counts move
the ledger once, and the full compare lists and, by rule, corrects differences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fakes import FakeUnitOfWork, FrozenClock
from omnihub.adapters.backends.config import parse_backend
from omnihub.domain import events as ev
from omnihub.domain.backends import (
    DeliveryConfirmation,
    ErpDocState,
    ErpRef,
    InboundReceipt,
    Line,
    Package,
    Position,
    Rider,
    RiderState,
    RiderStatus,
    StockAdjustment,
    StockLine,
    StockSnapshot,
    StockTake,
)
from omnihub.domain.catalog import Sku
from omnihub.domain.errors import Conflict, NotFound
from omnihub.domain.inventory import MovementKind
from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.orders import (
    Address,
    Buyer,
    IncomingLine,
    IngestOrder,
    Order,
    OrderStatus,
    Payment,
)
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus
from omnihub.domain.values import Money
from omnihub.ports import BackendConfig, InvalidBackendConfig
from omnihub.services import backends as flows
from omnihub.services import catalog, locations
from omnihub.services.backends import BackendRules, CompareMode
from omnihub.services.inventory import RecordMovement, record_movement
from omnihub.services.orders import OrderAction, apply_action, ingest_order
from omnihub.services.routing import RoutingPolicy

pytestmark = pytest.mark.service

WH, STORE = "SH-WH", "SH-STORE"
TEE, MUG = "TEE-WHITE-M", "MUG-CLASSIC"
BUYER_AT = Address(
    name="王小明",
    phone="13800138000",
    province="上海市",
    city="上海市",
    district="静安区",
    address="南京西路1266号",
    lat=31.2286,
    lon=121.4482,
)
NOW_POLICY = RoutingPolicy(merge_window_seconds=0)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def uow(clock: FrozenClock) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    locations.add_location(
        uow,
        Location(WH, "上海仓", LocationType.WAREHOUSE, 31.37, 121.27, frozenset({Service.SHIP})),
    )
    locations.add_location(
        uow,
        Location(
            STORE,
            "人民广场店",
            LocationType.STORE,
            31.2304,
            121.4737,
            frozenset({Service.SAME_DAY, Service.PICKUP}),
        ),
    )
    catalog.add_sku(uow, Sku(TEE, "白色T恤 M", Money.of("59.00")))
    catalog.add_sku(uow, Sku(MUG, "经典马克杯", Money.of("39.00")))
    for (location, sku), qty in {(WH, TEE): 10, (WH, MUG): 5, (STORE, TEE): 4}.items():
        record_movement(
            uow,
            RecordMovement(location, sku, MovementKind.RECEIPT, qty, f"GRN-{location}-{sku}"),
            clock,
        )
    return uow


def place(
    uow: FakeUnitOfWork,
    clock: FrozenClock,
    external_id: str,
    delivery: DeliveryMode = DeliveryMode.EXPRESS,
    lines: tuple[tuple[str, int], ...] = ((TEE, 2),),
    policy: RoutingPolicy = NOW_POLICY,
) -> Order:
    incoming = [
        IncomingLine(sku, qty, Money.of("59.00"), Money.of("0"), sku=sku) for sku, qty in lines
    ]
    total = Money.of("0")
    for line in incoming:
        total = total + line.unit_price.times(line.qty)
    command = IngestOrder(
        channel="tmall",
        external_id=external_id,
        status=OrderStatus.PAID,
        created_at=clock.now() - timedelta(minutes=1),
        updated_at=clock.now(),
        delivery=delivery,
        lines=incoming,
        buyer=Buyer(name="王小明", phone="13800138000"),
        ship_to=BUYER_AT,
        total=total,
        payment=Payment("alipay", f"2026111122{external_id}", total, clock.now()),
    )
    return ingest_order(lambda: uow, command, clock, policy).order


def order_of(uow: FakeUnitOfWork, order_id: str) -> Order:
    with uow:
        order = uow.orders.get(order_id)
    assert order is not None
    return order


def parts(uow: FakeUnitOfWork, order_id: str) -> list[Fulfilment]:
    with uow:
        return uow.routing.fulfilments(order_id)


def level(uow: FakeUnitOfWork, location: str, sku: str) -> tuple[int, int]:
    with uow:
        found = uow.stock.level(location, sku)
    return found.on_hand, found.reserved


def ledger(uow: FakeUnitOfWork, kind: MovementKind) -> list[tuple[str, str, int]]:
    return [(e.location, e.sku, e.qty) for e in uow.committed.ledger if e.kind is kind]


def confirmation(
    part: Fulfilment,
    message: str = "WMS1-1",
    *,
    final: bool = True,
    packages: tuple[str, ...] = ("SF1001",),
    lines: tuple[Line, ...] = (Line(TEE, 2),),
) -> DeliveryConfirmation:
    return DeliveryConfirmation(
        source="wms",
        reference=part.id,
        external_id="WMS00000001",
        location=part.location,
        message_id=message,
        final=final,
        confirmed_at=FrozenClock().now(),
        lines=lines,
        packages=tuple(Package("SF", number, lines) for number in packages),
        status="DELIVERED" if final else "PARTDELIVERED",
    )


def receive(uow: FakeUnitOfWork, clock: FrozenClock, *documents: object) -> list[flows.Applied]:
    return flows.receive_documents(
        uow, clock.now(), "wms", list(documents), "<request/>", policy=NOW_POLICY
    )


# -- the warehouse ----------------------------------------------------------------------------
def test_a_final_confirmation_ships_the_fulfilment_and_the_order_with_its_tracking_number(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-1")
    (part,) = parts(uow, order.id)
    assert part.status is FulfilmentStatus.RELEASED

    (applied,) = receive(uow, clock, confirmation(part))

    assert applied.outcome == "shipped"
    shipped = order_of(uow, order.id)
    assert shipped.status is OrderStatus.SHIPPED
    (part,) = parts(uow, order.id)
    assert (part.status, part.carrier, part.tracking_number) == (
        FulfilmentStatus.SHIPPED,
        "SF",
        "SF1001",
    )
    assert level(uow, WH, TEE) == (8, 0)
    assert ledger(uow, MovementKind.SALE) == [(WH, TEE, -2)]
    pushed = [e for e in uow.committed.outbox if e.type == ev.ORDER_STATUS_CHANGED]
    assert pushed[-1].data["to"] == "shipped"
    assert uow.committed.inbound[-1]["result"] == "applied"


def test_the_same_confirmation_twice_ships_once_and_is_answered_as_a_duplicate(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-2")
    (part,) = parts(uow, order.id)
    receive(uow, clock, confirmation(part))
    version = order_of(uow, order.id).version

    (again,) = receive(uow, clock, confirmation(part))
    (resent,) = receive(uow, clock, confirmation(part, message="WMS1-1-resent"))

    assert (again.outcome, resent.outcome) == ("duplicate", "already shipped")
    assert order_of(uow, order.id).version == version
    assert ledger(uow, MovementKind.SALE) == [(WH, TEE, -2)]


def test_a_confirmation_of_a_fulfilment_not_released_yet_is_refused_and_taken_when_sent_again(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-3", policy=RoutingPolicy(merge_window_seconds=60))
    (part,) = parts(uow, order.id)
    assert part.status is FulfilmentStatus.PENDING  # waiting in its merge window

    with pytest.raises(Conflict, match="before the hub released it"):
        receive(uow, clock, confirmation(part))
    assert uow.committed.inbound[-1]["kind"] == "order"  # nothing of the callback was kept

    apply_action(uow, OrderAction(order.id, "release"), clock)
    (applied,) = receive(uow, clock, confirmation(part))
    assert applied.outcome == "shipped"


def test_a_confirmation_of_something_that_is_no_fulfilment_of_the_hub_is_refused(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-4")
    (part,) = parts(uow, order.id)
    stranger = Fulfilment(
        "01NOTOURS0000000000000000",
        order.id,
        WH,
        FulfilmentStatus.RELEASED,
        [],
        clock.now(),
        clock.now(),
    )
    with pytest.raises(NotFound):
        receive(uow, clock, confirmation(stranger))
    with pytest.raises(Conflict, match="check the warehouse mapping"):
        receive(
            uow,
            clock,
            DeliveryConfirmation(
                "wms", part.id, None, STORE, "m", True, clock.now(), (), (Package("SF", "1"),), "X"
            ),
        )


def test_a_partial_confirmation_is_noted_and_the_final_one_ships_with_every_package(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-5", lines=((TEE, 2), (MUG, 1)))
    (part,) = parts(uow, order.id)

    (first,) = receive(
        uow,
        clock,
        confirmation(part, "WMS1-1", final=False, packages=("SF1001",), lines=(Line(TEE, 2),)),
    )
    assert first.outcome == "part shipped"
    assert order_of(uow, order.id).status is OrderStatus.RELEASED
    assert level(uow, WH, TEE) == (10, 2)  # the reservation is consumed when it all shipped
    assert "shipped part of it: 2 x TEE-WHITE-M" in order_of(uow, order.id).transitions[-1].cause

    (final,) = receive(
        uow, clock, confirmation(part, "WMS1-2", packages=("SF1002",), lines=(Line(MUG, 1),))
    )
    assert final.outcome == "shipped"
    (part,) = parts(uow, order.id)
    assert part.tracking_number == "SF1001,SF1002"
    assert order_of(uow, order.id).status is OrderStatus.SHIPPED
    assert (level(uow, WH, TEE), level(uow, WH, MUG)) == ((8, 0), (4, 0))


def test_goods_shipped_after_the_hub_cancelled_are_noted_for_a_person_and_move_no_stock(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-6")
    (part,) = parts(uow, order.id)
    apply_action(uow, OrderAction(order.id, "cancel"), clock)

    (applied,) = receive(uow, clock, confirmation(part))

    assert applied.outcome == "shipped after cancel"
    assert order_of(uow, order.id).status is OrderStatus.CANCELLED
    assert "after the hub cancelled" in order_of(uow, order.id).transitions[-1].cause
    assert level(uow, WH, TEE) == (10, 0)
    assert uow.committed.audit[-1]["action"] == "backend.shipped_after_cancel"
    assert uow.committed.inbound[-1]["result"] == "partial"


# -- stock documents ----------------------------------------------------------------------------
def test_a_receipt_moves_the_ledger_once_however_often_it_comes(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    receipt = InboundReceipt(
        "erp", "CGRK00001", WH, (Line(TEE, 5), Line(MUG, 2)), clock.now(), message_id="IN-1"
    )
    receive(uow, clock, receipt)
    (again,) = receive(uow, clock, receipt)

    assert again.outcome == "nothing to move"
    assert (level(uow, WH, TEE), level(uow, WH, MUG)) == ((15, 0), (7, 0))
    assert ledger(uow, MovementKind.RECEIPT)[-2:] == [(WH, TEE, 5), (WH, MUG, 2)]
    changed = [e for e in uow.committed.outbox if e.type == ev.STOCK_CHANGED]
    assert {e.data["sku"] for e in changed[-2:]} == {TEE, MUG}


def test_a_count_sets_what_was_counted_and_an_adjustment_moves_by_its_signed_change(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    receive(uow, clock, StockTake("erp", "PD-1", WH, clock.now(), (Line(TEE, 7), Line(MUG, 5))))
    receive(
        uow,
        clock,
        StockAdjustment("wms", "QT-1", WH, clock.now(), (Line(MUG, -2),), message_id="CHG-1"),
    )
    assert (level(uow, WH, TEE), level(uow, WH, MUG)) == ((7, 0), (3, 0))


def test_lines_the_hub_cannot_take_are_left_out_and_listed_while_the_rest_moves(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    place(uow, clock, "TB-7", lines=((MUG, 4),))  # 4 of the 5 mugs are promised
    (applied,) = receive(
        uow,
        clock,
        StockAdjustment(
            "wms",
            "QT-2",
            WH,
            clock.now(),
            (Line(TEE, -1), Line(MUG, -3), Line("SOCKS", 4)),
            message_id="CHG-2",
        ),
    )
    assert applied.outcome == "moved 1 line(s)"
    assert any("SOCKS" in p and "no such SKU" in p for p in applied.problems)
    assert any("MUG-CLASSIC" in p and "reserved" in p for p in applied.problems)
    assert (level(uow, WH, TEE), level(uow, WH, MUG)) == ((9, 0), (5, 4))
    audit = uow.committed.audit[-1]
    assert audit["action"] == "backend.adjustment"
    assert len(audit["details"]["left_out"]) == 2
    assert uow.committed.inbound[-1]["result"] == "partial"


# -- riders -----------------------------------------------------------------------------------
RIDER = Rider("1001", "骑士1001", "13800001001")


def status(
    part: Fulfilment,
    state: RiderState,
    second: int,
    *,
    position: tuple[float, float] | None = None,
    reason: str | None = None,
    by: str | None = None,
) -> RiderStatus:
    return RiderStatus(
        source="dada",
        reference=part.id,
        external_id="100000000001",
        state=state,
        native_status=1,
        updated_at=FrozenClock().now() + timedelta(seconds=second),
        message_id=f"{part.id}:{state}:{second}",
        rider=None if state is RiderState.WAITING else RIDER,
        position=Position(*position) if position else None,
        cancel_reason=reason,
        cancelled_by=by,
    )


def rider(
    uow: FakeUnitOfWork, clock: FrozenClock, *statuses: RiderStatus, attempts: int = 1
) -> list[str]:
    rules = BackendRules(reroute_attempts=attempts)
    return [
        flows.receive_documents(
            uow, clock.now(), "dada", [s], None, policy=NOW_POLICY, rules=rules
        )[0].outcome
        for s in statuses
    ]


def test_a_rider_takes_a_same_day_order_from_the_store_to_the_buyer_and_leaves_a_track(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-10", DeliveryMode.SAME_DAY)
    (part,) = parts(uow, order.id)
    assert part.location == STORE

    outcomes = rider(
        uow,
        clock,
        status(part, RiderState.WAITING, 1),
        status(part, RiderState.ACCEPTED, 2, position=(31.2354, 121.4787)),
        status(part, RiderState.ACCEPTED, 2, position=(31.2354, 121.4787)),  # polled again
        status(part, RiderState.PICKING_UP, 3, position=(31.2304, 121.4737)),
        status(part, RiderState.DELIVERING, 4, position=(31.2298, 121.4652)),
        status(part, RiderState.DELIVERING, 4, position=(31.2292, 121.4567)),  # moving on
        status(part, RiderState.DELIVERED, 6, position=(31.2286, 121.4482)),
    )

    assert outcomes == ["noted", "noted", "unchanged", "noted", "shipped", "moved", "delivered"]
    delivered = order_of(uow, order.id)
    assert delivered.status is OrderStatus.DELIVERED
    assert [t.to_status for t in delivered.transitions][-2:] == [
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
    ]
    assert level(uow, STORE, TEE) == (2, 0)
    (part,) = parts(uow, order.id)
    assert (part.status, part.carrier, part.tracking_number) == (
        FulfilmentStatus.DELIVERED,
        "dada",
        "100000000001",
    )
    (task,) = flows.deliveries_of(uow, order.id)
    assert task["state"] == "delivered"
    assert task["rider"] == {"id": "1001", "name": "骑士1001", "phone": "13800001001"}
    assert [(p["lat"], p["state"]) for p in task["track"]] == [
        (31.2354, "accepted"),
        (31.2304, "picking_up"),
        (31.2298, "delivering"),
        (31.2292, "delivering"),
        (31.2286, "delivered"),
    ]


def test_late_and_repeated_rider_statuses_change_nothing(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-11", DeliveryMode.SAME_DAY)
    (part,) = parts(uow, order.id)
    rider(uow, clock, status(part, RiderState.DELIVERING, 5))
    version = order_of(uow, order.id).version

    outcomes = rider(
        uow, clock, status(part, RiderState.ACCEPTED, 3), status(part, RiderState.DELIVERING, 5)
    )

    assert outcomes == ["unchanged", "unchanged"]
    assert order_of(uow, order.id).version == version
    assert order_of(uow, order.id).status is OrderStatus.SHIPPED


def test_a_rider_task_the_provider_cancels_sends_the_order_back_to_routing_then_holds_it(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-12", DeliveryMode.SAME_DAY)
    (first,) = parts(uow, order.id)
    rider(uow, clock, status(first, RiderState.ACCEPTED, 1))

    outcomes = rider(
        uow, clock, status(first, RiderState.CANCELLED, 2, reason="运力不足", by="provider")
    )

    assert outcomes == ["rerouted"]
    again = order_of(uow, order.id)
    assert again.status is OrderStatus.RELEASED
    causes = [t.cause for t in again.transitions]
    assert "rider task cancelled: 运力不足 (provider)" in causes
    statuses = {p.id: p.status for p in parts(uow, order.id)}
    assert statuses.pop(first.id) is FulfilmentStatus.CANCELLED
    assert list(statuses.values()) == [FulfilmentStatus.RELEASED]  # a new part at the store
    assert level(uow, STORE, TEE) == (4, 2)  # given back and taken again
    new = next(p for p in parts(uow, order.id) if p.status is FulfilmentStatus.RELEASED)

    assert rider(
        uow, clock, status(new, RiderState.EXPIRED, 3, reason="订单已过期", by="provider")
    ) == ["held"]
    held = order_of(uow, order.id)
    assert (held.status, held.hold_reason) == (OrderStatus.HELD, "delivery_failed")
    assert "rider task expired: 订单已过期 (provider); 2 rider task(s) failed" in (
        held.transitions[-1].cause
    )
    assert level(uow, STORE, TEE) == (4, 0)
    assert all(p.status is FulfilmentStatus.CANCELLED for p in parts(uow, order.id))

    # a person sends it on: back to routing, to a new rider
    apply_action(uow, OrderAction(order.id, "release"), clock, NOW_POLICY)
    assert order_of(uow, order.id).status is OrderStatus.RELEASED
    assert level(uow, STORE, TEE) == (4, 2)


def test_with_no_reroutes_a_failed_rider_task_holds_the_order_at_once(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-13", DeliveryMode.SAME_DAY)
    (part,) = parts(uow, order.id)
    assert rider(
        uow, clock, status(part, RiderState.CANCELLED, 1, reason="无骑士接单"), attempts=0
    ) == ["held"]
    assert order_of(uow, order.id).hold_reason == "delivery_failed"


def test_goods_a_rider_brings_back_after_leaving_the_store_are_noted_for_a_person(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = place(uow, clock, "TB-14", DeliveryMode.SAME_DAY)
    (part,) = parts(uow, order.id)
    outcomes = rider(
        uow,
        clock,
        status(part, RiderState.DELIVERING, 1),
        status(part, RiderState.RETURNING, 2),
        status(part, RiderState.RETURNED, 3, reason="妥投异常"),
    )
    assert outcomes == ["shipped", "noted", "noted"]
    assert order_of(uow, order.id).status is OrderStatus.SHIPPED
    assert uow.committed.audit[-1]["action"] == "backend.rider_task_failed"


# -- the full compare -----------------------------------------------------------------------------
def wms_config(**settings: object) -> BackendConfig:
    return parse_backend(
        {
            "code": "wms",
            "kind": "wms",
            "adapter": "qimen",
            "endpoint": "http://127.0.0.1:9/r",
            "credentials": {"app_key": "k", "app_secret": "s", "customer_id": "c"},
            "locations": [WH],
            "warehouses": {WH: "QM-SH"},
            "settings": {"owner_code": "OMNI", **settings},
        }
    )


def snapshot(clock: FrozenClock, **quantities: int) -> StockSnapshot:
    skus = {"tee": TEE, "mug": MUG, "socks": "SOCKS"}
    return StockSnapshot(
        "wms",
        clock.now(),
        tuple(StockLine(WH, skus[name], qty) for name, qty in quantities.items()),
        ("QM-OTHER",),
    )


def test_the_compare_reports_differences_and_changes_nothing_by_default(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    config = wms_config()
    rules = flows.backend_rules(config)
    assert rules.compare is CompareMode.REPORT

    report = flows.compare_stock(uow, clock.now(), config, snapshot(clock, tee=9, mug=5), rules)

    assert report.differences == [
        {
            "location": WH,
            "sku": TEE,
            "hub": 10,
            "backend": 9,
            "difference": -1,
            "corrected": False,
            "note": None,
        }
    ]
    assert (report.corrected, report.unmapped, report.compared) == (0, ["QM-OTHER"], 2)
    assert level(uow, WH, TEE) == (10, 0)
    assert uow.committed.audit[-1]["action"] == "backend.stock_compared"
    assert uow.committed.compares[-1].differences == report.differences


def test_the_compare_corrects_by_rule_but_not_stock_on_its_way_out_nor_too_large_a_gap(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    config = wms_config(compare="correct", correct_max_units=3)
    order = place(uow, clock, "TB-20", lines=((MUG, 1),))  # released: its mug may have left
    report = flows.compare_stock(
        uow,
        clock.now(),
        config,
        snapshot(clock, tee=12, mug=4, socks=2),
        flows.backend_rules(config),
    )

    by_sku = {d["sku"]: d for d in report.differences}
    assert by_sku[TEE]["corrected"] is True
    assert by_sku["SOCKS"]["corrected"] is False
    assert "no SKU SOCKS" in by_sku["SOCKS"]["note"]
    assert [s["sku"] for s in report.skipped] == [MUG]
    assert level(uow, WH, TEE) == (12, 0)
    assert ledger(uow, MovementKind.STOCKTAKE) == [(WH, TEE, 2)]
    assert [e for e in uow.committed.outbox if e.type == ev.STOCK_CHANGED][-1].data["sku"] == TEE

    receive(uow, clock, confirmation(parts(uow, order.id)[0], lines=(Line(MUG, 1),)))
    later = flows.compare_stock(
        uow,
        clock.now(),
        config,
        snapshot(clock, tee=20, mug=4),
        flows.backend_rules(config),
    )
    assert [(d["sku"], d["corrected"]) for d in later.differences] == [(TEE, False)]
    assert "more than correct_max_units (3)" in later.differences[0]["note"]


def test_the_hubs_rules_of_a_back_end_are_checked_with_every_problem_named() -> None:
    with pytest.raises(InvalidBackendConfig) as refused:
        flows.backend_rules(
            wms_config(
                compare="sometimes",
                correct_max_units=-1,
                reroute_attempts="two",
                poll="yes",
            )
        )
    problems = refused.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("backends[wms].settings.compare must be one of off, report")


def test_a_rider_task_the_hub_withdrew_ends_quietly_and_goods_taken_after_are_flagged(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    quiet = place(uow, clock, "TB-15", DeliveryMode.SAME_DAY)
    (part,) = parts(uow, quiet.id)
    apply_action(uow, OrderAction(quiet.id, "cancel"), clock)
    audits = len(uow.committed.audit)

    cancelled = status(
        part, RiderState.CANCELLED, 1, reason="the order was withdrawn", by="merchant"
    )
    assert rider(uow, clock, cancelled) == ["noted"]
    assert order_of(uow, quiet.id).status is OrderStatus.CANCELLED
    assert len(uow.committed.audit) == audits

    taken = place(uow, clock, "TB-16", DeliveryMode.SAME_DAY)
    (part,) = parts(uow, taken.id)
    apply_action(uow, OrderAction(taken.id, "cancel"), clock)
    assert rider(uow, clock, status(part, RiderState.DELIVERING, 1)) == ["noted"]
    assert uow.committed.audit[-1]["action"] == "backend.rider_after_cancel"
    assert level(uow, STORE, TEE) == (4, 0)


# -- returns to the ERP ---------------------------------------------------------------------------
def erp_config() -> BackendConfig:
    return parse_backend(
        {
            "code": "erp",
            "kind": "erp",
            "adapter": "kingdee",
            "endpoint": "http://127.0.0.1:9/k3cloud",
            "credentials": {"acct_id": "a", "username": "u", "password": "p"},
            "locations": [WH],
            "warehouses": {WH: "CK001"},
            "settings": {"sale_org": "100", "customer": "CUST0001"},
        }
    )


def came_back(
    uow: FakeUnitOfWork, clock: FrozenClock, location: str, sku: str, qty: int, reference: str
) -> None:
    with uow:
        uow.stock.move(location, sku, MovementKind.RETURN, qty, reference, clock.now())
        uow.commit()


def test_goods_that_came_back_are_one_return_document_per_document_and_the_erps_own_are_left(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    since = clock.now()
    came_back(uow, clock, WH, TEE, 1, "order:O-1:1")  # a refund's two lines: one return
    came_back(uow, clock, WH, MUG, 2, "order:O-1:2")
    clock.advance(timedelta(seconds=5))
    came_back(uow, clock, WH, TEE, 3, "wms:RET-9")  # the warehouse's return receipt
    came_back(uow, clock, WH, MUG, 1, "erp:SAL-RT-7")  # the ERP's own: it booked it
    came_back(uow, clock, STORE, TEE, 1, "order:O-2:1")  # a store the ERP does not book
    record_movement(uow, RecordMovement(WH, TEE, MovementKind.ADJUSTMENT, 1, "FOUND-1"), clock)

    docs, upto = flows.returns_to_book(uow, erp_config(), since, clock.now())

    assert upto == clock.now()
    assert [(d.order_reference, {x.sku: x.qty for x in d.lines}) for d in docs] == [
        ("O-1", {TEE: 1, MUG: 2}),
        ("wms:RET-9", {TEE: 3}),
    ]
    refund, receipt = docs
    assert refund.location == receipt.location == WH
    assert refund.lines[0].unit_price == Money.of("59.00")
    assert refund.returned_at == since
    assert refund.reference == flows.return_reference(WH, "order:O-1")
    assert refund.reference != receipt.reference
    assert len(refund.reference) <= 20
    again, _ = flows.returns_to_book(uow, erp_config(), since, clock.now())
    assert [d.reference for d in again] == [d.reference for d in docs]  # the same numbers


def test_a_document_cut_by_the_page_is_left_whole_for_the_next_read(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    since = clock.now()
    came_back(uow, clock, WH, TEE, 1, "wms:RET-1")
    clock.advance(timedelta(seconds=1))
    cut_at = clock.now()
    came_back(uow, clock, WH, TEE, 1, "order:O-3:1")
    came_back(uow, clock, WH, MUG, 1, "order:O-3:2")  # past a page of two

    docs, upto = flows.returns_to_book(uow, erp_config(), since, clock.now(), limit=2)
    assert [d.order_reference for d in docs] == ["wms:RET-1"]
    assert upto == cut_at
    rest, upto = flows.returns_to_book(uow, erp_config(), upto, clock.now(), limit=2)
    assert [(d.order_reference, len(d.lines)) for d in rest] == [("O-3", 2)]
    assert upto == clock.now()


def test_a_booked_return_is_bound_and_audited_once(uow: FakeUnitOfWork, clock: FrozenClock) -> None:
    came_back(uow, clock, WH, TEE, 2, "wms:RET-2")
    (doc,), _ = flows.returns_to_book(uow, erp_config(), clock.now(), clock.now())
    ref = ErpRef(doc.reference, "100123", "XSTH000123", ErpDocState.CONFIRMED)
    for _ in range(2):
        flows.record_return_booked(uow, clock.now(), "erp", ref, doc)
    with uow:
        assert uow.backends.bound("erp", flows.BOUND_ERP_RETURN, doc.reference) == "100123"
    booked = [a for a in uow.committed.audit if a["action"] == "backend.erp_return_created"]
    assert len(booked) == 1
    assert booked[0]["details"]["lines"] == {TEE: 2}
