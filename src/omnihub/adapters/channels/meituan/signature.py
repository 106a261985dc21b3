"""美团 (Meituan) open-platform signature, for the platform's pushes and for our calls alike.

``sig`` is the lower-case hex MD5 of::

    <URL without its query> + "?" + "&".join(f"{name}={value}" for the parameters sorted by
    name, every parameter but sig, system ones (app_id, timestamp) included) + <app secret>

Values are used as they read after URL decoding (never percent-encoded), empty values
included. For a push the URL is the callback URL registered with the platform (the hub's
``POST /api/v1/channels/<code>/orders`` as the platform calls it, ``credentials.callback_url``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

SIG = "sig"


def base_string(url: str, params: Mapping[str, str], secret: str) -> str:
    joined = "&".join(f"{name}={params[name]}" for name in sorted(params) if name != SIG)
    return f"{url}?{joined}{secret}"


def sig(url: str, params: Mapping[str, str], secret: str) -> str:
    return hashlib.md5(base_string(url, params, secret).encode("utf-8")).hexdigest()
