"""Back-end use cases: what the hub does with what its ERPs, warehouses (WMS) and delivery
providers tell it, and the documents it sends them.

- A warehouse's delivery confirmation ships the fulfilment it names (the order ships when its
  last part does; the channel is told by the usual status push).
- A rider task's status moves the store fulfilment: the goods left with the rider (shipped),
  reached the buyer (delivered); a task that ended without a delivery sends the order back to
  routing, or holds it with the reason once ``reroute_attempts`` are spent.
- Receipts, stock-takes and adjustments move the ledger once per document (its ``key`` is the
  ledger reference), and the channels follow through ``stock.changed``.
- A full compare lists where the hub's on-hand differs from the back end's snapshot and, by the
  back end's ``compare`` rule, corrects it with a stock-take movement.

The documents are ``omnihub.domain.backends`` (plain data, no I/O); the back-end ports and a
back end's configuration are ``omnihub.ports.backends``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from omnihub.domain.backends import (
    BackendKind,
    DeliveryConfirmation,
    ErpRef,
    InboundReceipt,
    Line,
    OutboundOrder,
    Position,
    Receiver,
    ReturnDoc,
    RiderState,
    RiderStatus,
    RiderTask,
    RiderTaskRef,
    SalesOrderDoc,
    StockAdjustment,
    StockSnapshot,
    StockTake,
    WmsRef,
    ledger_lines,
    supersedes,
)
from omnihub.domain.errors import Conflict, DomainError, ErrorCode, InvalidInput, NotFound
from omnihub.domain.inventory import MovementKind, ReservationState, movement_delta
from omnihub.domain.orders import HoldReason, Order, OrderStatus
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus
from omnihub.domain.values import Money
from omnihub.ports import (
    BackendConfig,
    CompareReport,
    InvalidBackendConfig,
    LedgerEntry,
    RiderTaskRecord,
    TrackPoint,
    UnitOfWork,
)
from omnihub.services.inventory import stock_changed_event
from omnihub.services.routing import (
    RoutingPolicy,
    close_fulfilments,
    deliver_part,
    give_back_stock,
    route_order,
    ship_part,
)


#: binding kinds (``external_refs.kind``) of the back ends' document ids
class BackendUnavailable(DomainError):
    """A back end did not answer a call the request needs now (503: try again later)."""

    code = ErrorCode.BACKEND_UNAVAILABLE


#: SKUs one item-cost request may name
MAX_COST_SKUS = 200

BOUND_WMS_ORDER = "wms_order"
BOUND_ERP_ORDER = "erp_order"
BOUND_ERP_RETURN = "erp_return"
BOUND_RIDER_TASK = "rider_task"
#: a rider task before the provider said anything about it
REQUESTED = "requested"
FAILED_RIDER_STATES = frozenset(str(s) for s in RiderState if s.failed)
TRACKING_NUMBER_LENGTH = 64


# -- the hub's rules per back end -------------------------------------------------------------
class CompareMode(StrEnum):
    OFF = "off"
    REPORT = "report"
    """list the differences, change nothing"""
    CORRECT = "correct"
    """list them and correct the hub's stock to the back end's with a stock-take movement"""


@dataclass(frozen=True, slots=True)
class BackendRules:
    """What the hub does with a back end, from its ``settings`` (the adapter ignores these)."""

    compare: CompareMode = CompareMode.REPORT
    correct_max_units: int | None = None
    """a difference larger than this is listed, never corrected (a person looks first)"""
    reroute_attempts: int = 1
    """a delivery provider's failed rider tasks that send the order back to routing before
    it is held"""
    poll: bool = True
    """an ERP's receipts and stock-takes are polled (besides any webhooks it sends)"""


RULE_SETTINGS = ("compare", "correct_max_units", "reroute_attempts", "poll")


def backend_rules(config: BackendConfig) -> BackendRules:
    """The hub's rules of one back end; ``InvalidBackendConfig`` lists every problem."""
    settings = config.settings
    where = f"{config.label}.settings"
    problems: list[str] = []
    stock_kept = config.kind in (BackendKind.ERP, BackendKind.WMS)
    default = CompareMode.REPORT if stock_kept else CompareMode.OFF
    raw_mode = settings.get("compare", str(default))
    try:
        mode = CompareMode(str(raw_mode))
    except ValueError:
        problems.append(
            f"{where}.compare must be one of {', '.join(m.value for m in CompareMode)}, "
            f"not {raw_mode!r}"
        )
        mode = default
    if mode is not CompareMode.OFF and not stock_kept:
        problems.append(f"{where}.compare: a {config.kind} back end holds no stock to compare")
    limit = settings.get("correct_max_units")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        problems.append(f"{where}.correct_max_units must be a whole number of 0 or more")
        limit = None
    attempts = settings.get("reroute_attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        problems.append(f"{where}.reroute_attempts must be a whole number of 0 or more")
        attempts = 1
    poll = settings.get("poll", True)
    if not isinstance(poll, bool):
        problems.append(f"{where}.poll must be true or false")
        poll = True
    if problems:
        raise InvalidBackendConfig(problems)
    return BackendRules(mode, limit, attempts, poll)


# -- documents the hub sends ------------------------------------------------------------------
def _receiver(order: Order) -> Receiver:
    ship, buyer = order.ship_to, order.buyer
    return Receiver(
        name=ship.name or buyer.name or "",
        phone=ship.phone or buyer.phone or "",
        address=ship.address or "",
        province=ship.province or "",
        city=ship.city or "",
        district=ship.district or "",
        postcode=ship.postcode,
    )


def _lines(order: Order, fulfilment: Fulfilment) -> tuple[Line, ...]:
    prices = {line.line_no: line.unit_price for line in order.lines}
    return tuple(
        Line(str(entry["sku"]), int(entry["qty"]), prices.get(int(entry["line_no"])))
        for entry in fulfilment.lines
    )


def outbound_order(order: Order, fulfilment: Fulfilment) -> OutboundOrder:
    """The warehouse's delivery order for one fulfilment (its id is the WMS's order code)."""
    return OutboundOrder(
        reference=fulfilment.id,
        order_reference=order.id,
        location=fulfilment.location,
        created_at=fulfilment.created_at,
        lines=_lines(order, fulfilment),
        receiver=_receiver(order),
        channel=order.channel,
        remark=f"{order.channel} order {order.external_id}",
    )


def rider_task(order: Order, fulfilment: Fulfilment) -> RiderTask:
    """A rider from the store to the buyer for one store fulfilment."""
    if order.ship_to.lat is None or order.ship_to.lon is None:
        raise InvalidInput(f"order {order.id} has no coordinates to send a rider to")
    lines = _lines(order, fulfilment)
    value = sum(
        ((line.unit_price or Money.of("0")).amount * line.qty for line in lines), Decimal("0")
    )
    return RiderTask(
        reference=fulfilment.id,
        store=fulfilment.location,
        created_at=fulfilment.created_at,
        receiver=_receiver(order),
        destination=Position(order.ship_to.lat, order.ship_to.lon),
        cargo_value=Money.of(value, order.total.currency),
        items=lines,
        note=order.remark or None,
    )


def sales_order_doc(order: Order, fulfilment: Fulfilment) -> SalesOrderDoc:
    """The ERP's sales order for the part of an order one node fulfils."""
    return SalesOrderDoc(
        reference=fulfilment.id,
        location=fulfilment.location,
        ordered_at=order.channel_created_at,
        lines=_lines(order, fulfilment),
        channel=order.channel,
        note=f"{order.channel} order {order.external_id}",
    )


def order_and_fulfilment(uow: UnitOfWork, fulfilment_id: str) -> tuple[Order, Fulfilment]:
    with uow:
        fulfilment = uow.routing.get_fulfilment(fulfilment_id)
        if fulfilment is None:
            raise NotFound(f"fulfilment {fulfilment_id} does not exist")
        order = uow.orders.get(fulfilment.order_id)
        if order is None:
            raise NotFound(f"order {fulfilment.order_id} does not exist")
        return order, fulfilment


def record_sent(
    uow: UnitOfWork,
    now: datetime,
    backend: str,
    ref: WmsRef | ErpRef,
    order_id: str,
) -> None:
    """Bind the back end's id of a document it accepted (a second time changes nothing)."""
    kind = BOUND_WMS_ORDER if isinstance(ref, WmsRef) else BOUND_ERP_ORDER
    _bind_once(
        uow,
        now,
        backend,
        kind,
        ref.reference,
        ref.external_id,
        f"order:{order_id}",
        {"fulfilment": ref.reference, "external_id": ref.external_id},
    )


def _bind_once(
    uow: UnitOfWork,
    now: datetime,
    backend: str,
    kind: str,
    reference: str,
    external_id: str,
    subject: str,
    details: dict[str, Any],
) -> None:
    """Bind the back end's id of our ``reference`` and audit it, the first time only."""
    with uow:
        if uow.backends.bound(backend, kind, reference) is None:
            uow.backends.bind(backend, kind, external_id, reference, now)
            uow.audit.record(
                actor=f"backend:{backend}",
                action=f"backend.{kind}_created",
                subject=subject,
                details=details,
                at=now,
            )
        uow.commit()


def record_rider_task_sent(
    uow: UnitOfWork, now: datetime, backend: str, fulfilment: Fulfilment, ref: RiderTaskRef
) -> None:
    """The provider took the task: its fee and distance. Its statuses (perhaps already
    arrived: providers call back before they answer) are the callbacks'."""
    with uow:
        task = _locked_task(uow, backend, fulfilment, now)
        uow.backends.save_rider_task(
            replace(task, fee_cents=ref.fee.cents, distance_m=ref.distance_m, updated_at=now)
        )
        uow.commit()


def _locked_task(
    uow: UnitOfWork, backend: str, fulfilment: Fulfilment, now: datetime
) -> RiderTaskRecord:
    """The fulfilment's rider task, created if new, its row held until commit: the provider's
    callbacks (sent before it answers the create) and the create's answer change it at once."""
    task = uow.backends.rider_task(fulfilment.id, lock=True)
    if task is None:
        uow.backends.add_rider_task(
            RiderTaskRecord(
                reference=fulfilment.id,
                backend=backend,
                order_id=fulfilment.order_id,
                location=fulfilment.location,
                state=REQUESTED,
                created_at=now,
                updated_at=now,
            )
        )
        task = uow.backends.rider_task(fulfilment.id, lock=True)
    assert task is not None
    return task


# -- what the back ends tell the hub ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Applied:
    document: str
    outcome: str
    order_id: str | None = None
    problems: tuple[str, ...] = ()


def receive_documents(
    uow: UnitOfWork,
    now: datetime,
    backend: str,
    documents: Sequence[Any],
    raw: str | None,
    *,
    policy: RoutingPolicy | None = None,
    rules: BackendRules | None = None,
) -> list[Applied]:
    """What a back end sent (a callback's ``raw`` body, kept in the inbound log) or what the
    hub read from it (a poll: ``raw`` None), every document applied in one transaction. A
    document the hub cannot take yet (a confirmation of a fulfilment it does not know) raises:
    nothing is kept and the back end sends it again."""
    rules = rules or BackendRules()
    with uow:
        entry = None
        if raw is not None:
            entry = uow.inbound.record(
                channel=f"backend:{backend}",
                kind="backend callback",
                body=raw.replace("\x00", "\ufffd"),
                received_at=now,
                result="received",
            )
        results = [
            apply_document(uow, document, now, policy=policy, rules=rules) for document in documents
        ]
        if entry is not None:
            order_id = next((r.order_id for r in results if r.order_id), None)
            result = "applied" if results else "ignored"
            if any(r.problems for r in results):
                result = "partial"
            uow.inbound.mark(entry, result=result, order_id=order_id)
        uow.commit()
    return results


def keep_rejected_callback(
    uow: UnitOfWork, now: datetime, backend: str, raw: str, error: str
) -> None:
    """A callback the hub could not read or apply, kept for a person (it is sent again)."""
    with uow:
        uow.inbound.record(
            channel=f"backend:{backend}",
            kind="backend callback",
            body=raw.replace("\x00", "\ufffd"),
            received_at=now,
            result="rejected",
            error=error[:2000],
        )
        uow.commit()


def apply_document(
    uow: UnitOfWork,
    document: Any,
    now: datetime,
    *,
    policy: RoutingPolicy | None = None,
    rules: BackendRules | None = None,
) -> Applied:
    rules = rules or BackendRules()
    if isinstance(document, DeliveryConfirmation):
        return apply_delivery_confirmation(uow, document, now)
    if isinstance(document, RiderStatus):
        return apply_rider_status(
            uow, document, now, policy=policy, reroute_attempts=rules.reroute_attempts
        )
    if isinstance(document, InboundReceipt | StockTake | StockAdjustment):
        return apply_stock_document(uow, document, now)
    raise InvalidInput(f"the hub does not apply {type(document).__name__} documents")


def _tracking(numbers: Sequence[str]) -> str | None:
    """Every package's number when they fit the column, else the first."""
    if not numbers:
        return None
    joined = ",".join(numbers)
    return joined if len(joined) <= TRACKING_NUMBER_LENGTH else numbers[0][:TRACKING_NUMBER_LENGTH]


def _described(lines: Sequence[Line]) -> str:
    return ", ".join(f"{line.qty} x {line.sku}" for line in lines) or "no lines"


def apply_delivery_confirmation(
    uow: UnitOfWork, confirmation: DeliveryConfirmation, now: datetime
) -> Applied:
    """The warehouse shipped (part of) a delivery order: a final confirmation ships the
    fulfilment, a partial one is noted with its packages. Idempotent by the message id (and by
    the fulfilment's state, for a re-sent confirmation with a new id)."""
    conf = confirmation
    what = f"delivery order {conf.reference} ({'final' if conf.final else 'partial'})"
    fulfilment = uow.routing.get_fulfilment(conf.reference)
    if fulfilment is None:
        raise NotFound(
            f"{conf.source} confirmed {what}, which is no fulfilment of the hub",
            code=ErrorCode.NOT_FOUND,
        )
    if fulfilment.location != conf.location:
        raise Conflict(
            f"{conf.source} confirmed {what} from {conf.location}, but the fulfilment is at "
            f"{fulfilment.location}; check the warehouse mapping",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    if fulfilment.status is FulfilmentStatus.PENDING:
        raise Conflict(
            f"{conf.source} confirmed {what} before the hub released it; send it again later",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    order = uow.orders.get(fulfilment.order_id)
    assert order is not None
    if not uow.backends.remember_message(conf.source, f"confirm:{conf.message_id}", now):
        return Applied(what, "duplicate", order.id)
    if fulfilment.status in (FulfilmentStatus.SHIPPED, FulfilmentStatus.DELIVERED):
        return Applied(what, "already shipped", order.id)
    numbers = [n for n in (fulfilment.tracking_number or "").split(",") if n]
    numbers += [n for n in conf.tracking_numbers if n not in numbers]
    packages = f"{conf.carrier or 'carrier'} {' '.join(conf.tracking_numbers)}"
    actor = f"backend:{conf.source}"
    if fulfilment.status is FulfilmentStatus.CANCELLED:
        order.note(
            f"{conf.source} shipped {_described(conf.lines)} from {conf.location} after the hub "
            f"cancelled the fulfilment ({packages}); the goods have left: settle it with the "
            "buyer",
            now,
        )
        uow.orders.save(order)
        uow.audit.record(
            actor=actor,
            action="backend.shipped_after_cancel",
            subject=f"order:{order.id}",
            details={"fulfilment": fulfilment.id, "tracking_numbers": list(numbers)},
            at=now,
        )
        return Applied(what, "shipped after cancel", order.id, (f"{what} shipped after cancel",))
    if not conf.final:
        fulfilment.carrier = conf.carrier or fulfilment.carrier
        fulfilment.tracking_number = _tracking(numbers)
        fulfilment.updated_at = now
        uow.routing.save_fulfilment(fulfilment)
        order.note(
            f"{conf.location} shipped part of it: {_described(conf.lines)} ({packages})", now
        )
        uow.orders.save(order)
        return Applied(what, "part shipped", order.id)
    ship_part(
        uow,
        fulfilment,
        order,
        now,
        carrier=conf.carrier,
        tracking_number=_tracking(numbers),
        actor=actor,
    )
    return Applied(what, "shipped", order.id)


def apply_stock_document(
    uow: UnitOfWork, document: InboundReceipt | StockTake | StockAdjustment, now: datetime
) -> Applied:
    """One ledger movement per line, referenced by the document's key (a repeat moves
    nothing). A line the hub cannot take (unknown SKU or location, or a loss larger than the
    stock not promised to orders) is left out and listed in the audit: the rest moves."""
    kind = {InboundReceipt: "receipt", StockTake: "stocktake"}.get(type(document), "adjustment")
    what = f"{kind} {document.reference} at {document.location}"
    moved: list[dict[str, Any]] = []
    problems: list[str] = []
    changed: set[str] = set()
    for location, sku, movement, qty, reference in ledger_lines(document):
        if uow.locations.get(location) is None:
            problems.append(f"{sku} at {location}: the hub has no location {location}")
            continue
        if uow.catalog.get_sku(sku) is None:
            problems.append(
                f"{sku} at {location}: no such SKU in the hub; add it, or map the item in "
                f"backends[{document.source}].skus"
            )
            continue
        level = uow.stock.level(location, sku, lock=True)
        if uow.stock.has_movement(location, sku, movement, reference):
            continue
        try:
            delta = movement_delta(movement, qty, level)
        except DomainError as exc:
            problems.append(f"{sku} at {location}: {exc.message}")
            continue
        uow.stock.move(location, sku, movement, delta, reference, now)
        moved.append({"sku": sku, "kind": str(movement), "qty": qty, "delta": delta})
        changed.add(sku)
    for sku in sorted(changed):
        uow.emit(stock_changed_event(uow, sku, now))
    if moved or problems:
        uow.audit.record(
            actor=f"backend:{document.source}",
            action=f"backend.{kind}",
            subject=f"location:{document.location}",
            details={"reference": document.key, "moved": moved, "left_out": problems},
            at=now,
        )
    outcome = f"moved {len(moved)} line(s)" if moved else "nothing to move"
    return Applied(what, outcome, None, tuple(problems))


# -- rider tasks ------------------------------------------------------------------------------
def _as_status(task: RiderTaskRecord) -> RiderStatus | None:
    if task.state_at is None or task.state == REQUESTED:
        return None
    return RiderStatus(
        source=task.backend,
        reference=task.reference,
        external_id=task.external_id,
        state=RiderState(task.state),
        native_status=task.native_status or 0,
        updated_at=task.state_at,
        message_id="",
    )


def _track(uow: UnitOfWork, task: RiderTaskRecord, status: RiderStatus, now: datetime) -> bool:
    """Add the rider's position to the order's track, unless the rider has not moved."""
    position = status.position
    if position is None:
        return False
    state = str(status.state if supersedes(_as_status(task), status) else task.state)
    last = next(
        (p for p in reversed(uow.backends.track(task.order_id)) if p.reference == task.reference),
        None,
    )
    if last is not None and (last.lat, last.lon, last.state) == (position.lat, position.lng, state):
        return False
    uow.backends.add_track_point(
        task.order_id, TrackPoint(task.reference, now, position.lat, position.lng, state)
    )
    return True


def apply_rider_status(
    uow: UnitOfWork,
    status: RiderStatus,
    now: datetime,
    *,
    policy: RoutingPolicy | None = None,
    reroute_attempts: int = 1,
) -> Applied:
    """Where a rider task is (a callback or a status query). Duplicates and late statuses
    change nothing but the track. The goods leave with the rider (``delivering``: the store
    fulfilment ships), reach the buyer (``delivered``), or the task ends without a delivery
    (``cancelled``, ``expired``, ``returned``): see :func:`_rider_failed`."""
    what = f"rider task {status.reference} {status.state}"
    task = uow.backends.rider_task(status.reference, lock=True)
    if task is None:
        fulfilment = uow.routing.get_fulfilment(status.reference)
        if fulfilment is None:
            raise NotFound(f"{status.source} reports {what}, which is no fulfilment of the hub")
        task = _locked_task(uow, status.source, fulfilment, now)
    moved = _track(uow, task, status, now)
    if not supersedes(_as_status(task), status):
        return Applied(what, "moved" if moved else "unchanged", task.order_id)
    rider = status.rider
    task = replace(
        task,
        state=str(status.state),
        native_status=status.native_status,
        state_at=status.updated_at,
        external_id=status.external_id or task.external_id,
        rider=asdict(rider) if rider is not None else task.rider,
        fee_cents=status.fee.cents if status.fee is not None else task.fee_cents,
        cancel_reason=status.cancel_reason,
        cancelled_by=status.cancelled_by,
        updated_at=now,
    )
    uow.backends.save_rider_task(task)
    fulfilment = uow.routing.get_fulfilment(task.reference)
    order = uow.orders.get(task.order_id)
    assert fulfilment is not None
    assert order is not None
    outcome = _follow(uow, task, status, fulfilment, order, now, policy, reroute_attempts)
    uow.orders.save(order)
    return Applied(what, outcome, order.id)


def _follow(
    uow: UnitOfWork,
    task: RiderTaskRecord,
    status: RiderStatus,
    fulfilment: Fulfilment,
    order: Order,
    now: datetime,
    policy: RoutingPolicy | None,
    reroute_attempts: int,
) -> str:
    state = status.state
    who = f"rider {status.rider.name} ({status.rider.phone})" if status.rider else "a rider"
    tracking = task.external_id or task.reference
    actor = f"backend:{task.backend}"
    if state in (RiderState.DELIVERING, RiderState.DELIVERED) and (
        fulfilment.status is FulfilmentStatus.CANCELLED
    ):
        order.note(
            f"{who} took the goods from {task.location} ({state}) after the hub withdrew the "
            "fulfilment: settle it with the buyer",
            now,
        )
        uow.audit.record(
            actor=actor,
            action="backend.rider_after_cancel",
            subject=f"order:{order.id}",
            details={"fulfilment": fulfilment.id, "state": str(state)},
            at=now,
        )
        return "noted"
    if state in (RiderState.DELIVERING, RiderState.DELIVERED):
        shipped = fulfilment.status is FulfilmentStatus.RELEASED
        if shipped:  # the goods left the store with the rider (perhaps the callback was lost)
            ship_part(
                uow,
                fulfilment,
                order,
                now,
                carrier=task.backend,
                tracking_number=tracking,
                actor=actor,
            )
        if state is RiderState.DELIVERING:
            return "shipped" if shipped else "noted"
        if fulfilment.status is FulfilmentStatus.SHIPPED:
            deliver_part(uow, fulfilment, order, now, f"delivered by {who} ({task.backend})")
            return "delivered"
        return "noted"
    if state.failed:
        return _rider_failed(uow, task, status, fulfilment, order, now, policy, reroute_attempts)
    notes = {
        RiderState.WAITING: f"{task.backend} is looking for a rider"
        + (f" ({status.cancel_reason})" if status.cancel_reason else ""),
        RiderState.ACCEPTED: f"{who} accepted the delivery from {task.location}",
        RiderState.PICKING_UP: f"{who} is at {task.location} for the goods",
        RiderState.RETURNING: f"{who} could not deliver; the goods go back to {task.location}",
    }
    order.note(notes.get(state, f"rider task {state}"), now)
    return "noted"


def _rider_failed(
    uow: UnitOfWork,
    task: RiderTaskRecord,
    status: RiderStatus,
    fulfilment: Fulfilment,
    order: Order,
    now: datetime,
    policy: RoutingPolicy | None,
    reroute_attempts: int,
) -> str:
    """A task ended without a delivery. While the goods are still at the store (the
    fulfilment was not shipped and no other part has left), the order's stock is given back
    and the order goes back to routing, ``reroute_attempts`` times; then it is held with the
    reason for a person. Goods that came back after leaving the store are noted for a person
    (the order shipped; it is settled with the buyer); a task the hub withdrew is only noted."""
    cause = (
        f"rider task {status.state}: {status.cancel_reason or 'no reason given'} "
        f"({status.cancelled_by or 'provider'})"
    )
    if fulfilment.status is FulfilmentStatus.CANCELLED:  # the hub withdrew it: as expected
        order.note(cause, now)
        return "noted"
    parts = uow.routing.fulfilments(order.id)
    gone = any(p.status in (FulfilmentStatus.SHIPPED, FulfilmentStatus.DELIVERED) for p in parts)
    if (
        fulfilment.status is FulfilmentStatus.RELEASED
        and order.status is OrderStatus.RELEASED
        and not gone
    ):
        tasks = uow.backends.rider_tasks(order.id)
        failures = sum(1 for t in tasks if t.state in FAILED_RIDER_STATES)
        give_back_stock(uow, order, now, ReservationState.RELEASED)
        close_fulfilments(uow, order, now, FulfilmentStatus.CANCELLED)
        if failures <= reroute_attempts:
            order.hold(HoldReason.DELIVERY_FAILED, now, cause)
            order.resume(f"back to routing after {cause}", now)
            uow.routing.add_decision(
                order.id, now, "rerouted", {"why": cause, "failed_rider_tasks": failures}
            )
            route_order(uow, order, now, policy)
            return "rerouted"
        why = f"{cause}; {failures} rider task(s) failed, a person decides"
        uow.routing.add_decision(order.id, now, f"held:{HoldReason.DELIVERY_FAILED}", {"why": why})
        order.hold(HoldReason.DELIVERY_FAILED, now, why)
        return "held"
    order.note(f"{cause}; the order is {order.status} and stays so: a person settles it", now)
    uow.audit.record(
        actor=f"backend:{task.backend}",
        action="backend.rider_task_failed",
        subject=f"order:{order.id}",
        details={"fulfilment": fulfilment.id, "state": str(status.state), "cause": cause},
        at=now,
    )
    return "noted"


# -- full compare -------------------------------------------------------------------------------
def compare_stock(
    uow: UnitOfWork,
    now: datetime,
    config: BackendConfig,
    snapshot: StockSnapshot,
    rules: BackendRules,
) -> CompareReport:
    """The hub's on-hand at the back end's locations against its snapshot: every difference
    listed (stored, and in the audit), and with ``compare = "correct"`` set right by a
    stock-take movement. Stock reserved for a fulfilment already released to the node is
    skipped: the goods may have left before the hub heard, so the two can differ for a while
    and neither is wrong."""
    served = set(config.locations)
    theirs = {k: v for k, v in snapshot.on_hand().items() if k[0] in served}
    reference = f"compare:{config.code}:{now.isoformat()}"
    differences: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    corrected = 0
    with uow:
        ours = {
            (lv.location, lv.sku): lv.on_hand
            for lv in uow.stock.all_levels()
            if lv.location in served
        }
        in_flight = uow.backends.in_flight(sorted(served))
        keys = sorted(set(ours) | set(theirs))
        changed: set[str] = set()
        for location, sku in keys:
            hub_qty, their_qty = ours.get((location, sku), 0), theirs.get((location, sku), 0)
            if hub_qty == their_qty:
                continue
            entry: dict[str, Any] = {
                "location": location,
                "sku": sku,
                "hub": hub_qty,
                "backend": their_qty,
                "difference": their_qty - hub_qty,
            }
            if (location, sku) in in_flight:
                skipped.append(
                    dict(
                        entry,
                        why="stock reserved for a fulfilment released to "
                        "the node and not confirmed yet",
                    )
                )
                continue
            note = None
            if rules.compare is CompareMode.CORRECT:
                note = _correct(uow, config.code, location, sku, their_qty, reference, now, rules)
                if note is None:
                    corrected += 1
                    changed.add(sku)
            differences.append(
                dict(
                    entry,
                    corrected=note is None and rules.compare is CompareMode.CORRECT,
                    note=note,
                )
            )
        for sku in sorted(changed):
            uow.emit(stock_changed_event(uow, sku, now))
        report = CompareReport(
            backend=config.code,
            taken_at=now,
            mode=str(rules.compare),
            compared=len(keys),
            differences=differences,
            skipped=skipped,
            unmapped=list(snapshot.unmapped),
            corrected=corrected,
        )
        report_id = uow.backends.add_compare(report)
        uow.audit.record(
            actor=f"backend:{config.code}",
            action="backend.stock_compared",
            subject=f"backend:{config.code}",
            details={
                "report": report_id,
                "mode": str(rules.compare),
                "compared": len(keys),
                "differences": differences,
                "skipped": len(skipped),
                "corrected": corrected,
                "unmapped": list(snapshot.unmapped),
            },
            at=now,
        )
        uow.commit()
    return replace(report, id=report_id)


def _correct(
    uow: UnitOfWork,
    backend: str,
    location: str,
    sku: str,
    qty: int,
    reference: str,
    now: datetime,
    rules: BackendRules,
) -> str | None:
    """Set the hub's on-hand to the back end's count; None when done, else why not."""
    if uow.locations.get(location) is None:
        return f"the hub has no location {location}"
    if uow.catalog.get_sku(sku) is None:
        return f"no SKU {sku} in the hub; add it or map the item in backends[{backend}].skus"
    level = uow.stock.level(location, sku, lock=True)
    difference = qty - level.on_hand
    if rules.correct_max_units is not None and abs(difference) > rules.correct_max_units:
        return (
            f"a difference of {difference} is more than correct_max_units "
            f"({rules.correct_max_units}); a person checks it"
        )
    try:
        delta = movement_delta(MovementKind.STOCKTAKE, qty, level)
    except DomainError as exc:
        return exc.message
    uow.stock.move(location, sku, MovementKind.STOCKTAKE, delta, reference, now)
    uow.audit.record(
        actor=f"backend:{backend}",
        action="stock.stocktake",
        subject=f"sku:{sku}",
        details={"location": location, "qty": qty, "delta": delta, "reference": reference},
        at=now,
    )
    return None


def record_failed_compare(
    uow: UnitOfWork, now: datetime, config: BackendConfig, rules: BackendRules, error: str
) -> CompareReport:
    report = CompareReport(
        backend=config.code,
        taken_at=now,
        mode=str(rules.compare),
        compared=0,
        differences=[],
        skipped=[],
        unmapped=[],
        corrected=0,
        error=error[:2000],
    )
    with uow:
        report_id = uow.backends.add_compare(report)
        uow.audit.record(
            actor=f"backend:{config.code}",
            action="backend.stock_compare_failed",
            subject=f"backend:{config.code}",
            details={"report": report_id, "error": error},
            at=now,
        )
        uow.commit()
    return replace(report, id=report_id)


def skus_at(uow: UnitOfWork, locations: Sequence[str]) -> dict[str, list[str]]:
    """location -> the SKUs the hub has a level for there (what a WMS is asked about)."""
    wanted = set(locations)
    found: dict[str, list[str]] = {location: [] for location in locations}
    with uow:
        for level in uow.stock.all_levels():
            if level.location in wanted:
                found[level.location].append(level.sku)
    return {location: sorted(set(skus)) for location, skus in found.items()}


# -- what a person sees -------------------------------------------------------------------------
def deliveries_of(uow: UnitOfWork, order_id: str) -> list[dict[str, Any]]:
    """The order's rider tasks, each with its track (oldest point first)."""
    with uow:
        tasks = uow.backends.rider_tasks(order_id)
        points = uow.backends.track(order_id)
    by_task: Mapping[str, list[TrackPoint]] = {
        t.reference: [p for p in points if p.reference == t.reference] for t in tasks
    }
    return [
        {
            "reference": t.reference,
            "backend": t.backend,
            "location": t.location,
            "state": t.state,
            "state_at": t.state_at.isoformat() if t.state_at else None,
            "external_id": t.external_id,
            "rider": t.rider,
            "fee": str(Money.from_cents(t.fee_cents)) if t.fee_cents is not None else None,
            "distance_m": t.distance_m,
            "cancel_reason": t.cancel_reason,
            "cancelled_by": t.cancelled_by,
            "track": [
                {"at": p.at.isoformat(), "lat": p.lat, "lon": p.lon, "state": p.state}
                for p in by_task[t.reference]
            ],
        }
        for t in tasks
    ]


# -- returns to the ERP ------------------------------------------------------------------------
def _document_of(reference: str) -> str:
    """The document a return movement belongs to: a counter refund writes one movement per
    order line (``order:<id>:<line>``), one return of the order; any other reference (a WMS
    return receipt, a return posted to the API) is a document of its own."""
    if reference.startswith("order:") and reference.count(":") == 2:
        return reference.rsplit(":", 1)[0]
    return reference


def return_reference(location: str, document: str) -> str:
    """Our number of the ERP's return document of ``document`` at ``location``: short (bill
    numbers are), and the same however often it is worked out, so the ERP books it once."""
    digest = hashlib.sha1(f"{location}|{document}".encode()).hexdigest()[:16].upper()
    return f"RT{digest}"


def returns_to_book(
    uow: UnitOfWork, config: BackendConfig, since: datetime, now: datetime, limit: int = 1000
) -> tuple[list[ReturnDoc], datetime]:
    """The goods that came back into the ERP's locations since ``since``, as return documents
    for it to book (one per location and document, priced at the SKU's list price), and how
    far they reach: ``now``, or when ``limit`` movements were read, the time of the last
    document left for the next read (so no document is booked with part of its lines).
    Returns the ERP reported itself are left out: it booked them."""
    with uow:
        entries = uow.backends.returns_since(list(config.locations), since, limit)
        prices = {}
        for sku in {entry.sku for entry in entries}:
            found = uow.catalog.get_sku(sku)
            if found is not None:
                prices[sku] = found.price
    upto = now
    if len(entries) >= limit:  # the last document may go on past the page: read it next time
        last = (entries[-1].location, _document_of(entries[-1].reference))
        rest = [e for e in entries if (e.location, _document_of(e.reference)) != last]
        if rest:  # (a single document longer than the page is booked as far as it was read)
            upto = min(e.at for e in entries if (e.location, _document_of(e.reference)) == last)
            entries = rest
    own = f"{config.code}:"
    documents: dict[tuple[str, str], list[LedgerEntry]] = {}
    for entry in entries:
        if entry.qty > 0 and not entry.reference.startswith(own):
            documents.setdefault((entry.location, _document_of(entry.reference)), []).append(entry)
    docs = []
    for (location, document), moved in documents.items():
        quantities: dict[str, int] = {}
        for entry in moved:
            quantities[entry.sku] = quantities.get(entry.sku, 0) + entry.qty
        docs.append(
            ReturnDoc(
                reference=return_reference(location, document),
                order_reference=document.removeprefix("order:"),
                location=location,
                returned_at=max(entry.at for entry in moved),
                lines=tuple(Line(sku, qty, prices.get(sku)) for sku, qty in quantities.items()),
                reason=f"returned to {location}: {document}",
            )
        )
    return docs, upto


def record_return_booked(
    uow: UnitOfWork, now: datetime, backend: str, ref: ErpRef, doc: ReturnDoc
) -> None:
    """Bind the ERP's id of a return it booked (a second time changes nothing)."""
    _bind_once(
        uow,
        now,
        backend,
        BOUND_ERP_RETURN,
        ref.reference,
        ref.external_id,
        f"location:{doc.location}",
        {
            "return": doc.reference,
            "document": doc.order_reference,
            "external_id": ref.external_id,
            "number": ref.number,
            "lines": {line.sku: line.qty for line in doc.lines},
        },
    )
