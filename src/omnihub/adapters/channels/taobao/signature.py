"""TOP (Taobao Open Platform) signatures.

Every TOP call is signed over its parameters: drop ``sign`` (and empty values), sort the rest
by name in ASCII order, concatenate each name and value (``k1v1k2v2...``), then

- ``md5``: MD5 of ``secret + string + secret``,
- ``hmac``: HMAC-MD5 of the string keyed with the secret,
- ``hmac-sha256``: HMAC-SHA256 of the string keyed with the secret,

written as upper-case hex. A request whose payload travels as a body rather than as parameters
(TOP's pushes to a receiver) appends the raw body to the string before signing, the way TOP
signs such calls; outbound API calls have no such body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from omnihub.adapters.native import require_signature
from omnihub.ports import ChannelRefused

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def string_to_sign(params: Mapping[str, object]) -> str:
    """``k1v1k2v2...`` over the parameters sorted by name, without ``sign`` and empty values."""
    return "".join(
        f"{name}{params[name]}"
        for name in sorted(params)
        if name != "sign" and params[name] is not None and str(params[name]) != ""
    )


def top_sign(
    params: Mapping[str, object], secret: str, sign_method: str = "md5", body: bytes = b""
) -> str:
    """The upper-case hex signature TOP expects in ``sign``."""
    message = string_to_sign(params).encode("utf-8") + body
    key = secret.encode("utf-8")
    if sign_method == "md5":
        digest = hashlib.md5(key + message + key).hexdigest()
    elif sign_method == "hmac":
        digest = hmac.new(key, message, hashlib.md5).hexdigest()
    elif sign_method == "hmac-sha256":
        digest = hmac.new(key, message, hashlib.sha256).hexdigest()
    else:
        known = ", ".join(SIGN_METHODS)
        raise ValueError(f"TOP has no sign_method {sign_method!r}; it has {known}")
    return digest.upper()


def signed(params: Mapping[str, object], secret: str, sign_method: str = "md5") -> dict[str, str]:
    """The parameters with ``sign_method`` and ``sign`` added, every value as text."""
    out = {k: str(v) for k, v in params.items() if v is not None and str(v) != ""}
    out["sign_method"] = sign_method
    out["sign"] = top_sign(out, secret, sign_method)
    return out


def verify(params: Mapping[str, str], secret: str, body: bytes = b"") -> None:
    """``ChannelRefused`` (401) unless ``params["sign"]`` is the TOP signature of the
    parameters (and body) made with ``secret`` and ``params["sign_method"]`` (md5 if absent)."""
    method = params.get("sign_method") or "md5"
    if method not in SIGN_METHODS:
        raise ChannelRefused(
            f"sign_method {method!r} is not one TOP uses ({', '.join(SIGN_METHODS)}); "
            "the request was not stored"
        )
    given = params.get("sign")
    require_signature(
        given.upper() if given else given, top_sign(params, secret, method, body), what="TOP sign"
    )
