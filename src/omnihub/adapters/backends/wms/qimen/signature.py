"""The Qimen (奇门) signature: MD5 over the app secret, every system parameter but ``sign``
as name + value sorted by name, the raw body, and the secret again; upper-case hex.

    sign = MD5(secret + "app_key" + app_key + "customerId" + ... + "v" + "2.0" + body + secret)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def sign(secret: str, params: Mapping[str, str], body: bytes) -> str:
    text = "".join(
        f"{name}{value}"
        for name, value in sorted(params.items())
        if name != "sign" and value is not None
    )
    digest = hashlib.md5(secret.encode() + text.encode() + body + secret.encode())  # noqa: S324
    return digest.hexdigest().upper()
