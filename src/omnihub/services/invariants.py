"""The books: verify the invariants of DESIGN.md §4 on live data, and repair drifted counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnihub.domain.events import Event, StockRepaired
from omnihub.domain.inventory import ReservationState
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import HOLDS_STOCK, OrderStatus
from omnihub.ports import Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    subject: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BooksReport:
    levels_checked: int
    violations: list[Violation]

    @property
    def balanced(self) -> bool:
        return not self.violations

    @property
    def oversells(self) -> int:
        return sum(1 for v in self.violations if v.rule == "no_oversell")


def check_books(uow: UnitOfWork) -> BooksReport:
    """On hand == ledger sum, reserved == active reservations, nothing promised beyond on hand,
    and every order that should hold stock holds exactly its lines' quantities."""
    with uow:
        levels = {(lv.location, lv.sku): lv for lv in uow.stock.all_levels()}
        ledger = uow.stock.ledger_sums()
        active = uow.reservations.active_sums()
        violations: list[Violation] = []
        for key in sorted(set(levels) | set(ledger) | set(active)):
            location, sku = key
            subject = f"{sku}@{location}"
            level = levels.get(key)
            on_hand = level.on_hand if level else 0
            reserved = level.reserved if level else 0
            if on_hand != ledger.get(key, 0):
                violations.append(
                    Violation(
                        "on_hand_equals_ledger",
                        subject,
                        f"on hand is {on_hand} but the ledger sums to {ledger.get(key, 0)}",
                        {"on_hand": on_hand, "ledger": ledger.get(key, 0)},
                    )
                )
            held = active.get(key, 0)
            if reserved != held:
                violations.append(
                    Violation(
                        "reserved_equals_reservations",
                        subject,
                        f"reserved is {reserved} but active reservations sum to {held}",
                        {"reserved": reserved, "reservations": held},
                    )
                )
            if reserved > on_hand:
                violations.append(
                    Violation(
                        "no_oversell",
                        subject,
                        f"{reserved} units are promised but only {on_hand} are on hand",
                        {"reserved": reserved, "on_hand": on_hand},
                    )
                )
        violations.extend(_order_violations(uow))
        return BooksReport(len(levels), violations)


def _order_violations(uow: UnitOfWork) -> list[Violation]:
    found = []
    cursor = None
    while True:
        page = uow.orders.list(cursor=cursor, limit=500)
        for order in page.items:
            held = uow.reservations.for_order(order.id)
            waiting_pickup = (
                order.status is OrderStatus.CREATED
                and order.delivery is DeliveryMode.PICKUP
                and held
            )
            if order.status in HOLDS_STOCK or waiting_pickup:
                wanted: dict[str, int] = {}
                for line in order.lines:
                    if line.sku:
                        wanted[line.sku] = wanted.get(line.sku, 0) + line.qty
                got: dict[str, int] = {}
                counted = held
                if order.status in HOLDS_STOCK:
                    # the parts of a split order that shipped already hold consumed reservations
                    counted = [
                        r
                        for r in uow.reservations.for_order(order.id, active_only=False)
                        if r.state in (ReservationState.ACTIVE, ReservationState.CONSUMED)
                    ]
                for reservation in counted:
                    got[reservation.sku] = got.get(reservation.sku, 0) + reservation.qty
                if wanted != got:
                    found.append(
                        Violation(
                            "order_reservations_match_lines",
                            f"order:{order.id}",
                            f"order is {order.status} and needs {wanted} but holds {got}",
                        )
                    )
            elif held:
                found.append(
                    Violation(
                        "order_reservations_match_lines",
                        f"order:{order.id}",
                        f"order is {order.status} but still holds {len(held)} reservation(s)",
                    )
                )
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def repair_counters(uow: UnitOfWork, clock: Clock, actor: str = "cli") -> list[Violation]:
    """Recompute on hand from the ledger and reserved from active reservations; audited."""
    now = clock.now()
    repaired = []
    with uow:
        levels = {(lv.location, lv.sku): lv for lv in uow.stock.all_levels()}
        ledger = uow.stock.ledger_sums()
        active = uow.reservations.active_sums()
        for key in sorted(set(levels) | set(ledger) | set(active)):
            location, sku = key
            level = levels.get(key)
            before = (level.on_hand, level.reserved) if level else (0, 0)
            after = (ledger.get(key, 0), active.get(key, 0))
            if before == after:
                continue
            uow.stock.set_counters(location, sku, on_hand=after[0], reserved=after[1])
            repair = StockRepaired(location, before[0], after[0], before[1], after[1])
            details = repair.to_dict()
            uow.audit.record(
                actor=actor, action="stock.repair", subject=f"sku:{sku}", details=details, at=now
            )
            uow.emit(Event.of(repair, sku, now))
            repaired.append(
                Violation("repaired", f"{sku}@{location}", "counters recomputed", details)
            )
        uow.commit()
    return repaired
