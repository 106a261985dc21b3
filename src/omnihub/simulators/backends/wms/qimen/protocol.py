"""The Qimen protocol as a warehouse speaks it, written from the published interfaces.

Every call (and every callback a WMS makes) is ``POST <router>?method=taobao.qimen.<api>&
timestamp=<yyyy-MM-dd HH:mm:ss, Beijing time>&format=xml&app_key=...&v=2.0&sign_method=md5&
customerId=...&sign=...`` with an XML body. The sign is TOP's rule for requests with a body:
the secret, then every parameter but ``sign`` whose name and value are both non-empty, as
name + value in ASCII order of the names, then the body, then the secret again; MD5 of the
UTF-8 bytes in upper-case hex. Answers are ``<response><flag>success|failure</flag><code/>
<message/>...</response>``.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from omnihub.platforms.local_time import local_text, utc_now

VERSION = "2.0"
XML_TYPE = "text/xml;charset=utf-8"
METHOD_PREFIX = "taobao.qimen."
XML_HEAD = b'<?xml version="1.0" encoding="utf-8"?>'

Node = Mapping[str, Any] | Iterable[tuple[str, Any]]
"""An element's children: (name, value) pairs; a value is text, a number, a nested node, or
None (left out)."""


def sign(secret: str, params: Mapping[str, str], body: bytes) -> str:
    signed = "".join(
        f"{name}{params[name]}"
        for name in sorted(params)
        if name != "sign" and name and params[name]
    )
    digest = hashlib.md5(secret.encode() + signed.encode() + body + secret.encode())  # noqa: S324
    return digest.hexdigest().upper()


def system_params(method: str, app_key: str, customer_id: str) -> dict[str, str]:
    return {
        "method": METHOD_PREFIX + method,
        "timestamp": local_text(utc_now()),
        "format": "xml",
        "app_key": app_key,
        "v": VERSION,
        "sign_method": "md5",
        "customerId": customer_id,
    }


def _children(node: Node) -> Iterable[tuple[str, Any]]:
    return node.items() if isinstance(node, Mapping) else node


def _append(parent: ET.Element, node: Node) -> None:
    for name, value in _children(node):
        if value is None:
            continue
        child = ET.SubElement(parent, name)
        if isinstance(value, Mapping | list):
            _append(child, value)
        else:
            child.text = str(value)


def document(root: str, node: Node) -> bytes:
    element = ET.Element(root)
    _append(element, node)
    text: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return XML_HEAD + text


def success(**fields: Any) -> bytes:
    return document("response", {"flag": "success", "code": "0", "message": "ok", **fields})


def failure(code: str, message: str) -> bytes:
    return document("response", {"flag": "failure", "code": code, "message": message})


def read(body: bytes) -> ET.Element | None:
    """The body's root element, or None for anything that is not plain XML (a warehouse does
    not expand DTDs or entities)."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        return None
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def value(element: ET.Element | None, path: str) -> str:
    """The stripped text at ``path``, "" when absent."""
    if element is None:
        return ""
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""
