"""How the 抖店 open platform signs.

Messages it pushes to us carry ``event-sign``: the hex MD5 of ``app_key + body + app_secret``
(the raw body bytes), or, when the request says ``sign-method: hmac-sha256``, the hex
HMAC-SHA256 of that same text keyed with the app secret.

Calls we make to it carry ``sign``: the parameters are written as
``app_key<k>method<m>param_json<json>timestamp<ts>v<v>`` (names in that fixed, alphabetical
order, each followed by its value), wrapped in the app secret on both sides, then hashed with
MD5 (``sign_method=md5``) or HMAC-SHA256 keyed with the app secret (``sign_method=hmac-sha256``),
as lower-case hex. ``param_json`` is the business parameters as compact JSON with keys sorted
at every level and non-ASCII text unescaped, the same bytes that are sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

MD5 = "md5"
HMAC_SHA256 = "hmac-sha256"
SIGN_METHODS = (MD5, HMAC_SHA256)
API_VERSION = "2"


class UnknownSignMethod(ValueError):
    def __init__(self, method: str) -> None:
        super().__init__(
            f"sign method {method!r} is not one the 抖店 platform uses ({', '.join(SIGN_METHODS)})"
        )


def digest(secret: str, text: bytes, method: str) -> str:
    """``text`` hashed the platform's way: plain MD5, or HMAC-SHA256 keyed with the secret."""
    if method == MD5:
        return hashlib.md5(text, usedforsecurity=False).hexdigest()
    if method == HMAC_SHA256:
        return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
    raise UnknownSignMethod(method)


def push_signature(app_key: str, app_secret: str, body: bytes, method: str = MD5) -> str:
    """The ``event-sign`` header of a pushed message."""
    return digest(app_secret, app_key.encode() + body + app_secret.encode(), method)


def param_json(params: dict[str, Any]) -> str:
    """Business parameters as the platform signs them: compact, keys sorted at every level."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_signature(
    app_key: str,
    app_secret: str,
    method: str,
    params_json: str,
    timestamp: str,
    sign_method: str = MD5,
    version: str = API_VERSION,
) -> str:
    """The ``sign`` parameter of a call to the open platform."""
    pattern = f"app_key{app_key}method{method}param_json{params_json}timestamp{timestamp}v{version}"
    return digest(app_secret, f"{app_secret}{pattern}{app_secret}".encode(), sign_method)
