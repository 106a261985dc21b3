"""Automatic order review (自动审单): readable rules that hold an order for a person.

Rules come from a TOML file. Each ``[[rule]]`` names a condition (``when``), its parameters, and
the reason code the order is held with (``hold``). ``[[service]]`` entries upgrade the delivery
service by member tier (R-24). A file with a mistake is refused whole with the line and the
problem, so the rules in force never end up half-loaded.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Order

DEFAULT_RULES = """\
# omnihub automatic review (自动审单). Each [[rule]] holds a paid order for a person when its
# condition matches; `hold` is the reason code shown in the exception queue.

[[rule]]
when = "address_incomplete"   # province, city and street address are all needed to ship
hold = "address_incomplete"

[[rule]]
when = "buyer_remark"         # the buyer wrote something: a person reads it first
hold = "buyer_remark"

[[rule]]
when = "total_above"
amount = "20000.00"
hold = "amount_anomaly"

[[rule]]
when = "total_mismatch"       # total differs from lines + shipping by more than the tolerance
tolerance = "1.00"
hold = "amount_anomaly"

[[rule]]
when = "too_many_units"       # more units of one SKU than anyone buys for themselves
max_units = 50
hold = "risky_quantity"

[[rule]]
when = "payment_missing"      # paid, not cash on delivery, and no payment record
hold = "payment_missing"

[[rule]]
when = "blacklisted"
buyers = []
phones = []
addresses = []
hold = "blacklisted"

[[service]]
tier = "vip"                  # VIP members: next-day from the nearest warehouse, free shipping
service_level = "next_day"
free_shipping = true
prefer_warehouse = true
"""


class RuleFileError(DomainError):
    code = ErrorCode.VALIDATION

    def __init__(self, line: int | None, problem: str) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(
            f"the review rules were not loaded: {where}{problem}",
            details={"line": line, "problem": problem},
        )


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    hold: str
    message: str


@dataclass(frozen=True, slots=True)
class ServiceUpgrade:
    tier: str
    service_level: str | None = None
    free_shipping: bool = False
    prefer_warehouse: bool = False


Check = Callable[[Order], str | None]


@dataclass(frozen=True, slots=True)
class Rule:
    when: str
    hold: str
    check: Check


@dataclass(frozen=True)
class ReviewRules:
    rules: tuple[Rule, ...] = ()
    services: tuple[ServiceUpgrade, ...] = ()
    source: str = ""

    def review(self, order: Order) -> list[Finding]:
        findings = []
        for rule in self.rules:
            message = rule.check(order)
            if message:
                findings.append(Finding(rule.when, rule.hold, message))
        return findings

    def service_for(self, tier: str | None) -> ServiceUpgrade | None:
        if not tier:
            return None
        return next((s for s in self.services if s.tier == tier.lower()), None)


# -- conditions -------------------------------------------------------------------------------


def _address_incomplete(_: dict[str, Any]) -> Check:
    def check(order: Order) -> str | None:
        if order.delivery is DeliveryMode.PICKUP:
            return None
        a = order.ship_to
        missing = [
            name
            for name, value in (("province", a.province), ("city", a.city), ("address", a.address))
            if not (value or "").strip()
        ]
        return f"the address has no {', '.join(missing)}" if missing else None

    return check


def _buyer_remark(_: dict[str, Any]) -> Check:
    def check(order: Order) -> str | None:
        remark = order.remark.strip()
        return f"the buyer wrote: {remark[:120]}" if remark else None

    return check


def _total_above(params: dict[str, Any]) -> Check:
    limit = _amount(params, "amount")

    def check(order: Order) -> str | None:
        if order.total.amount > limit:
            return f"the total {order.total} is above {limit}"
        return None

    return check


def _total_mismatch(params: dict[str, Any]) -> Check:
    tolerance = _amount(params, "tolerance")

    def check(order: Order) -> str | None:
        expected = order.lines_total.amount + order.shipping_fee.amount
        if abs(order.total.amount - expected) > tolerance:
            return f"the total {order.total} differs from lines + shipping {expected:.2f}"
        return None

    return check


def _too_many_units(params: dict[str, Any]) -> Check:
    limit = params.get("max_units")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError("max_units must be a whole number of 1 or more")

    def check(order: Order) -> str | None:
        units: dict[str, int] = {}
        for line in order.lines:
            key = line.sku or line.channel_sku
            units[key] = units.get(key, 0) + line.qty
        over = sorted(k for k, v in units.items() if v > limit)
        return f"more than {limit} units of {', '.join(over)}" if over else None

    return check


def _payment_missing(_: dict[str, Any]) -> Check:
    def check(order: Order) -> str | None:
        if order.is_paid and not order.cod and order.payment is None:
            return "the order is paid but carries no payment record, and it is not COD"
        return None

    return check


def _blacklisted(params: dict[str, Any]) -> Check:
    buyers = _strings(params, "buyers")
    phones = {re.sub(r"\D", "", p) for p in _strings(params, "phones")}
    addresses = _strings(params, "addresses")

    def check(order: Order) -> str | None:
        if order.buyer.channel_buyer_id and order.buyer.channel_buyer_id in buyers:
            return f"buyer {order.buyer.channel_buyer_id} is blacklisted"
        for phone in (order.buyer.phone, order.ship_to.phone):
            if phone and re.sub(r"\D", "", phone) in phones:
                return "the phone number is blacklisted"
        street = order.ship_to.address or ""
        hit = next((a for a in addresses if a and a in street), None)
        return f"the address matches blacklisted {hit!r}" if hit else None

    return check


CONDITIONS: dict[str, Callable[[dict[str, Any]], Check]] = {
    "address_incomplete": _address_incomplete,
    "buyer_remark": _buyer_remark,
    "total_above": _total_above,
    "total_mismatch": _total_mismatch,
    "too_many_units": _too_many_units,
    "payment_missing": _payment_missing,
    "blacklisted": _blacklisted,
}
_HOLD_CODE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")


def _amount(params: dict[str, Any], key: str) -> Decimal:
    value = params.get(key)
    if isinstance(value, float) or value is None:
        raise ValueError(f'{key} must be an amount written as a string, e.g. "5000.00"')
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{key} {value!r} is not an amount") from exc
    if amount < 0:
        raise ValueError(f"{key} cannot be negative")
    return amount


def _strings(params: dict[str, Any], key: str) -> set[str]:
    value = params.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings")
    return {v.strip() for v in value}


# -- loading ----------------------------------------------------------------------------------


def parse_rules(text: str) -> ReviewRules:
    """Parse a rule file; RuleFileError with the line and the problem if anything is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise RuleFileError(int(match.group(1)) if match else None, str(exc)) from exc
    unknown = sorted(set(data) - {"rule", "service"})
    if unknown:
        raise RuleFileError(
            _line_of(text, unknown[0]),
            f"unknown section {unknown[0]!r}; use [[rule]] and [[service]]",
        )
    rules = []
    headers = _header_lines(text, "rule")
    for n, entry in enumerate(data.get("rule", [])):
        line = headers[n] if n < len(headers) else None
        when = entry.get("when")
        if when not in CONDITIONS:
            raise RuleFileError(
                line,
                f"rule #{n + 1}: `when` is {when!r}; it must be one of "
                + ", ".join(sorted(CONDITIONS)),
            )
        hold = entry.get("hold", when)
        if not isinstance(hold, str) or not _HOLD_CODE.match(hold):
            raise RuleFileError(
                line,
                f"rule #{n + 1} ({when}): `hold` must be a reason code "
                "of lower-case letters, digits and _",
            )
        if entry.get("enabled", True) is False:
            continue
        try:
            check = CONDITIONS[when](entry)
        except ValueError as exc:
            raise RuleFileError(line, f"rule #{n + 1} ({when}): {exc}") from exc
        rules.append(Rule(when, hold, check))
    services = []
    headers = _header_lines(text, "service")
    for n, entry in enumerate(data.get("service", [])):
        line = headers[n] if n < len(headers) else None
        tier = entry.get("tier")
        if not isinstance(tier, str) or not tier.strip():
            raise RuleFileError(line, f'service #{n + 1}: `tier` (e.g. "vip") is required')
        level = entry.get("service_level")
        if level is not None and (not isinstance(level, str) or len(level) > 32):
            raise RuleFileError(
                line,
                f"service #{n + 1}: `service_level` must be a string of at most 32 characters "
                '(e.g. "next_day")',
            )
        flags = {}
        for key in ("free_shipping", "prefer_warehouse"):
            value = entry.get(key, False)
            if not isinstance(value, bool):
                raise RuleFileError(line, f"service #{n + 1}: `{key}` must be true or false")
            flags[key] = value
        services.append(ServiceUpgrade(tier.strip().lower(), level, **flags))
    return ReviewRules(tuple(rules), tuple(services), text)


def _header_lines(text: str, table: str) -> list[int]:
    pattern = re.compile(rf"^\s*\[\[\s*{table}\s*\]\]")
    return [i for i, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]


def _line_of(text: str, word: str) -> int | None:
    for i, line in enumerate(text.splitlines(), start=1):
        if word in line:
            return i
    return None


def default_rules() -> ReviewRules:
    return parse_rules(DEFAULT_RULES)
