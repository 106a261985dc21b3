"""How Pinduoduo's open platform signs a call, and how a signed push to the hub is checked.

A router call (``/api/router``) carries ``type`` (the API name), ``client_id``, ``timestamp``
(Unix seconds), ``data_type`` ("JSON"), ``version`` ("V1"), for a shop's data ``access_token``,
and the business parameters as plain parameters. The signature is
``md5(client_secret + k1 + v1 + k2 + v2 + ... + client_secret)`` in upper-case hex, over every
parameter but ``sign`` sorted by name; parameters without a value are left out.

A pushed order (see the package docstring) is signed the same way over its query parameters,
with the raw body appended after them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def signing_text(params: Mapping[str, str], body: bytes = b"") -> bytes:
    """The parameters sorted by name as ``k1v1k2v2...`` (``sign`` and empty values left out),
    then the raw body if there is one."""
    pairs = "".join(
        f"{key}{params[key]}" for key in sorted(params) if key != "sign" and params[key] != ""
    )
    return pairs.encode() + body


def sign(client_secret: str, params: Mapping[str, str], body: bytes = b"") -> str:
    """``md5(client_secret + sorted k+v [+ body] + client_secret)``, upper-case hex."""
    digest = hashlib.md5(
        client_secret.encode() + signing_text(params, body) + client_secret.encode()
    )
    return digest.hexdigest().upper()


def signed(client_secret: str, params: Mapping[str, str]) -> dict[str, str]:
    """The parameters with their ``sign`` added."""
    result = {key: value for key, value in params.items() if value != ""}
    result["sign"] = sign(client_secret, result)
    return result
