from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from omnihub.domain.locations import Location
from omnihub.entrypoints.api import presenters
from omnihub.entrypoints.api.deps import HubDep
from omnihub.entrypoints.api.schemas import LocationIn
from omnihub.services import locations

router = APIRouter(prefix="/api/v1/locations", tags=["locations"])


@router.post("", status_code=201)
def create_location(body: LocationIn, hub: HubDep) -> dict[str, Any]:
    item = Location(
        code=body.code,
        name=body.name,
        type=body.type,
        lat=body.lat,
        lon=body.lon,
        services=frozenset(body.services),
        channels=frozenset(body.channels),
        capacity_per_day=body.capacity_per_day,
        priority=body.priority,
    )
    return presenters.location(locations.add_location(hub.uow(), item))


@router.get("")
def list_locations(hub: HubDep) -> dict[str, Any]:
    return {"items": [presenters.location(i) for i in locations.list_locations(hub.read_uow())]}
