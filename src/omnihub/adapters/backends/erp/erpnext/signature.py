"""ERPNext (Frappe) webhook signature: ``X-Frappe-Webhook-Signature`` is the base64 HMAC-SHA256
of the raw body with the webhook's secret."""

from __future__ import annotations

from omnihub.adapters.native import hmac_sha256_b64

HEADER = "x-frappe-webhook-signature"


def webhook_signature(secret: str, body: bytes) -> str:
    return hmac_sha256_b64(secret, body)
