"""The hub's own signing scheme: how our own systems (the WeChat mini-program's server, the
store tills) sign what they send the hub, and how the hub signs what it sends them and its
webhooks. One scheme, written once; the channel folders name it for their system.

``X-Omnihub-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` with
``X-Omnihub-Timestamp`` (Unix seconds, part of what is signed) and ``X-Request-Id`` (a unique id
per message: a second delivery of the same id is a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

from omnihub.adapters.native import require_signature
from omnihub.ports import ChannelRefused, InboundRequest, Verified

SIGNATURE = "X-Omnihub-Signature"
TIMESTAMP = "X-Omnihub-Timestamp"
REQUEST_ID = "X-Request-Id"
PREFIX = "sha256="


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return PREFIX + digest.hexdigest()


def signed_headers(
    secret: str, body: bytes, request_id: str, timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        SIGNATURE: signature(secret, stamp, body),
        TIMESTAMP: stamp,
        REQUEST_ID: request_id,
    }


def verify(secret: str, request: InboundRequest) -> Verified:
    """Check the signature; the timestamp and request id go back to the caller, which checks
    the clock window and replays."""
    stamp = (request.header(TIMESTAMP) or "").strip()
    if not stamp:
        raise ChannelRefused(f"the request has no {TIMESTAMP}; it was not stored")
    if not stamp.isdigit():
        raise ChannelRefused(f"{TIMESTAMP} must be Unix seconds, not {stamp!r}; it was not stored")
    require_signature(
        request.header(SIGNATURE), signature(secret, stamp, request.body), what=SIGNATURE
    )
    request_id = (request.header(REQUEST_ID) or "").strip()
    if not request_id:
        raise ChannelRefused(f"the request has no {REQUEST_ID}; it was not stored")
    try:
        sent_at = datetime.fromtimestamp(int(stamp), UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ChannelRefused(f"{TIMESTAMP} {stamp} is not a time; it was not stored") from exc
    return Verified(message_id=request_id, sent_at=sent_at)
