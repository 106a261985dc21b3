"""How the store tills sign: exactly as our mini-program's back end does (one scheme for every
system of our own, the same as the hub's webhooks), so this module only names it for the POS.

``X-Omnihub-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``,
``X-Omnihub-Timestamp`` (Unix seconds), ``X-Request-Id`` (one per message).
"""

from __future__ import annotations

from omnihub.adapters.channels.miniapp.signature import (
    REQUEST_ID,
    SIGNATURE,
    TIMESTAMP,
    signature,
    signed_headers,
    verify,
)

__all__ = ["REQUEST_ID", "SIGNATURE", "TIMESTAMP", "signature", "signed_headers", "verify"]
