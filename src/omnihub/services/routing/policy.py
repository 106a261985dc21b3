"""How orders are routed: the routing policy of a process and its review rules, which a person
may replace at run time (every worker picks up the stored version)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from omnihub.domain.locations import Location
from omnihub.domain.routing.review import ReviewRules, default_rules, parse_rules
from omnihub.domain.routing.sourcing import CostWeights, NodeIndex
from omnihub.ports import UnitOfWork


@dataclass
class RoutingPolicy:
    """How orders are routed; one per process, its review rules replaceable at run time."""

    rules: ReviewRules = field(default_factory=default_rules)
    weights: CostWeights = field(default_factory=CostWeights)
    same_day_radius_km: float = 5.0
    merge_window_seconds: float = 60.0
    pickup_pay_seconds: float = 15 * 60
    pickup_collect_seconds: float = 72 * 3600
    allocation_attempts: int = 3
    rules_version: int = 0
    _cache: tuple[tuple[Location, ...], NodeIndex] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def adopt(self, rules: ReviewRules, version: int) -> bool:
        """Put stored rules in force unless newer ones already are (threads finish in any
        order; the rules and their version change together)."""
        with self._lock:
            if version <= self.rules_version:
                return False
            self.rules, self.rules_version = rules, version
            return True

    def node_index(self, locations: Sequence[Location]) -> NodeIndex:
        key = tuple(locations)
        with self._lock:
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, NodeIndex(locations))
            return self._cache[1]


DEFAULT_POLICY = RoutingPolicy()
REVIEW_RULES = "review_rules"


def replace_review_rules(
    uow: UnitOfWork, text: str, now: datetime, policy: RoutingPolicy, actor: str = "api"
) -> tuple[ReviewRules, int]:
    """Check and store new review rules, and their version; a bad file changes nothing
    (RuleFileError says why)."""
    rules = parse_rules(text)
    with uow:
        version = uow.routing.save_document(REVIEW_RULES, text, now)
        uow.audit.record(
            actor=actor,
            action="rules.review_replaced",
            subject="rules:review",
            details={
                "version": version,
                "rules": len(rules.rules),
                "services": len(rules.services),
            },
            at=now,
        )
        uow.commit()
    policy.adopt(rules, version)
    return rules, version


def sync_review_rules(uow: UnitOfWork, policy: RoutingPolicy) -> bool:
    """Pick up rules another worker stored; True when they changed here."""
    with uow:
        stored = uow.routing.document(REVIEW_RULES)
    if stored is None or stored[0] <= policy.rules_version:
        return False
    return policy.adopt(parse_rules(stored[1]), stored[0])
