"""Choosing where an order's lines are served from, given the stock each node has free.

This is the plain first version of sourcing: rank the nodes that serve the channel and offer the
delivery mode (nearest first when the buyer's coordinates are known), prefer one node that fills
every line, then one node per line, and split a line across nodes only when no single node can
fill it. Pure: it reads a snapshot and returns a plan; reserving it is the service's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.inventory import InsufficientStock
from omnihub.domain.locations import DeliveryMode, Location, haversine_km

DEFAULT_SAME_DAY_RADIUS_KM = 5.0


@dataclass(frozen=True, slots=True)
class Need:
    line_no: int
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class PlanItem:
    line_no: int
    location: str
    sku: str
    qty: int


class NoFulfilmentNode(DomainError):
    code = ErrorCode.VALIDATION


def candidate_nodes(
    locations: Sequence[Location],
    *,
    channel: str,
    mode: DeliveryMode,
    pickup_location: str | None,
    buyer_lat: float | None,
    buyer_lon: float | None,
    same_day_radius_km: float = DEFAULT_SAME_DAY_RADIUS_KM,
) -> list[Location]:
    """Nodes that may serve the order, best first (nearest, then by code for determinism)."""
    if mode is DeliveryMode.PICKUP:
        store = next((loc for loc in locations if loc.code == pickup_location), None)
        if store is None:
            raise NoFulfilmentNode(f"pickup store {pickup_location!r} does not exist")
        if not store.offers(mode):
            raise NoFulfilmentNode(f"store {store.code} does not offer pickup")
        if not store.serves(channel):
            raise NoFulfilmentNode(f"store {store.code} does not serve channel {channel}")
        return [store]
    nodes = [loc for loc in locations if loc.serves(channel) and loc.offers(mode)]
    if buyer_lat is None or buyer_lon is None:
        if mode is DeliveryMode.SAME_DAY:
            raise NoFulfilmentNode("a same-day order needs the buyer's coordinates")
        return sorted(nodes, key=lambda loc: loc.code)
    ranked = sorted(
        ((haversine_km(buyer_lat, buyer_lon, loc.lat, loc.lon), loc.code, loc) for loc in nodes),
        key=lambda item: (item[0], item[1]),
    )
    if mode is DeliveryMode.SAME_DAY:
        ranked = [item for item in ranked if item[0] <= same_day_radius_km]
        if not ranked:
            raise NoFulfilmentNode(
                f"no same-day node within {same_day_radius_km:g} km of the buyer"
            )
    return [item[2] for item in ranked]


def plan(
    needs: Sequence[Need],
    nodes: Sequence[Location],
    available: Mapping[tuple[str, str], int],
) -> list[PlanItem]:
    """Split ``needs`` over ``nodes`` (best first) without taking more than ``available``."""
    if not nodes:
        raise NoFulfilmentNode("no location serves this channel with this delivery mode")
    free = dict(available)
    for node in nodes:
        if all(free.get((node.code, need.sku), 0) >= need.qty for need in _merged(needs)):
            return [PlanItem(n.line_no, node.code, n.sku, n.qty) for n in needs]
    items: list[PlanItem] = []
    shortfalls: list[dict[str, object]] = []
    for need in needs:
        whole = next((n for n in nodes if free.get((n.code, need.sku), 0) >= need.qty), None)
        if whole is not None:
            free[(whole.code, need.sku)] -= need.qty
            items.append(PlanItem(need.line_no, whole.code, need.sku, need.qty))
            continue
        remaining = need.qty
        for node in nodes:
            take = min(remaining, free.get((node.code, need.sku), 0))
            if take > 0:
                free[(node.code, need.sku)] -= take
                items.append(PlanItem(need.line_no, node.code, need.sku, take))
                remaining -= take
            if remaining == 0:
                break
        if remaining:
            shortfalls.append({"sku": need.sku, "requested": need.qty, "missing": remaining})
    if shortfalls:
        raise InsufficientStock(shortfalls)
    return items


def _merged(needs: Sequence[Need]) -> list[Need]:
    """Needs summed per SKU, so two lines of one SKU are checked against one node together."""
    totals: dict[str, int] = {}
    for need in needs:
        totals[need.sku] = totals.get(need.sku, 0) + need.qty
    return [Need(0, sku, qty) for sku, qty in totals.items()]
