"""The FastAPI application: routers, error handling and the background sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from omnihub import __version__
from omnihub.bootstrap import Hub, bootstrap
from omnihub.entrypoints.api import errors
from omnihub.entrypoints.api.routers import catalog, inventory, locations, operations, orders
from omnihub.services.inventory import expire_reservations

log = logging.getLogger("omnihub.workers")


async def _sweeper(hub: Hub) -> None:
    """Release expired reservations every few seconds (safe with several workers)."""
    while True:
        await asyncio.sleep(hub.settings.sweep_interval_seconds)
        try:
            expired = await run_in_threadpool(expire_reservations, hub.uow(), hub.clock)
            if expired:
                log.info("released %d expired reservation(s)", expired)
        except Exception:  # keep sweeping; the failure is logged with its traceback
            log.exception("reservation sweep failed")


def create_app(hub: Hub | None = None, *, sweeper: bool = True) -> FastAPI:
    hub = hub or bootstrap()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweeper(hub)) if sweeper else None
        yield
        if task is not None:
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
    errors.install(app)
    for module in (catalog, locations, inventory, orders, operations):
        app.include_router(module.router)
    app.add_middleware(errors.BodyLimit, limit=hub.settings.max_body_bytes)
    return app
