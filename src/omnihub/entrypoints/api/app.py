"""The FastAPI application: routers, error handling and the background sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI, Response
from fastapi.concurrency import run_in_threadpool

from omnihub import __version__
from omnihub.bootstrap import Hub, bootstrap
from omnihub.entrypoints.api import errors
from omnihub.entrypoints.api.routers import (
    backends,
    catalog,
    channels,
    integration,
    inventory,
    locations,
    operations,
    orders,
    routing,
)
from omnihub.services import routing as routing_services

log = logging.getLogger("omnihub.workers")


async def _every(seconds: float, name: str, job: Callable[[], object]) -> None:
    """Run ``job`` in a thread every ``seconds``; a failure is logged and the loop goes on."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(job)
        except Exception:  # keep the worker alive; the traceback is in the log
            log.exception("%s failed", name)


def _sweep(hub: Hub) -> None:
    """Release expired reservations; cancel the store pickups whose hold ran out."""
    expired = routing_services.expire_reservations(hub.uow(), hub.clock)
    if expired:
        log.info("released %d expired reservation(s)", expired)


def _release(hub: Hub) -> None:
    routing_services.release_due(hub.uow(), hub.clock.now(), hub.policy)


def _sync_rules(hub: Hub) -> None:
    if routing_services.sync_review_rules(hub.read_uow(), hub.policy):
        log.info("review rules version %d loaded", hub.policy.rules_version)


def _bootstrap() -> Hub:
    """The hub of the settings; a back-end config with problems stops the process with the
    list of them (one per line), rather than a server that half works."""
    from omnihub.ports import InvalidBackendConfig

    try:
        return bootstrap()
    except InvalidBackendConfig as exc:
        raise SystemExit(problems_text(exc.problems)) from None


def problems_text(problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"the back-end config has {len(problems)} problem(s); the hub does not start:\n{lines}"


def create_app(hub: Hub | None = None, *, sweeper: bool = True) -> FastAPI:
    hub = hub or _bootstrap()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if sweeper:
            settings = hub.settings
            tasks = [
                asyncio.create_task(
                    _every(
                        settings.sweep_interval_seconds, "reservation sweep", lambda: _sweep(hub)
                    )
                ),
                asyncio.create_task(
                    _every(
                        settings.release_interval_seconds, "order release", lambda: _release(hub)
                    )
                ),
                asyncio.create_task(_every(2.0, "review rules sync", lambda: _sync_rules(hub))),
            ]
        workers = None
        if sweeper and hub.settings.workers:
            from omnihub.entrypoints.workers import start_workers

            workers = await run_in_threadpool(start_workers, hub)
        app.state.workers = workers
        yield
        if workers is not None:
            await run_in_threadpool(workers.close)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="omnihub",
        version=__version__,
        description="One truth for orders, stock, members and money across every sales channel.",
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.workers = None

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        from omnihub.entrypoints.api.metrics import render

        return Response(
            render(hub, app.state.workers), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    errors.install(app)
    for module in (
        catalog,
        locations,
        inventory,
        orders,
        routing,
        integration,
        channels,
        backends,
        operations,
    ):
        app.include_router(module.router)
    app.add_middleware(errors.NoNulInUrl)
    app.add_middleware(errors.BodyLimit, limit=hub.settings.max_body_bytes)
    return app
