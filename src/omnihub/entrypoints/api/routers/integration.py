from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field, StringConstraints

from omnihub.adapters.channels import REGISTRY
from omnihub.domain.errors import NotFound
from omnihub.entrypoints.api.deps import HubDep
from omnihub.entrypoints.api.schemas import Body, Code
from omnihub.ports import DEAD, Delivery
from omnihub.services import channels as channel_services
from omnihub.services import webhooks

router = APIRouter(prefix="/api/v1", tags=["integration"])

ADAPTERS = (*REGISTRY, "generic")


class WebhookIn(Body):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    events: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]]
    secret: Annotated[str, StringConstraints(max_length=200)]


class ChannelIn(Body):
    code: Code
    adapter: Literal[ADAPTERS] = "generic"  # type: ignore[valid-type]
    secret: Annotated[str, StringConstraints(max_length=200)] | None = None
    credentials: dict[str, Any] = Field(default_factory=dict)
    endpoint: Annotated[str, StringConstraints(max_length=2000)] | None = None
    allocation_ratio: float = Field(default=1.0, ge=0, le=1)
    buffer: int = Field(default=0, ge=0, le=1_000_000)
    locations: list[Code] = Field(default_factory=list)


class ReplayIn(Body):
    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _delivery(item: Delivery) -> dict[str, Any]:
    body = asdict(item)
    for key in ("next_attempt_at", "created_at", "finished_at"):
        body[key] = body[key].isoformat() if body[key] else None
    return body


@router.post("/webhooks", status_code=201)
def create_webhook(body: WebhookIn, hub: HubDep) -> dict[str, Any]:
    """Subscribe any system to the hub's events; deliveries are signed with the secret."""
    sub = webhooks.subscribe(
        hub.integration.webhooks, body.url, body.events, body.secret, hub.clock.now()
    )
    return {"id": sub.id, "url": sub.url, "events": list(sub.events), "endpoint": sub.endpoint}


@router.get("/webhooks")
def list_webhooks(hub: HubDep) -> dict[str, Any]:
    return {
        "items": [
            {"id": s.id, "url": s.url, "events": list(s.events), "endpoint": s.endpoint}
            for s in hub.integration.webhooks.active()
        ]
    }


@router.delete("/webhooks/{sub_id}", status_code=204)
def delete_webhook(sub_id: str, hub: HubDep) -> Response:
    if not hub.integration.webhooks.deactivate(sub_id):
        raise NotFound(f"webhook subscription {sub_id} does not exist")
    return Response(status_code=204)


@router.post("/channels", status_code=201)
def create_channel(body: ChannelIn, hub: HubDep) -> dict[str, Any]:
    """A sales channel the hub pushes stock and order status to. Its current stock is queued
    for a first full push straight away."""
    stores = hub.integration
    channel = channel_services.create_channel(
        channel_services.CreateChannel(
            code=body.code,
            adapter=body.adapter,
            endpoint=body.endpoint,
            secret=body.secret,
            allocation_ratio=body.allocation_ratio,
            buffer=body.buffer,
            locations=tuple(body.locations),
            credentials=body.credentials,
        ),
        stores.directory,
        stores.outbox,
        stores.stock_sync,
        hub.read_uow,
        hub.clock,
    )
    return channel.public()


@router.get("/channels")
def list_channels(hub: HubDep) -> dict[str, Any]:
    # never shown: the shared secret, the platform credentials (tokens, keys), the creation
    # time (``ChannelRecord.public``)
    return {"items": [c.public() for c in hub.integration.directory.all()]}


@router.get("/channels/{code}/sync")
def channel_sync(code: str, hub: HubDep, detail: bool = False) -> dict[str, Any]:
    """How far the channel's stock is behind the hub: SKUs in sync, lag p50/p99; with
    ``detail=true`` each SKU's published quantity and the value the channel acknowledged."""
    stores = hub.integration
    if stores.directory.get(code) is None:
        raise NotFound(f"channel {code} does not exist")
    status = stores.stock_sync.status(code).to_dict()
    if detail:
        status["items"] = {
            sku: {"published": wanted, "acked": acked}
            for sku, (wanted, acked) in sorted(stores.stock_sync.values(code).items())
        }
    return status


@router.get("/deliveries")
def list_deliveries(
    hub: HubDep,
    status: str | None = None,
    endpoint: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    items = hub.integration.deliveries.recent(status=status, endpoint=endpoint, limit=limit)
    return {"items": [_delivery(d) for d in items]}


@router.get("/dead-letters")
def list_dead_letters(
    hub: HubDep, endpoint: str | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    """Deliveries that failed every attempt, with their last error."""
    items = hub.integration.deliveries.recent(status=DEAD, endpoint=endpoint, limit=limit)
    return {"items": [_delivery(d) for d in items]}


@router.get("/dead-letters/{delivery_id}")
def show_dead_letter(delivery_id: int, hub: HubDep) -> dict[str, Any]:
    item = hub.integration.deliveries.get(delivery_id)
    if item is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    return _delivery(item)


@router.post("/dead-letters/{delivery_id}/replay")
def replay_dead_letter(delivery_id: int, hub: HubDep) -> dict[str, Any]:
    replayed = hub.integration.deliveries.replay(hub.clock.now(), delivery_id=delivery_id)
    if not replayed:
        raise NotFound(f"delivery {delivery_id} is not a dead letter")
    _audit(hub, "dead_letter.replayed", f"delivery:{delivery_id}", {})
    return {"replayed": replayed}


@router.post("/dead-letters/replay")
def replay_endpoint(body: ReplayIn, hub: HubDep) -> dict[str, Any]:
    """Every dead letter of one endpoint back in the queue (after fixing the cause)."""
    replayed = hub.integration.deliveries.replay(hub.clock.now(), endpoint=body.endpoint)
    _audit(hub, "dead_letter.replayed", f"endpoint:{body.endpoint}", {"count": replayed})
    return {"replayed": replayed}


@router.post("/dead-letters/{delivery_id}/discard")
def discard_dead_letter(delivery_id: int, hub: HubDep) -> dict[str, Any]:
    if not hub.integration.deliveries.discard(delivery_id, hub.clock.now()):
        raise NotFound(f"delivery {delivery_id} is not a dead letter")
    _audit(hub, "dead_letter.discarded", f"delivery:{delivery_id}", {})
    return {"discarded": delivery_id}


def _audit(hub: Any, action: str, subject: str, details: dict[str, Any]) -> None:
    with hub.uow() as uow:
        uow.audit.record(
            actor="api", action=action, subject=subject, details=details, at=hub.clock.now()
        )
        uow.commit()
