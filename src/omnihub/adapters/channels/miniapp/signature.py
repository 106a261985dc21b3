"""How the WeChat mini-program's back end signs: the hub's own scheme
(``omnihub.adapters.omnihub_signature``), the same as the hub's webhooks.

``X-Omnihub-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``,
``X-Omnihub-Timestamp`` (Unix seconds), ``X-Request-Id`` (one per message).
"""

from __future__ import annotations

from omnihub.adapters.omnihub_signature import (
    REQUEST_ID,
    SIGNATURE,
    TIMESTAMP,
    signature,
    signed_headers,
    verify,
)

__all__ = ["REQUEST_ID", "SIGNATURE", "TIMESTAMP", "signature", "signed_headers", "verify"]
