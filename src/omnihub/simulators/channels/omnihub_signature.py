"""How our own systems (the mini-program's back end, the store tills) sign what they exchange
with the hub: the scheme of the hub's webhooks, as docs/integration.md gives it. Written here
for the simulators of those systems, apart from the adapters that check it on the hub's side.

``X-Omnihub-Signature: sha256=<hex HMAC-SHA256 of "timestamp.body">`` keyed with the shared
secret, ``X-Omnihub-Timestamp`` (Unix seconds, part of what is signed) and ``X-Request-Id``
(one per message).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE = "X-Omnihub-Signature"
TIMESTAMP = "X-Omnihub-Timestamp"
REQUEST_ID = "X-Request-Id"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp + "." + body``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(
    secret: str, body: bytes, request_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of a signed JSON request (now, unless ``timestamp`` says otherwise)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        SIGNATURE: signature(secret, stamp, body),
        TIMESTAMP: stamp,
        REQUEST_ID: request_id,
    }


def refusal(secret: str, headers: dict[str, str], body: bytes, max_skew_seconds: int) -> str | None:
    """Why a request the hub sent is refused (``headers`` with lower-case names), or None when
    it is signed with ``secret``, fresh and has a request id."""
    stamp = headers.get(TIMESTAMP.lower(), "").strip()
    if not stamp.isdigit():
        return f"{TIMESTAMP} {stamp!r} is not Unix seconds"
    given = headers.get(SIGNATURE.lower(), "")
    if not hmac.compare_digest(given.encode(), signature(secret, stamp, body).encode()):
        return f"{SIGNATURE} does not match the body"
    if abs(time.time() - int(stamp)) > max_skew_seconds:
        return "the timestamp is outside the window"
    if not headers.get(REQUEST_ID.lower(), "").strip():
        return f"the request has no {REQUEST_ID}"
    return None
