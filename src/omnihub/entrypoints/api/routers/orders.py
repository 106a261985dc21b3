from __future__ import annotations

import contextlib
import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from omnihub.domain.orders import Address, Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.entrypoints.api import presenters
from omnihub.entrypoints.api.deps import HubDep
from omnihub.entrypoints.api.schemas import ActionIn, OrderIn
from omnihub.services import backends as backend_services
from omnihub.services import orders as order_services
from omnihub.services import routing
from omnihub.services.orders import Outcome

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined (for a hand-read request body)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)  # type: ignore[no-any-return]


_STATUS_BY_OUTCOME = {
    Outcome.CREATED: 201,
    Outcome.HELD: 202,
    Outcome.UPDATED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.STALE: 200,
}


def to_command(body: OrderIn, raw: str) -> IngestOrder:
    currency = body.currency
    lines = [
        IncomingLine(
            channel_sku=line.channel_sku or line.sku or "",
            qty=line.qty,
            unit_price=Money.of(line.unit_price, currency),
            discount=Money.of(line.discount, currency),
            sku=line.sku,
        )
        for line in body.lines
    ]
    lines_total = sum(ln.unit_price.amount * ln.qty - ln.discount.amount for ln in lines)
    total = body.total if body.total is not None else lines_total + body.shipping_fee
    payment = None
    if body.payment is not None:
        payment = Payment(
            body.payment.provider,
            body.payment.transaction_id,
            Money.of(body.payment.amount, currency),
            body.payment.paid_at,
        )
    return IngestOrder(
        channel=body.channel,
        external_id=body.external_id,
        status=body.status,
        created_at=body.created_at,
        updated_at=body.updated_at or body.created_at,
        delivery=body.delivery,
        lines=lines,
        buyer=Buyer(**body.buyer.model_dump()),
        ship_to=Address(**body.ship_to.model_dump()),
        pickup_location=body.pickup_location,
        shipping_fee=Money.of(body.shipping_fee, currency),
        total=Money.of(total, currency),
        payment=payment,
        remark=body.remark,
        cod=body.cod,
        raw=raw,
    )


@router.post(
    "",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(OrderIn)}},
        }
    },
    responses={
        200: {"description": "already known (duplicate, stale or newer update)"},
        202: {"description": "stored but held; see hold_reason"},
    },
)
async def ingest(request: Request, hub: HubDep) -> JSONResponse:
    raw_bytes = await request.body()
    raw = raw_bytes.decode("utf-8", "replace")
    try:
        body = OrderIn.model_validate_json(raw_bytes)
    except ValidationError as exc:
        await run_in_threadpool(_keep_rejected, hub, raw, exc)
        raise RequestValidationError(exc.errors()) from exc
    result = await run_in_threadpool(
        order_services.ingest_order, hub.uow, to_command(body, raw), hub.clock, hub.policy
    )
    payload = presenters.order(result.order)
    payload["outcome"] = str(result.outcome)
    if result.pickup_code:
        payload["pickup_code"] = result.pickup_code
    return JSONResponse(payload, status_code=_STATUS_BY_OUTCOME[result.outcome])


def _keep_rejected(hub: Any, raw: str, exc: ValidationError) -> None:
    channel = "unknown"  # unreadable JSON: the channel stays unknown; the body is still kept
    with contextlib.suppress(ValueError):
        parsed = json.loads(raw)
        if isinstance(parsed, dict) and isinstance(parsed.get("channel"), str):
            channel = parsed["channel"][:64] or "unknown"
    # PostgreSQL text cannot hold NUL; keep the body readable, as undecodable bytes already are
    raw, channel = raw.replace("\x00", "\ufffd"), channel.replace("\x00", "\ufffd")
    with hub.uow() as uow:
        uow.inbound.record(
            channel=channel,
            kind="order",
            body=raw,
            received_at=hub.clock.now(),
            result="rejected",
            error=str(exc)[:2000],
        )
        uow.commit()


@router.get("")
def list_orders(
    hub: HubDep,
    channel: str | None = None,
    status: OrderStatus | None = None,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    with hub.read_uow() as uow:
        page = uow.orders.list(channel=channel, status=status, cursor=cursor, limit=limit)
    return {"items": [presenters.order(o) for o in page.items], "next_cursor": page.next_cursor}


@router.get("/{order_id}")
def get_order(order_id: str, hub: HubDep) -> dict[str, Any]:
    order, reservations = order_services.get_order(hub.read_uow(), order_id)
    return presenters.order(order, reservations)


@router.post("/{order_id}/actions/{action}")
def act(order_id: str, action: str, hub: HubDep, body: ActionIn | None = None) -> dict[str, Any]:
    body = body or ActionIn()
    details = body.model_dump(exclude_none=True, exclude={"reason", "actor"})
    order = order_services.apply_action(
        hub.uow(),
        order_services.OrderAction(
            order_id, action, actor=body.actor or "api", reason=body.reason, details=details
        ),
        hub.clock,
        hub.policy,
    )
    return presenters.order(order)


@router.get("/{order_id}/routing")
def get_routing(order_id: str, hub: HubDep) -> dict[str, Any]:
    """Every routing decision with its explanation, the fulfilments, the merge group and the
    rider tasks (with the rider's track) of a same-day order."""
    order, _ = order_services.get_order(hub.read_uow(), order_id)
    with hub.read_uow() as uow:
        decisions = uow.routing.decisions(order_id)
        parts = uow.routing.fulfilments(order_id)
        group = uow.routing.get_merge_group(order.merge_group) if order.merge_group else None
    return {
        "order_id": order_id,
        "status": str(order.status),
        "hold_reason": order.hold_reason,
        "delivery": str(order.delivery),
        "service_level": order.service_level,
        "decisions": decisions,
        "fulfilments": [presenters.fulfilment(f) for f in parts],
        "merge_group": None if group is None else presenters.merge_group(group),
        # rider tasks of same-day orders, each with its rider's track (services/backends.py)
        "deliveries": backend_services.deliveries_of(hub.read_uow(), order_id),
    }


@router.post("/{order_id}/pickup-code")
def reissue_pickup_code(order_id: str, hub: HubDep) -> dict[str, Any]:
    """A new pickup code for the buyer (the old one stops working); audited."""
    code = routing.reissue_pickup_code(hub.uow(), order_id, hub.clock.now())
    return {"order_id": order_id, "pickup_code": code}
