"""What every back-end adapter needs on the wire: JSON bodies, the system's local time, and
answers that are errors whatever the system's format."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from omnihub.adapters.native import local_time
from omnihub.platforms.local_time import SHANGHAI, local_text
from omnihub.platforms.retry import retryable_status
from omnihub.ports import Answer, CallRefused, OutboundRequest, UnreadablePayload

__all__ = [
    "SHANGHAI",
    "decode",
    "dumps",
    "json_request",
    "local_text",
    "local_time",
    "read_time",
    "refuse_http",
    "whole_number",
]


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_request(
    method: str,
    url: str,
    payload: Any | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> OutboundRequest:
    merged = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    body = dumps(payload) if payload is not None else b""
    return OutboundRequest(method, url, merged, body, params)


def refuse_http(answer: Answer, system: str) -> None:
    """``CallRefused`` for an HTTP status that is an error before any body is read: rate
    limits and server errors may pass (retry), authentication never will."""
    status = answer.status
    if retryable_status(status):
        raise CallRefused(
            f"{system} answered HTTP {status}: {_excerpt(answer)}",
            retry=True,
            code=f"http_{status}",
        )
    if status in (401, 403):
        raise CallRefused(
            f"{system} refused our credentials (HTTP {status}): {_excerpt(answer)}",
            retry=False,
            code="auth",
        )


def decode(answer: Answer, system: str) -> Any:
    """The answer's JSON; an answer that is not JSON is the system failing (retry)."""
    try:
        return json.loads(answer.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallRefused(
            f"{system} answered HTTP {answer.status} with a body that is not "
            f"JSON: {_excerpt(answer)}",
            retry=True,
            code="bad_answer",
        ) from exc


def _excerpt(answer: Answer) -> str:
    return answer.body[:300].decode("utf-8", "replace")


def read_time(value: Any, what: str) -> datetime:
    try:
        return local_time(value)
    except UnreadablePayload as exc:
        raise UnreadablePayload(f"{what}: {exc.message}") from exc


def whole_number(value: Any, what: str) -> int:
    """A quantity the system sends as 3, 3.0 or "3"; fractional ones are refused."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise UnreadablePayload(f"{what} {value!r} is not a number") from exc
    if number != int(number):
        raise UnreadablePayload(f"{what} {value!r} is not a whole number")
    return int(number)
