from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from omnihub import __version__
from omnihub.entrypoints.api.deps import HubDep
from omnihub.services import invariants

router = APIRouter(tags=["operations"])


@router.get("/health")
def health(hub: HubDep) -> dict[str, Any]:
    with hub.read_uow() as uow:
        uow.locations.list()
    return {"status": "ok", "version": __version__, "database": hub.engine.dialect.name}


@router.get("/api/v1/check")
def check(hub: HubDep) -> dict[str, Any]:
    """The books (DESIGN.md §4): counters against the ledger and reservations, oversells."""
    report = invariants.check_books(hub.read_uow())
    return {
        "balanced": report.balanced,
        "levels_checked": report.levels_checked,
        "oversells": report.oversells,
        "violations": [asdict(v) for v in report.violations],
    }


@router.get("/api/v1/stats")
def stats(hub: HubDep) -> dict[str, Any]:
    """Orders by channel, status, hold reason and delivery mode; reservations by state;
    split and merged orders; store pickups collected and expired."""
    with hub.read_uow() as uow:
        rows = uow.orders.count_by()
        reservations = uow.reservations.count_by_state()
        modes = uow.orders.count_by_delivery()
        routing = uow.routing.stats()
    by_channel: dict[str, dict[str, int]] = {}
    held: dict[str, int] = {}
    for channel, status, reason, count in rows:
        per = by_channel.setdefault(channel, {})
        per[status] = per.get(status, 0) + count
        if status == "held":
            held[reason or "unknown"] = held.get(reason or "unknown", 0) + count
    return {
        "orders": by_channel,
        "held": held,
        "reservations": reservations,
        "delivery": modes,
        "routing": routing,
    }


@router.get("/api/v1/inbound")
def inbound(
    hub: HubDep, result: str | None = None, limit: int = Query(50, ge=1, le=500)
) -> dict[str, Any]:
    """The inbound log: every payload received, with what became of it."""
    with hub.read_uow() as uow:
        rows = uow.inbound.recent(limit, result)
    for row in rows:
        row["received_at"] = row["received_at"].isoformat()
    return {"items": rows}
