"""Which HTTP answers a later attempt may cure, whatever the platform."""

from __future__ import annotations

#: request timeout and rate limit; every 5xx is retryable as well
RETRYABLE_STATUSES = frozenset({408, 429})


def retryable_status(status: int) -> bool:
    """True for a rate limit, a timeout or a server error: the same call may pass later."""
    return status in RETRYABLE_STATUSES or status >= 500
