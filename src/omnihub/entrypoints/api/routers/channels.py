"""A channel's native messages: ``POST /api/v1/channels/{code}/orders`` takes the body as the
platform sends it, checks its signature the platform's way and stores each order once."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.transport import fetcher
from omnihub.domain.errors import ErrorCode, NotFound
from omnihub.entrypoints.api.deps import HubDep
from omnihub.ports import ChannelRecord, ChannelRefused, InboundRequest
from omnihub.services import channels as channel_services
from omnihub.services.orders import Outcome

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])

_FETCH_CLIENT = httpx.Client(timeout=10)


@router.post("/{code}/orders")
async def receive_native(code: str, request: Request, hub: HubDep) -> JSONResponse:
    """The platform's own order message (webhook body, signature headers and all). 2xx with
    the hub's order id(s); 401 bad signature or stale timestamp and 409 a replayed message
    (nothing stored; 200 with ``replayed: true`` for a platform that takes any other answer
    for a failed delivery: Shopify, WooCommerce); 400 a body the adapter can't read (kept in
    the inbound log)."""
    channel = await run_in_threadpool(hub.integration.directory.get, code)
    if channel is None:
        raise NotFound(
            f"channel {code} does not exist; create it with POST /api/v1/channels",
            code=ErrorCode.UNKNOWN_CHANNEL,
        )
    config = channel.config
    if channel.generic:
        raise NotFound(
            f"channel {code} uses the canonical API (POST /api/v1/orders), "
            "not a platform's native format",
            code=ErrorCode.UNKNOWN_CHANNEL,
        )
    adapter = adapter_for(config.adapter)
    inbound = InboundRequest(
        body=await request.body(),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
    )
    try:
        received = await run_in_threadpool(
            channel_services.receive,
            hub.uow,
            hub.clock,
            adapter,
            config,
            inbound,
            hub.integration.messages,
            policy=hub.policy,
            fetch=fetcher(_FETCH_CLIENT, adapter, config),
        )
    except ChannelRefused as exc:
        if exc.code is not ErrorCode.REPLAYED_MESSAGE or adapter.replay_status == 409:
            raise
        # the platform would take a 409 for a failed delivery: acknowledged, stored once
        answer = {"orders": [], "replayed": True, "message": exc.message, **adapter.acknowledge([])}
        return JSONResponse(answer, status_code=adapter.replay_status)
    results = [
        {
            "order_id": r.order.id,
            "external_id": r.order.external_id,
            "status": str(r.order.status),
            "hold_reason": r.order.hold_reason,
            "outcome": str(r.outcome),
            # a store pickup: the code the channel shows the buyer (stored hashed; shown once)
            **({"pickup_code": r.pickup_code} if r.pickup_code else {}),
        }
        for r in received.results
    ]
    body: dict[str, Any] = {"orders": results}
    if results:
        body["order_id"] = results[0]["order_id"]
    if received.ignored:
        body["ignored"] = received.ignored
    body.update(adapter.acknowledge(results))
    created = any(r.outcome in (Outcome.CREATED, Outcome.HELD) for r in received.results)
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/{code}/pull")
def pull_status(code: str, hub: HubDep) -> dict[str, Any]:
    """Where the channel's pull cursor stands: up to when orders were read, counts, last error."""
    channel = hub.integration.directory.get(code)
    if channel is None:
        raise NotFound(f"channel {code} does not exist", code=ErrorCode.UNKNOWN_CHANNEL)
    cursor = hub.integration.cursors.get(code)
    if cursor is None:
        return {"channel": code, "pulls": adapter_pulls(channel), "cursor_at": None}
    return {
        "channel": code,
        "pulls": adapter_pulls(channel),
        "cursor_at": cursor.cursor_at.isoformat(),
        "pulled": cursor.pulled,
        "rejected": cursor.rejected,
        "last_error": cursor.last_error,
        "last_pull_at": cursor.last_pull_at.isoformat() if cursor.last_pull_at else None,
    }


def adapter_pulls(channel: ChannelRecord) -> bool:
    return not channel.generic and adapter_for(channel.adapter).pulls
