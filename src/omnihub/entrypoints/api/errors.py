"""Every error leaves as ``{"error": {"code", "message", "details"}}``; bad input is never a 500."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omnihub.domain.errors import DomainError, ErrorCode, NotFound

log = logging.getLogger("omnihub.api")

_CONFLICTS = {
    ErrorCode.ALREADY_EXISTS,
    ErrorCode.MAPPING_CONFLICT,
    ErrorCode.INSUFFICIENT_STOCK,
    ErrorCode.STOCK_RESERVED,
    ErrorCode.RESERVATION_NOT_ACTIVE,
    ErrorCode.ILLEGAL_TRANSITION,
}

_BY_CODE = {
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.REQUEST_EXPIRED: 401,
    ErrorCode.REPLAYED_MESSAGE: 409,
    ErrorCode.UNREADABLE_PAYLOAD: 400,
    ErrorCode.UNKNOWN_CHANNEL_STATUS: 400,
    ErrorCode.CHANNEL_UNAVAILABLE: 503,
    ErrorCode.BACKEND_UNAVAILABLE: 503,
    ErrorCode.UNKNOWN_CHANNEL: 404,
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def status_for(exc: DomainError, method: str) -> int:
    if exc.code in _BY_CODE:
        return _BY_CODE[exc.code]
    if isinstance(exc, NotFound):
        # a missing thing named in the path is 404; named in a body it is a bad request
        return 404 if method in ("GET", "DELETE") or exc.code is ErrorCode.NOT_FOUND else 422
    if exc.code in _CONFLICTS:
        return 409
    return 422


def _describe(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in errors:
        where = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        problem = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        details.append({"field": where or "body", "problem": problem})
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    if len(details) > 5:
        summary += f"; and {len(details) - 5} more"
    return summary, details


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = status_for(exc, request.method)
        return JSONResponse(
            error_body(str(exc.code), exc.message, exc.details),
            status_code=status,
            headers={"Retry-After": "30"} if status == 503 else None,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(err.get("type") == "json_invalid" for err in errors):
            return JSONResponse(
                error_body(
                    "malformed_json",
                    "the request body is not valid JSON",
                    {"problem": errors[0].get("ctx", {}).get("error", "")},
                ),
                status_code=400,
            )
        summary, details = _describe(errors)
        return JSONResponse(
            error_body(str(ErrorCode.VALIDATION), summary, {"fields": details}), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"there is no {request.url.path}; see /docs for the API"
        return JSONResponse(error_body(code, message), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "the hub failed to handle this request; it is logged"),
            status_code=500,
        )


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise StarletteHTTPException(413, self._message())
            return message

        await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.limit} bytes"

    async def _refuse(self, send: Send) -> None:
        await _send_error(send, 413, error_body("body_too_large", self._message()))


class NoNulInUrl:
    """Refuse a path or query with a NUL character (%00): no name or id has one, and PostgreSQL
    cannot even compare text holding one (it would be a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "")
            or b"\x00" in unquote_to_bytes(scope.get("query_string", b""))
        ):
            await _send_error(
                send,
                422,
                error_body(
                    str(ErrorCode.VALIDATION),
                    "the URL contains a NUL character (%00); no name or id in the hub has one",
                ),
            )
            return
        await self.app(scope, receive, send)


async def _send_error(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
