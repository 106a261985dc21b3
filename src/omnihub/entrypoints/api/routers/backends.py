"""The back ends (ERP, WMS, delivery providers): which are configured (never their secrets),
their callbacks, and their full stock compares.

``POST /api/v1/backends/{code}/callbacks`` takes a callback as the system sends it: its
adapter checks the signature (refused: nothing is stored) and reads the body (unreadable: the
raw body is kept as rejected), then every document in it is applied and the system gets the
answer it expects (Qimen reads a ``flag`` in a 200; others an HTTP status). A document the hub
cannot apply yet is answered as a failure, so the system sends it again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.transport import HttpBackendGateway
from omnihub.bootstrap import Hub
from omnihub.domain.errors import DomainError, NotFound
from omnihub.entrypoints.api import presenters
from omnihub.entrypoints.api.deps import HubDep
from omnihub.ports import (
    BackendAdapter,
    BackendConfig,
    ChannelRefused,
    ConcurrentUpdate,
    InboundRequest,
    UnreadablePayload,
)
from omnihub.services import backends as services

router = APIRouter(prefix="/api/v1/backends", tags=["backends"])

_CLIENT = httpx.Client(timeout=60)
#: settings whose values are secrets (shown as set, never their value)
_SECRET_WORDS = ("secret", "token", "password", "key")
#: a callback applied while another changed the same order is applied again this often
_APPLY_ATTEMPTS = 3


def _config(hub: Hub, code: str) -> BackendConfig:
    config = hub.backends.get(code)
    if config is None:
        known = ", ".join(sorted(hub.backends)) or "none"
        raise NotFound(f"back end {code} is not configured; configured back ends: {known}")
    return config


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def describe(config: BackendConfig, known_locations: set[str]) -> dict[str, Any]:
    """A back end as configured, without its credentials' values."""
    adapter = adapter_for(config.adapter)
    rules = services.backend_rules(config)
    settings = {
        name: "(set)" if any(word in name.lower() for word in _SECRET_WORDS) else value
        for name, value in sorted(config.settings.items())
    }
    return {
        "code": config.code,
        "kind": str(config.kind),
        "adapter": config.adapter,
        "endpoint": _public_url(config.endpoint),
        "locations": list(config.locations),
        "unknown_locations": [loc for loc in config.locations if loc not in known_locations],
        "warehouses": dict(config.warehouses),
        "skus": dict(config.skus),
        "credentials": sorted(config.credentials),
        "settings": settings,
        "timeout_seconds": config.timeout_seconds,
        "receives_callbacks": adapter.receives_callbacks,
        "callback_path": f"/api/v1/backends/{config.code}/callbacks"
        if adapter.receives_callbacks
        else None,
        "rules": {
            "compare": str(rules.compare),
            "correct_max_units": rules.correct_max_units,
            "reroute_attempts": rules.reroute_attempts,
            "poll": rules.poll,
        },
    }


def _known_locations(hub: Hub) -> set[str]:
    with hub.read_uow() as uow:
        return {location.code for location in uow.locations.list()}


@router.get("")
def list_backends(hub: HubDep) -> dict[str, Any]:
    """Every configured back end (credentials named, never shown); ``unknown_locations`` lists
    served locations the hub has no record of yet."""
    known = _known_locations(hub)
    return {"items": [describe(hub.backends[code], known) for code in sorted(hub.backends)]}


@router.get("/{code}")
def get_backend(code: str, hub: HubDep) -> dict[str, Any]:
    config = _config(hub, code)
    body = describe(config, _known_locations(hub))
    stores = hub.integration
    cursor = stores.cursors.get(f"backend:{code}")
    body["poll"] = (
        None
        if cursor is None
        else {
            "cursor_at": cursor.cursor_at.isoformat(),
            "documents": cursor.pulled,
            "last_error": cursor.last_error,
        }
    )
    counts: dict[str, int] = {}
    for endpoint, status, deliveries, _ in stores.deliveries.counts():
        if endpoint == f"backend:{code}":
            counts[status] = deliveries
    body["deliveries"] = counts
    return body


@router.post("/{code}/callbacks")
async def receive_callback(code: str, request: Request, hub: HubDep) -> Response:
    """A callback of the back end, answered the way it expects (see the module's text)."""
    config = _config(hub, code)
    adapter = adapter_for(config.adapter)
    if not adapter.receives_callbacks:
        raise NotFound(f"back end {code} ({config.adapter}) sends no callbacks; the hub polls it")
    inbound = InboundRequest(
        body=await request.body(),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
    )
    return await run_in_threadpool(_receive, hub, config, adapter, inbound)


def _answer(
    adapter: BackendAdapter, error: str | None = None, *, refused: bool = False
) -> Response:
    reply = adapter.reply(error)
    status = 401 if refused and reply.status != 200 else reply.status
    return Response(reply.body, status_code=status, media_type=reply.content_type)


def _receive(
    hub: Hub, config: BackendConfig, adapter: BackendAdapter, inbound: InboundRequest
) -> Response:
    raw = inbound.body.decode("utf-8", "replace")
    try:
        documents = adapter.parse_callback(config, inbound)
    except ChannelRefused as exc:  # not the system's (or not signed by it): nothing stored
        return _answer(adapter, exc.message, refused=True)
    except UnreadablePayload as exc:
        services.keep_rejected_callback(hub.uow(), hub.clock.now(), config.code, raw, exc.message)
        return _answer(adapter, exc.message)
    rules = services.backend_rules(config)
    for attempt in range(1, _APPLY_ATTEMPTS + 1):
        try:
            services.receive_documents(
                hub.uow(),
                hub.clock.now(),
                config.code,
                documents,
                raw,
                policy=hub.policy,
                rules=rules,
            )
        except ConcurrentUpdate:
            if attempt < _APPLY_ATTEMPTS:
                continue
            return _answer(adapter, "the order changed meanwhile; send it again")
        except DomainError as exc:  # kept for a person; the system sends it again
            services.keep_rejected_callback(
                hub.uow(), hub.clock.now(), config.code, raw, exc.message
            )
            return _answer(adapter, exc.message)
        break
    return _answer(adapter)


@router.get("/{code}/compares")
def list_compares(code: str, hub: HubDep, limit: int = Query(10, ge=1, le=200)) -> dict[str, Any]:
    """The full compares of the hub's stock with this back end's, newest first."""
    _config(hub, code)
    with hub.read_uow() as uow:
        reports = uow.backends.compares(code, limit)
    return {"items": [presenters.compare_report(r) for r in reports]}


@router.get("/{code}/compare")
def latest_compare(code: str, hub: HubDep) -> dict[str, Any]:
    """The newest full compare: each difference (hub, back end, whether it was corrected and
    why not), what was skipped and the back end's warehouses the config does not map."""
    _config(hub, code)
    with hub.read_uow() as uow:
        reports = uow.backends.compares(code, 1)
    if not reports:
        raise NotFound(f"back end {code} was not compared yet; POST to compare it now")
    return presenters.compare_report(reports[0])


@router.post("/{code}/compare")
def run_compare(code: str, hub: HubDep) -> dict[str, Any]:
    """Compare now (by the back end's ``compare`` rule: list, or list and correct)."""
    config = _config(hub, code)
    if config.kind.value == "delivery":
        raise NotFound(f"back end {code} is a delivery provider; it holds no stock to compare")
    report = services.compare_now(
        config, HttpBackendGateway(_CLIENT), hub.uow, hub.read_uow, hub.clock
    )
    return presenters.compare_report(report)


@router.get("/{code}/costs")
def item_costs(
    code: str,
    hub: HubDep,
    sku: list[str] = Query(default_factory=list, description="our SKU codes (repeat the name)"),
) -> dict[str, Any]:
    """The ERP's item costs of the SKUs named, read from it now (``?sku=A&sku=B``, up to
    200); ``missing`` lists those it keeps no cost for. 503 when the ERP does not answer."""
    config = _config(hub, code)
    costs, missing = services.costs_now(config, sku, HttpBackendGateway(_CLIENT))
    return {
        "backend": config.code,
        "items": [
            {
                "sku": c.sku,
                "cost": str(c.cost.amount),
                "currency": c.cost.currency,
                "location": c.location,
            }
            for c in costs
        ],
        "missing": missing,
    }
