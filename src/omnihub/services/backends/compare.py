"""The full stock compare: the hub's on-hand at a back end's locations against its snapshot,
each difference listed and, by the back end's ``compare`` rule, corrected."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from omnihub.domain.backends import StockLine, StockSnapshot
from omnihub.domain.errors import DomainError
from omnihub.domain.inventory import MovementKind, movement_delta
from omnihub.ports import (
    BackendConfig,
    BackendGateway,
    CallRefused,
    Clock,
    CompareReport,
    ErpAdapter,
    UnitOfWork,
    UnitOfWorkFactory,
    WmsAdapter,
)
from omnihub.services.backends.rules import BackendRules, CompareMode, backend_rules
from omnihub.services.inventory import stock_changed_event

log = logging.getLogger("omnihub.backends")


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


def snapshot_of(
    config: BackendConfig, gateway: BackendGateway, read_uow: UnitOfWorkFactory, now: datetime
) -> StockSnapshot:
    """What the back end holds at its locations: an ERP's whole snapshot, or a WMS asked about
    every SKU the hub keeps at each of them (taken ``now``)."""
    adapter = gateway.adapter(config)
    if isinstance(adapter, ErpAdapter):
        return gateway.run(config, adapter.stock_snapshot(config))
    if not isinstance(adapter, WmsAdapter):
        raise CallRefused(f"{config.label} holds no stock to compare", retry=False)
    lines: list[StockLine] = []
    unmapped: list[str] = []
    for location, skus in skus_at(read_uow(), list(config.locations)).items():
        for start in range(0, len(skus), 100):
            part = gateway.run(
                config, adapter.inventory(config, location, skus[start : start + 100])
            )
            lines.extend(part.lines)
            unmapped.extend(part.unmapped)
    return StockSnapshot(config.code, now, tuple(lines), tuple(sorted(set(unmapped))))


def compare_now(
    config: BackendConfig,
    gateway: BackendGateway,
    uow_factory: UnitOfWorkFactory,
    read_uow: UnitOfWorkFactory,
    clock: Clock,
) -> CompareReport:
    """Compare the hub's stock with the back end's now (outside any transaction), then list,
    and by rule correct, the differences in one; a back end that cannot be read is a
    report with its error."""
    rules = backend_rules(config)
    try:
        snapshot = snapshot_of(config, gateway, read_uow, clock.now())
    except (CallRefused, DomainError) as exc:
        log.warning("compare with %s failed: %s", config.code, exc)
        return record_failed_compare(
            uow_factory(), clock.now(), config, rules, f"{type(exc).__name__}: {exc}"
        )
    return compare_stock(uow_factory(), clock.now(), config, snapshot, rules)
