"""Dada's two signatures.

Requests: MD5 of the app secret, every parameter but ``signature`` as name + value sorted by
name (``app_key``, ``body``, ``format``, ``source_id``, ``timestamp``, ``v``), and the secret
again; upper-case hex.

Callbacks: MD5 of the values of ``client_id``, ``order_id`` and ``update_time``, sorted as
text and joined; lower-case hex. It uses no secret, so it proves a body was not garbled but
not who sent it: the adapter also checks a token the hub puts in the callback URL it gives
Dada (``settings.callback_token``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def request_signature(app_secret: str, params: Mapping[str, str]) -> str:
    text = "".join(
        f"{name}{value}" for name, value in sorted(params.items()) if name != "signature"
    )
    return hashlib.md5((app_secret + text + app_secret).encode()).hexdigest().upper()  # noqa: S324


def callback_signature(client_id: object, order_id: object, update_time: object) -> str:
    values = sorted(str(v) for v in (client_id, order_id, update_time))
    return hashlib.md5("".join(values).encode()).hexdigest()  # noqa: S324
