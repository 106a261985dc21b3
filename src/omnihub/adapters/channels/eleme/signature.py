"""饿了么 open-platform signatures.

Pushed messages (the envelope ``{"requestId", "type", "appId", "message", "shopId",
"timestamp", "signature", "userId"}``): the seven fields other than ``signature`` are sorted by
name and written as ``name=value`` one after the other, with no separator, each value as its
plain text (numbers as digits, ``message`` as the JSON text it is, a missing value as
``null``); the app secret is appended and the MD5 of the UTF-8 bytes, in upper-case hex, is
the signature::

    appId=22954133message={...}requestId=100000021764401594shopId=720032
    timestamp=1488774535366type=10userId=98587250597500702<secret>

(the scheme of the platform's ``CallbackValidationUtil`` in its SDKs).

API calls (``{"nop": "1.0.0", "id", "action", "token", "metas": {"app_key", "timestamp"},
"params": {...}, "signature"}``): the entries of ``metas`` and ``params`` together, each as
``name=<compact JSON of the value>`` (strings quoted, non-ASCII kept), sorted, joined with no
separator; the string ``action + token + joined + secret`` is hashed with MD5, upper-case hex.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: the envelope fields a push signature covers
PUSH_FIELDS = ("appId", "message", "requestId", "shopId", "timestamp", "type", "userId")


def plain(value: Any) -> str:
    """A value as the platform's Java SDK appends it to a string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def push_signature(envelope: Mapping[str, Any], secret: str) -> str:
    base = "".join(f"{name}={plain(envelope.get(name))}" for name in sorted(PUSH_FIELDS))
    return hashlib.md5((base + secret).encode("utf-8")).hexdigest().upper()


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def api_signature(
    action: str, token: str, metas: Mapping[str, Any], params: Mapping[str, Any], secret: str
) -> str:
    merged = {**metas, **params}
    joined = "".join(sorted(f"{name}={compact(value)}" for name, value in merged.items()))
    return hashlib.md5((action + token + joined + secret).encode("utf-8")).hexdigest().upper()
