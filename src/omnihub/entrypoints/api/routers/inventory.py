from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from omnihub.domain.inventory import InsufficientStock
from omnihub.entrypoints.api import presenters
from omnihub.entrypoints.api.deps import HubDep
from omnihub.entrypoints.api.schemas import MovementIn, ReservationIn, SafetyIn
from omnihub.services import inventory

router = APIRouter(prefix="/api/v1", tags=["inventory"])


@router.post("/inventory/movements", status_code=201)
def post_movement(body: MovementIn, hub: HubDep, response: Response) -> dict[str, Any]:
    result = inventory.record_movement(
        hub.uow(),
        inventory.RecordMovement(body.location, body.sku, body.kind, body.qty, body.reference),
        hub.clock,
    )
    if result.duplicate:
        response.status_code = 200
    return {
        "duplicate": result.duplicate,
        "delta": result.delta,
        "sku": body.sku,
        **presenters.level(result.level),
    }


@router.post("/inventory/safety")
def put_safety(body: SafetyIn, hub: HubDep) -> dict[str, Any]:
    level = inventory.set_safety_stock(hub.uow(), body.location, body.sku, body.safety, hub.clock)
    return {"sku": body.sku, **presenters.level(level)}


@router.get("/inventory/{sku}")
def get_stock(sku: str, hub: HubDep) -> dict[str, Any]:
    return presenters.stock(inventory.stock_of(hub.read_uow(), sku))


@router.get("/inventory/{sku}/ledger")
def get_ledger(sku: str, hub: HubDep, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    with hub.read_uow() as uow:
        entries = uow.stock.ledger(sku, limit)
    return {
        "sku": sku,
        "items": [
            {
                "id": e.id,
                "location": e.location,
                "kind": str(e.kind),
                "qty": e.qty,
                "reference": e.reference,
                "at": e.at.isoformat(),
            }
            for e in entries
        ],
    }


@router.post("/reservations", status_code=201)
def create_reservation(body: ReservationIn, hub: HubDep) -> dict[str, Any]:
    try:
        item = inventory.reserve_stock(
            hub.uow(),
            inventory.ReserveStock(body.sku, body.qty, body.location, body.ttl_seconds),
            hub.clock,
        )
    except InsufficientStock:
        hub.counters["reservations_refused"] = hub.counters.get("reservations_refused", 0) + 1
        raise
    return presenters.reservation(item)


@router.get("/reservations/{reservation_id}")
def get_reservation(reservation_id: str, hub: HubDep) -> dict[str, Any]:
    from omnihub.domain.errors import NotFound

    with hub.read_uow() as uow:
        item = uow.reservations.get(reservation_id)
    if item is None:
        raise NotFound(f"reservation {reservation_id} does not exist")
    return presenters.reservation(item)


@router.delete("/reservations/{reservation_id}")
def delete_reservation(reservation_id: str, hub: HubDep) -> dict[str, Any]:
    item = inventory.release_reservation(hub.uow(), reservation_id, hub.clock)
    return presenters.reservation(item)
