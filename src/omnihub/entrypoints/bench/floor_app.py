"""The HTTP floor: a FastAPI app whose order endpoint does nothing, served by uvicorn exactly as
``omnihub serve`` serves the hub (same workers, loop, HTTP parser, log level, no access log).

``POST /api/v1/orders`` reads the body and answers 201: the cost of HTTP and FastAPI alone.
``POST /api/v1/orders/parse`` also validates the body with the hub's own ``OrderIn`` schema: the
floor of any endpoint that accepts a canonical order.
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def create_app() -> FastAPI:
    from omnihub.entrypoints.api.schemas import OrderIn

    app = FastAPI(title="omnihub bench floor")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/orders")
    async def empty(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"outcome": "created"}, status_code=201)

    @app.post("/api/v1/orders/parse")
    async def parse(request: Request) -> JSONResponse:
        body = OrderIn.model_validate_json(await request.body())
        return JSONResponse({"outcome": "created", "lines": len(body.lines)}, status_code=201)

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "omnihub.entrypoints.bench.floor_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
