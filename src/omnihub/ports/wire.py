"""What crosses the wire between the hub and an outside system, as the adapters see it: a
request received (raw bytes, headers, query), a request to send, and how an answer or a
request is refused. Channel and back-end adapters share these; the HTTP transports do the I/O."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from omnihub.domain.errors import DomainError, ErrorCode

T = TypeVar("T")


class ChannelRefused(DomainError):
    """An inbound request is refused before anything is stored: bad signature (401), a
    timestamp outside the window (401), a message id seen before (409)."""

    code = ErrorCode.BAD_SIGNATURE


class UnreadablePayload(DomainError):
    """The adapter cannot read the body (400); the raw body is kept in the inbound log."""

    code = ErrorCode.UNREADABLE_PAYLOAD


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A request a platform made to the hub, as received: raw bytes, headers (lower-case
    names) and query parameters."""

    body: bytes
    headers: dict[str, str]
    query: dict[str, str]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] | None = None


class CallRefused(Exception):
    """The platform answered with an error. ``retry`` says whether a later attempt may work
    (rate limits, outages) or never will (bad data, an order closed on the platform)."""

    def __init__(self, message: str, *, retry: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.code = code


@dataclass(frozen=True, slots=True)
class Answer:
    """What the system answered to one request."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    """lower-case names"""


Exchange = Generator[OutboundRequest, Answer, T]
"""An operation as a conversation: yields requests, is sent answers, returns its result."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer a receiver of the system's callbacks gives (status, body, content type)."""

    status: int
    body: bytes
    content_type: str = "application/json"
