"""The hub's rules per back end, read from its ``settings`` (the adapter ignores these): the
stock compare's mode and limit, how often a failed rider task reroutes, whether an ERP is polled."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from omnihub.domain.backends import BackendKind
from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.ports import BackendConfig, InvalidBackendConfig


class BackendUnavailable(DomainError):
    """A back end did not answer a call the request needs now (503: try again later)."""

    code = ErrorCode.BACKEND_UNAVAILABLE


#: SKUs one item-cost request may name
MAX_COST_SKUS = 200


class CompareMode(StrEnum):
    OFF = "off"
    REPORT = "report"
    """list the differences, change nothing"""
    CORRECT = "correct"
    """list them and correct the hub's stock to the back end's with a stock-take movement"""


@dataclass(frozen=True, slots=True)
class BackendRules:
    """What the hub does with a back end, from its ``settings`` (the adapter ignores these)."""

    compare: CompareMode = CompareMode.REPORT
    correct_max_units: int | None = None
    """a difference larger than this is listed, never corrected (a person looks first)"""
    reroute_attempts: int = 1
    """a delivery provider's failed rider tasks that send the order back to routing before
    it is held"""
    poll: bool = True
    """an ERP's receipts and stock-takes are polled (besides any webhooks it sends)"""


RULE_SETTINGS = ("compare", "correct_max_units", "reroute_attempts", "poll")


def backend_rules(config: BackendConfig) -> BackendRules:
    """The hub's rules of one back end; ``InvalidBackendConfig`` lists every problem."""
    settings = config.settings
    where = f"{config.label}.settings"
    problems: list[str] = []
    stock_kept = config.kind in (BackendKind.ERP, BackendKind.WMS)
    default = CompareMode.REPORT if stock_kept else CompareMode.OFF
    raw_mode = settings.get("compare", str(default))
    try:
        mode = CompareMode(str(raw_mode))
    except ValueError:
        problems.append(
            f"{where}.compare must be one of {', '.join(m.value for m in CompareMode)}, "
            f"not {raw_mode!r}"
        )
        mode = default
    if mode is not CompareMode.OFF and not stock_kept:
        problems.append(f"{where}.compare: a {config.kind} back end holds no stock to compare")
    limit = settings.get("correct_max_units")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        problems.append(f"{where}.correct_max_units must be a whole number of 0 or more")
        limit = None
    attempts = settings.get("reroute_attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        problems.append(f"{where}.reroute_attempts must be a whole number of 0 or more")
        attempts = 1
    poll = settings.get("poll", True)
    if not isinstance(poll, bool):
        problems.append(f"{where}.poll must be true or false")
        poll = True
    if problems:
        raise InvalidBackendConfig(problems)
    return BackendRules(mode, limit, attempts, poll)
