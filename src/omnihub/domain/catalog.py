"""Master data: the one SKU code every channel's product ids map to (统一商品编码)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from omnihub.domain.errors import InvalidInput
from omnihub.domain.values import Money

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")


def valid_code(value: str, what: str) -> str:
    value = value.strip()
    if not _CODE.match(value):
        raise InvalidInput(
            f"{what} {value!r} is not valid: use 1-64 letters, digits or . _ : / - "
            "and start with a letter or digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class Sku:
    code: str
    name: str
    price: Money
    barcode: str | None = None

    def __post_init__(self) -> None:
        valid_code(self.code, "sku")
        if not self.name.strip():
            raise InvalidInput("a SKU needs a name")
        if self.price.amount < 0:
            raise InvalidInput("a price cannot be negative")


@dataclass(frozen=True, slots=True)
class ChannelMapping:
    """A channel's listing (its own product/sku id) bound to one master SKU."""

    channel: str
    channel_sku: str
    sku: str

    def __post_init__(self) -> None:
        valid_code(self.channel, "channel")
        if not self.channel_sku.strip():
            raise InvalidInput("channel_sku must not be empty")
        valid_code(self.sku, "sku")
