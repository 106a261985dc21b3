"""How Shopify signs a webhook: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw
request body, keyed with the app's client secret (the channel's ``secret``). Only the body is
signed; the other ``X-Shopify-*`` headers are not."""

from __future__ import annotations

from omnihub.adapters.native import hmac_sha256_b64, require_signature

HEADER = "X-Shopify-Hmac-Sha256"


def sign(secret: str, body: bytes) -> str:
    """The header value Shopify sends with ``body``."""
    return hmac_sha256_b64(secret, body)


def check(secret: str, body: bytes, given: str | None) -> None:
    """``ChannelRefused`` unless ``given`` is the signature of exactly these bytes."""
    require_signature(given, sign(secret, body), what=f"{HEADER} signature")
