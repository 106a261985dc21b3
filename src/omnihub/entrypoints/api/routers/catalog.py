from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.values import Money
from omnihub.entrypoints.api import presenters
from omnihub.entrypoints.api.deps import HubDep
from omnihub.entrypoints.api.schemas import MappingIn, SkuIn
from omnihub.services import catalog

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])


@router.post("/skus", status_code=201)
def create_sku(body: SkuIn, hub: HubDep) -> dict[str, Any]:
    item = Sku(body.sku, body.name, Money.of(body.price, body.currency), body.barcode)
    return presenters.sku(catalog.add_sku(hub.uow(), item))


@router.get("/skus")
def list_skus(
    hub: HubDep, after: str | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    with hub.read_uow() as uow:
        items = uow.catalog.list_skus(after, limit)
    return {
        "items": [presenters.sku(i) for i in items],
        "next_cursor": items[-1].code if len(items) == limit else None,
    }


@router.post("/mappings", status_code=201)
def create_mapping(body: MappingIn, hub: HubDep, response: Response) -> dict[str, Any]:
    item, released = catalog.add_mapping(
        hub.uow(),
        ChannelMapping(body.channel, body.channel_sku, body.sku),
        hub.clock,
        policy=hub.policy,
    )
    return {**presenters.mapping(item), "released_orders": released}
