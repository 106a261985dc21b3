"""What every channel and back-end adapter needs to read a platform's payloads: local times,
money, masked fields, JSON bodies and constant-time signature comparison."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from omnihub.domain.values import Money
from omnihub.platforms.local_time import SHANGHAI
from omnihub.ports import ChannelRefused, UnreadablePayload

#: "屈**", "1389289****", "*明", or the ciphertext marker of JD/Taobao encrypted fields
_MASK = re.compile(r"\*{1,}|^~.*~$|^#.*#$")


def local_time(value: Any, zone: ZoneInfo = SHANGHAI) -> datetime:
    """A platform time as an aware datetime. Text without an offset ("2026-11-11 08:00:01",
    "2026-11-11T08:00:01") is the platform's local time (Asia/Shanghai unless told); numbers
    are Unix seconds, or milliseconds when they are that large."""
    if isinstance(value, bool) or value is None or value == "":
        raise UnreadablePayload(f"expected a time, got {value!r}")
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        if number > 1e11:
            number /= 1000
        return datetime.fromtimestamp(number, tz=zone)
    text = str(value).strip().replace("/", "-")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UnreadablePayload(f"{value!r} is not a time the adapter can read") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def money(value: Any, currency: str = "CNY") -> Money:
    """An amount as platforms send it: "88.00", 88, 88.5 (yuan)."""
    if value is None or value == "":
        return Money.of("0", currency)
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise UnreadablePayload(f"{value!r} is not an amount of money") from exc
    return Money.of(amount, currency)


def fen(value: Any, currency: str = "CNY") -> Money:
    """An amount in cents (分), as Douyin, Pinduoduo's newer APIs and WeChat send it."""
    try:
        cents = int(value or 0)
    except (TypeError, ValueError) as exc:
        raise UnreadablePayload(f"{value!r} is not an amount in cents") from exc
    return Money.from_cents(cents, currency)


def quantity(value: Any) -> int:
    try:
        qty = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise UnreadablePayload(f"{value!r} is not a quantity") from exc
    if qty <= 0:
        raise UnreadablePayload(f"a line quantity must be positive, got {qty}")
    return qty


def is_masked(value: Any) -> bool:
    """True for a value the platform masked or encrypted: never guessed, kept as given."""
    return isinstance(value, str) and bool(_MASK.search(value))


def masked_fields(**values: Any) -> tuple[str, ...]:
    return tuple(name for name, value in values.items() if is_masked(value))


def text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def json_object(body: bytes | str, what: str = "body") -> dict[str, Any]:
    """A JSON object or ``UnreadablePayload`` saying why not."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadablePayload(f"the {what} is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise UnreadablePayload(f"the {what} must be a JSON object, not {type(parsed).__name__}")
    return parsed


def field(native: dict[str, Any], *path: str) -> Any:
    """A required field (nested keys allowed), or ``UnreadablePayload`` naming it."""
    node: Any = native
    for key in path:
        if not isinstance(node, dict) or key not in node or node[key] is None:
            raise UnreadablePayload(f"the payload has no {'.'.join(path)}")
        node = node[key]
    return node


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def hmac_sha256_b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac_sha256(secret, message)).decode()


def require_signature(given: str | None, expected: str, *, what: str) -> None:
    """Constant-time comparison; ``ChannelRefused`` (401) when missing or wrong."""
    if not given:
        raise ChannelRefused(f"the request has no {what}; it was not stored")
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ChannelRefused(f"the {what} does not match the channel's secret; it was not stored")


def secret_of(request_channel: Any) -> str:
    """The channel's shared secret or ``ChannelRefused`` when none is configured."""
    secret = getattr(request_channel, "secret", None)
    if not secret:
        raise ChannelRefused(
            f"channel {getattr(request_channel, 'code', '?')} has no secret configured, so no "
            "signature can be checked; set one with POST /api/v1/channels"
        )
    return str(secret)


def spread(discount: Money, amounts: list[Money]) -> list[Money]:
    """An order-level discount (JD, Pinduoduo) shared over the lines in proportion to their
    amounts, to the cent, the remainder on the last line that can take it."""
    goods = sum((a.amount for a in amounts), Decimal(0))
    if discount.amount < 0:
        raise UnreadablePayload(f"a discount cannot be negative, got {discount}")
    if discount.amount > goods:
        raise UnreadablePayload(f"the seller discount {discount} is larger than the goods {goods}")
    if discount.amount == 0 or goods == 0:
        return [Money.of("0", discount.currency) for _ in amounts]
    shares = [
        (discount.amount * a.amount / goods).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        for a in amounts
    ]
    rest = discount.amount - sum(shares, Decimal(0))
    for i in reversed(range(len(shares))):
        room = amounts[i].amount - shares[i]
        take = min(room, rest)
        shares[i] += take
        rest -= take
        if rest == 0:
            break
    return [Money.of(s, discount.currency) for s in shares]
