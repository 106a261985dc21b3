"""Errors the domain raises; each carries a stable code that the API returns as ``error.code``."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION = "validation_error"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    # catalog
    UNKNOWN_SKU = "unknown_sku"
    MAPPING_CONFLICT = "mapping_conflict"
    # locations
    UNKNOWN_LOCATION = "unknown_location"
    # inventory
    INSUFFICIENT_STOCK = "insufficient_stock"
    STOCK_RESERVED = "stock_reserved"
    RESERVATION_NOT_ACTIVE = "reservation_not_active"
    # orders
    ILLEGAL_TRANSITION = "illegal_transition"
    UNKNOWN_ACTION = "unknown_action"
    INVALID_ORDER = "invalid_order"
    WRONG_PICKUP_CODE = "wrong_pickup_code"
    PICKUP_CODE_LOCKED = "pickup_code_locked"
    # channels
    BAD_SIGNATURE = "bad_signature"
    REQUEST_EXPIRED = "request_expired"
    REPLAYED_MESSAGE = "replayed_message"
    UNREADABLE_PAYLOAD = "unreadable_payload"
    UNKNOWN_CHANNEL_STATUS = "unknown_channel_status"
    UNKNOWN_CHANNEL = "unknown_channel"
    CHANNEL_UNAVAILABLE = "channel_unavailable"
    # back ends
    BACKEND_UNAVAILABLE = "backend_unavailable"


class DomainError(Exception):
    """A rule was broken. ``code`` is machine readable, ``message`` is for a person."""

    code: ErrorCode = ErrorCode.VALIDATION

    def __init__(
        self, message: str, *, code: ErrorCode | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = ErrorCode.ALREADY_EXISTS


class InvalidInput(DomainError):
    code = ErrorCode.VALIDATION


class Conflict(DomainError):
    """The request is well formed but the current state does not allow it."""

    code = ErrorCode.STOCK_RESERVED
