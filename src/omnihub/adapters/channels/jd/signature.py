"""How the JD open platform (JOS) signs a call, and how a signed push to the hub is checked.

A router call (``/routerjson``) carries ``app_key``, ``method``, ``timestamp``
("yyyy-MM-dd HH:mm:ss", Beijing time), ``v`` ("2.0"), ``360buy_param_json`` (the business
parameters as one JSON string) and, for a shop's data, ``access_token``. The signature is
``md5(secret + k1 + v1 + k2 + v2 + ... + secret)`` in upper-case hex, over every parameter but
``sign`` sorted by name; parameters without a value are left out.

A pushed order (see the package docstring) is signed the same way over its query parameters,
with the raw body appended after them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from omnihub.platforms.local_time import SHANGHAI

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
API_VERSION = "2.0"


def jd_time(moment: datetime) -> str:
    """A moment as JD writes times: Beijing local time to the second, no offset."""
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def signing_text(params: Mapping[str, str], body: bytes = b"") -> bytes:
    """The parameters sorted by name as ``k1v1k2v2...`` (``sign`` and empty values left out),
    then the raw body if there is one."""
    pairs = "".join(
        f"{key}{params[key]}" for key in sorted(params) if key != "sign" and params[key] != ""
    )
    return pairs.encode() + body


def sign(secret: str, params: Mapping[str, str], body: bytes = b"") -> str:
    """``md5(secret + sorted k+v [+ body] + secret)``, upper-case hex."""
    digest = hashlib.md5(secret.encode() + signing_text(params, body) + secret.encode())
    return digest.hexdigest().upper()


def signed(secret: str, params: Mapping[str, str]) -> dict[str, str]:
    """The parameters with their ``sign`` added."""
    result = {key: value for key, value in params.items() if value != ""}
    result["sign"] = sign(secret, result)
    return result
