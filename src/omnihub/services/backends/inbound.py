"""What the back ends tell the hub (a callback, or what a poll read): every document applied in
one transaction, the raw body kept in the inbound log; receipts, stock-takes and adjustments
move the ledger once per document."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from omnihub.domain.backends import (
    DeliveryConfirmation,
    InboundReceipt,
    RiderStatus,
    StockAdjustment,
    StockTake,
    ledger_lines,
)
from omnihub.domain.errors import DomainError, InvalidInput
from omnihub.domain.inventory import movement_delta
from omnihub.ports import UnitOfWork
from omnihub.services.backends.delivery import apply_rider_status
from omnihub.services.backends.documents import Applied
from omnihub.services.backends.rules import BackendRules
from omnihub.services.backends.wms import apply_delivery_confirmation
from omnihub.services.inventory import stock_changed_event
from omnihub.services.routing import RoutingPolicy


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
