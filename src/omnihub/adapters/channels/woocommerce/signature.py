"""How WooCommerce signs a webhook delivery: ``X-WC-Webhook-Signature`` is the base64
HMAC-SHA256 of the raw body (the JSON exactly as sent), keyed with the webhook's secret (the
channel's ``secret``). The ping WooCommerce sends when a webhook is created is not signed."""

from __future__ import annotations

import re

from omnihub.adapters.native import hmac_sha256_b64, require_signature

HEADER = "X-WC-Webhook-Signature"
#: the body of the ping sent when a webhook is saved: form-encoded, no X-WC-* headers
PING = re.compile(rb"^webhook_id=\d+$")


def sign(secret: str, body: bytes) -> str:
    """The header value WooCommerce sends with ``body``."""
    return hmac_sha256_b64(secret, body)


def check(secret: str, body: bytes, given: str | None) -> None:
    """``ChannelRefused`` unless ``given`` is the signature of exactly these bytes."""
    require_signature(given, sign(secret, body), what=f"{HEADER} signature")


def is_ping(body: bytes, topic: str | None) -> bool:
    return topic is None and bool(PING.match(body.strip()))
