from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from omnihub.domain.errors import InvalidInput
from omnihub.entrypoints.api import presenters
from omnihub.entrypoints.api.deps import HubDep
from omnihub.entrypoints.api.schemas import ActionIn
from omnihub.services import routing

router = APIRouter(prefix="/api/v1", tags=["routing"])


@router.get("/rules/review", response_class=PlainTextResponse)
def get_review_rules(hub: HubDep) -> str:
    """The review rules in force, as TOML."""
    routing.sync_review_rules(hub.read_uow(), hub.policy)
    return hub.policy.rules.source


@router.put(
    "/rules/review",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/toml": {"schema": {"type": "string"}}},
        }
    },
)
async def put_review_rules(request: Request, hub: HubDep) -> dict[str, Any]:
    """Replace the review rules with a TOML document; a bad one is refused (422, with the line)
    and the rules in force stay. Every worker picks the new rules up within seconds."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the rules must be UTF-8 text") from exc
    rules, version = await run_in_threadpool(
        routing.replace_review_rules, hub.uow(), text, hub.clock.now(), hub.policy
    )
    return {
        "rules": [{"when": r.when, "hold": r.hold} for r in rules.rules],
        "services": [
            {
                "tier": s.tier,
                "service_level": s.service_level,
                "free_shipping": s.free_shipping,
                "prefer_warehouse": s.prefer_warehouse,
            }
            for s in rules.services
        ],
        "version": version,  # of this file (another PUT may have stored a newer one since)
    }


@router.get("/merges/{group_id}")
def get_merge(group_id: str, hub: HubDep) -> dict[str, Any]:
    from omnihub.domain.errors import NotFound

    with hub.read_uow() as uow:
        group = uow.routing.get_merge_group(group_id)
    if group is None:
        raise NotFound(f"merge group {group_id} does not exist")
    return presenters.merge_group(group)


@router.post("/merges/{group_id}/actions/unmerge")
def unmerge(group_id: str, hub: HubDep, body: ActionIn | None = None) -> dict[str, Any]:
    actor = (body.actor if body else None) or "api"
    group = routing.unmerge(hub.uow(), group_id, hub.clock.now(), actor=actor)
    return presenters.merge_group(group)


@router.post("/fulfilments/{fulfilment_id}/actions/ship")
def ship_fulfilment(
    fulfilment_id: str, hub: HubDep, body: ActionIn | None = None
) -> dict[str, Any]:
    """One node ships its part of a (split) order; the last part ships the order."""
    body = body or ActionIn()
    fulfilment, order = routing.ship_fulfilment(
        hub.uow(),
        fulfilment_id,
        hub.clock.now(),
        carrier=body.carrier,
        tracking_number=body.tracking_number,
        actor=body.actor or "api",
    )
    return {"fulfilment": presenters.fulfilment(fulfilment), "order_status": str(order.status)}
