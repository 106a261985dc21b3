"""The Qimen (奇门) signature: MD5 over the app secret, every parameter but ``sign`` as name +
value sorted by name, the raw body, and the secret again; upper-case hex. As TOP's SDKs sign
(``signTopRequest``), a parameter whose value is empty takes no part: a callback carrying
``&partner_id=`` is signed without it.

    sign = MD5(secret + "app_key" + app_key + "customerId" + ... + "v" + "2.0" + body + secret)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def sign(secret: str, params: Mapping[str, str], body: bytes) -> str:
    text = "".join(
        f"{name}{value}"
        for name, value in sorted(params.items())
        if name != "sign" and name and value
    )
    digest = hashlib.md5(secret.encode() + text.encode() + body + secret.encode())  # noqa: S324
    return digest.hexdigest().upper()
