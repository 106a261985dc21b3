from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field, StringConstraints

from omnihub.adapters.channels import REGISTRY
from omnihub.adapters.db.integration import DEAD, Delivery
from omnihub.domain.errors import AlreadyExists, ErrorCode, NotFound
from omnihub.domain.integration import published_quantity, validate_subscription
from omnihub.domain.values import new_id
from omnihub.entrypoints.api.deps import HubDep
from omnihub.entrypoints.api.schemas import Body, Code

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
    events = validate_subscription(body.url, body.events, body.secret)
    sub_id = new_id()
    hub.integration.add_subscription(sub_id, body.url, events, body.secret, hub.clock.now())
    return {"id": sub_id, "url": body.url, "events": events, "endpoint": f"webhook:{sub_id}"}


@router.get("/webhooks")
def list_webhooks(hub: HubDep) -> dict[str, Any]:
    return {
        "items": [
            {
                "id": s["id"],
                "url": s["url"],
                "events": s["events"],
                "endpoint": f"webhook:{s['id']}",
            }
            for s in hub.integration.subscriptions()
        ]
    }


@router.delete("/webhooks/{sub_id}", status_code=204)
def delete_webhook(sub_id: str, hub: HubDep) -> Response:
    if not hub.integration.deactivate_subscription(sub_id):
        raise NotFound(f"webhook subscription {sub_id} does not exist")
    return Response(status_code=204)


@router.post("/channels", status_code=201)
def create_channel(body: ChannelIn, hub: HubDep) -> dict[str, Any]:
    """A sales channel the hub pushes stock and order status to. Its current stock is queued
    for a first full push straight away."""
    store = hub.integration
    if store.channel(body.code) is not None:
        raise AlreadyExists(f"channel {body.code} already exists")
    if body.endpoint is not None:
        validate_subscription(body.endpoint, ["*"], body.secret or "x" * 16)
    now = hub.clock.now()
    with hub.read_uow() as uow:
        unknown = [code for code in body.locations if uow.locations.get(code) is None]
        if unknown:
            raise NotFound(
                f"unknown location(s): {', '.join(unknown)}", code=ErrorCode.UNKNOWN_LOCATION
            )
    store.add_channel(
        {
            "code": body.code,
            "adapter": body.adapter,
            "endpoint": body.endpoint,
            "secret": body.secret,
            "allocation_ratio": body.allocation_ratio,
            "buffer": body.buffer,
            "locations": body.locations,
            "created_at": now,
            "credentials": body.credentials,
        }
    )
    if body.endpoint:
        # The channel exists from here on, so every later event is applied to it; the snapshot
        # is versioned as the newest event already in the levels read next, so it neither hides
        # the next change (the old "count + 1" did) nor overrides a newer one.
        snapshot = store.outbox_position()
        with hub.read_uow() as uow:
            levels = uow.stock.all_levels()
        per_sku: dict[str, list[dict[str, Any]]] = {}
        for level in levels:
            per_sku.setdefault(level.sku, []).append(
                {"location": level.location, "available": level.available}
            )
        for sku, locations in per_sku.items():
            qty = published_quantity(locations, body.locations, body.allocation_ratio, body.buffer)
            store.want_stock(body.code, sku, qty, snapshot, now)
    return {
        "code": body.code,
        "adapter": body.adapter,
        "endpoint": body.endpoint,
        "allocation_ratio": body.allocation_ratio,
        "buffer": body.buffer,
        "locations": body.locations,
    }


@router.get("/channels")
def list_channels(hub: HubDep) -> dict[str, Any]:
    return {
        "items": [
            {k: v for k, v in c.items() if k not in _PRIVATE} for c in hub.integration.channels()
        ]
    }


#: never shown by the API: the shared secret and the platform credentials (tokens, keys)
_PRIVATE = ("secret", "credentials", "created_at")


@router.get("/channels/{code}/sync")
def channel_sync(code: str, hub: HubDep, detail: bool = False) -> dict[str, Any]:
    """How far the channel's stock is behind the hub: SKUs in sync, lag p50/p99; with
    ``detail=true`` each SKU's published quantity and the value the channel acknowledged."""
    if hub.integration.channel(code) is None:
        raise NotFound(f"channel {code} does not exist")
    status = hub.integration.sync_status(code)
    if detail:
        status["items"] = {
            sku: {"published": wanted, "acked": acked}
            for sku, (wanted, acked) in sorted(hub.integration.stock_rows(code).items())
        }
    return status


@router.get("/deliveries")
def list_deliveries(
    hub: HubDep,
    status: str | None = None,
    endpoint: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    items = hub.integration.deliveries(status=status, endpoint=endpoint, limit=limit)
    return {"items": [_delivery(d) for d in items]}


@router.get("/dead-letters")
def list_dead_letters(
    hub: HubDep, endpoint: str | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    """Deliveries that failed every attempt, with their last error."""
    items = hub.integration.deliveries(status=DEAD, endpoint=endpoint, limit=limit)
    return {"items": [_delivery(d) for d in items]}


@router.get("/dead-letters/{delivery_id}")
def show_dead_letter(delivery_id: int, hub: HubDep) -> dict[str, Any]:
    item = hub.integration.get_delivery(delivery_id)
    if item is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    return _delivery(item)


@router.post("/dead-letters/{delivery_id}/replay")
def replay_dead_letter(delivery_id: int, hub: HubDep) -> dict[str, Any]:
    replayed = hub.integration.replay(hub.clock.now(), delivery_id=delivery_id)
    if not replayed:
        raise NotFound(f"delivery {delivery_id} is not a dead letter")
    _audit(hub, "dead_letter.replayed", f"delivery:{delivery_id}", {})
    return {"replayed": replayed}


@router.post("/dead-letters/replay")
def replay_endpoint(body: ReplayIn, hub: HubDep) -> dict[str, Any]:
    """Every dead letter of one endpoint back in the queue (after fixing the cause)."""
    replayed = hub.integration.replay(hub.clock.now(), endpoint=body.endpoint)
    _audit(hub, "dead_letter.replayed", f"endpoint:{body.endpoint}", {"count": replayed})
    return {"replayed": replayed}


@router.post("/dead-letters/{delivery_id}/discard")
def discard_dead_letter(delivery_id: int, hub: HubDep) -> dict[str, Any]:
    if not hub.integration.discard(delivery_id, hub.clock.now()):
        raise NotFound(f"delivery {delivery_id} is not a dead letter")
    _audit(hub, "dead_letter.discarded", f"delivery:{delivery_id}", {})
    return {"discarded": delivery_id}


def _audit(hub: Any, action: str, subject: str, details: dict[str, Any]) -> None:
    with hub.uow() as uow:
        uow.audit.record(
            actor="api", action=action, subject=subject, details=details, at=hub.clock.now()
        )
        uow.commit()
