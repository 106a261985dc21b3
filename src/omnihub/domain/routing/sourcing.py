"""The sourcing engine: which nodes fulfil an order, at what cost, and why.

Candidates are the locations that serve the order's channel and offer its delivery mode, whose
daily capacity is not used up:

- ``pickup``: only the store the buyer chose;
- ``same_day``: stores and front warehouses offering same-day within a radius of the buyer;
- ``express``: every node offering ``ship`` (warehouses and ship-from-store stores).

The cost of serving from a node is ``per_km * distance + load * used/capacity + priority *
node.priority``; a plan of several nodes adds ``split_penalty`` per extra node. One node that
fills every line wins (the cheapest). Otherwise the fewest nodes, then the lowest cost: an exact
search over combinations of up to ``MAX_EXACT_NODES`` nodes among the ``TOP_CANDIDATES`` best
candidates; an order with more than ``MAX_EXACT_LINES`` lines, or one no such combination can
fill, falls back to a greedy cover (the node that covers most of what is left, cheapest first).
Ties break on the node code, so the same inputs always give the same plan.

The distance, channel, service and stock filters run over NumPy arrays built once per set of
locations (``NodeIndex``), so a decision over 10,000 locations stays within a few milliseconds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.locations import EARTH_RADIUS_KM, DeliveryMode, Location, Service

TOP_CANDIDATES = 8
MAX_EXACT_NODES = 3
MAX_EXACT_LINES = 8
EXPLAINED_CANDIDATES = 10

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class RoutingError(DomainError):
    """The order itself can't be routed as asked (e.g. an unknown pickup store)."""

    code = ErrorCode.VALIDATION


@dataclass(frozen=True, slots=True)
class CostWeights:
    per_km: float = 1.0
    split_penalty: float = 200.0
    load: float = 50.0
    priority: float = 10.0


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


@dataclass(frozen=True, slots=True)
class SourcingRequest:
    channel: str
    mode: DeliveryMode
    needs: Sequence[Need]
    buyer_lat: float | None = None
    buyer_lon: float | None = None
    pickup_location: str | None = None
    same_day_radius_km: float = 5.0
    prefer_warehouse: bool = False
    """Member-tier rule (e.g. VIP next-day): serve from the nearest warehouse when one can."""


@dataclass(frozen=True, slots=True)
class Decision:
    plan: list[PlanItem] | None
    hold_reason: str | None
    explanation: dict[str, Any] = field(default_factory=dict)

    @property
    def nodes(self) -> list[str]:
        return sorted({item.location for item in self.plan or []})


_MODE_SERVICE = {m: m.required_service for m in DeliveryMode}
_SERVICE_BIT = {Service.SHIP: 1, Service.PICKUP: 2, Service.SAME_DAY: 4}


class NodeIndex:
    """Locations as arrays (sorted by code), built once and reused for every decision."""

    def __init__(self, locations: Sequence[Location]) -> None:
        ordered = sorted(locations, key=lambda loc: loc.code)
        self.locations = ordered
        self.codes = [loc.code for loc in ordered]
        self.position = {code: i for i, code in enumerate(self.codes)}
        self.lat = np.radians(np.array([loc.lat for loc in ordered], dtype=np.float64))
        self.lon = np.radians(np.array([loc.lon for loc in ordered], dtype=np.float64))
        self.cos_lat = np.cos(self.lat)
        self.services = np.array(
            [sum(_SERVICE_BIT[s] for s in loc.services) for loc in ordered], dtype=np.int64
        )
        self.is_warehouse = np.array([loc.type == "warehouse" for loc in ordered], dtype=bool)
        self.capacity = np.array(
            [math.inf if loc.capacity_per_day is None else loc.capacity_per_day for loc in ordered],
            dtype=np.float64,
        )
        self.priority = np.array([loc.priority for loc in ordered], dtype=np.float64)
        self._serves_all = np.array([not loc.channels for loc in ordered], dtype=bool)
        self._channel_masks: dict[str, BoolArray] = {}

    def __len__(self) -> int:
        return len(self.codes)

    def serves(self, channel: str) -> BoolArray:
        mask = self._channel_masks.get(channel)
        if mask is None:
            listed = np.array([channel in loc.channels for loc in self.locations], dtype=bool)
            mask = self._serves_all | listed
            self._channel_masks[channel] = mask
        return mask

    def offers(self, service: Service) -> BoolArray:
        return np.asarray((self.services & _SERVICE_BIT[service]) != 0)

    def distances_km(self, lat: float, lon: float) -> FloatArray:
        lat_r, lon_r = math.radians(lat), math.radians(lon)
        a = (
            np.sin((self.lat - lat_r) / 2) ** 2
            + self.cos_lat * math.cos(lat_r) * np.sin((self.lon - lon_r) / 2) ** 2
        )
        return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0))))

    def availability(
        self, levels: Mapping[tuple[str, str], int], skus: Sequence[str]
    ) -> dict[str, IntArray]:
        """Per SKU, the available quantity at every node (0 where it has none)."""
        arrays = {sku: np.zeros(len(self.codes), dtype=np.int64) for sku in skus}
        for (location, sku), qty in levels.items():
            i = self.position.get(location)
            if i is not None and sku in arrays:
                arrays[sku][i] = qty
        return arrays


def source(
    request: SourcingRequest,
    index: NodeIndex,
    available: Mapping[str, IntArray],
    *,
    load: IntArray | None = None,
    weights: CostWeights = CostWeights(),
) -> Decision:
    """Decide where ``request`` is served from; never plans more than ``available``."""
    n = len(index)
    needs = list(request.needs)
    totals: dict[str, int] = {}
    for need in needs:
        totals[need.sku] = totals.get(need.sku, 0) + need.qty
    used = load if load is not None else np.zeros(n, dtype=np.int64)
    rejected: dict[str, int] = {}

    def reject(mask: BoolArray, reason: str, keep: BoolArray) -> BoolArray:
        dropped = int(np.count_nonzero(keep & ~mask))
        if dropped:
            rejected[reason] = rejected.get(reason, 0) + dropped
        return keep & mask

    keep = np.ones(n, dtype=bool)
    if request.mode is DeliveryMode.PICKUP:
        store = index.position.get(request.pickup_location or "")
        if store is None:
            raise RoutingError(
                f"pickup store {request.pickup_location!r} does not exist",
                code=ErrorCode.UNKNOWN_LOCATION,
            )
        if not index.offers(Service.PICKUP)[store]:
            raise RoutingError(f"store {request.pickup_location} does not offer pickup")
        if not index.serves(request.channel)[store]:
            # not "short of stock": a person would move goods there for nothing
            raise RoutingError(
                f"store {request.pickup_location} does not offer pickup to {request.channel} orders"
            )
        only = np.zeros(n, dtype=bool)
        only[store] = True
        keep = only
    # an instant-delivery platform (Meituan, Eleme) sells for one store: its riders collect
    # there, so the order is served by that store or not at all
    assigned = request.mode is DeliveryMode.SAME_DAY and request.pickup_location is not None
    if assigned:
        store = index.position.get(request.pickup_location or "")
        if store is None:
            raise RoutingError(
                f"store {request.pickup_location!r} named by the same-day order does not exist",
                code=ErrorCode.UNKNOWN_LOCATION,
            )
        only = np.zeros(n, dtype=bool)
        only[store] = True
        keep = only
    elif request.mode is DeliveryMode.SAME_DAY and (
        request.buyer_lat is None or request.buyer_lon is None
    ):
        raise RoutingError("a same-day order needs the buyer's coordinates (ship_to.lat/lon)")
    keep = reject(index.serves(request.channel), "does_not_serve_channel", keep)
    keep = reject(index.offers(_MODE_SERVICE[request.mode]), "no_such_service", keep)
    keep = reject(used < index.capacity, "capacity_full", keep)
    if request.buyer_lat is not None and request.buyer_lon is not None:
        distance = index.distances_km(request.buyer_lat, request.buyer_lon)
    else:
        distance = np.zeros(n, dtype=np.float64)
    if request.mode is DeliveryMode.SAME_DAY and not assigned:
        keep = reject(distance <= request.same_day_radius_km, "out_of_radius", keep)

    with np.errstate(divide="ignore", invalid="ignore"):
        load_ratio = np.where(np.isinf(index.capacity), 0.0, used / index.capacity)
    cost = weights.per_km * distance + weights.load * load_ratio + weights.priority * index.priority
    if request.prefer_warehouse:
        cost = cost + np.where(index.is_warehouse, 0.0, weights.split_penalty)

    fills = keep.copy()
    any_stock = np.zeros(n, dtype=bool)
    for sku, qty in totals.items():
        stock = available.get(sku)
        if stock is None:
            stock = np.zeros(n, dtype=np.int64)
        fills &= stock >= qty
        any_stock |= stock > 0
    explanation: dict[str, Any] = {
        "mode": str(request.mode),
        "locations": n,
        "candidates": int(np.count_nonzero(keep)),
        "rejected": rejected,
        "weights": {
            "per_km": weights.per_km,
            "split_penalty": weights.split_penalty,
            "load": weights.load,
            "priority": weights.priority,
        },
    }

    if fills.any():
        masked = np.where(fills, cost, np.inf)
        best = int(np.argmin(masked))  # first minimum = smallest code on a tie
        plan = [PlanItem(nd.line_no, index.codes[best], nd.sku, nd.qty) for nd in needs]
        explanation["considered"] = _describe(index, keep, fills, distance, cost, best=[best])
        explanation["chosen"] = _chosen(plan, float(cost[best]))
        return Decision(plan, None, explanation)

    partial = keep & any_stock
    explanation["considered"] = _describe(index, keep, fills, distance, cost, best=[])
    if request.mode is DeliveryMode.PICKUP:
        explanation["why"] = "the chosen store does not have every line in stock"
        return Decision(None, "pickup_store_short", explanation)
    if assigned:
        explanation["why"] = "the store the platform assigned does not have every line in stock"
        return Decision(None, "no_stock", explanation)
    if not partial.any():
        explanation["why"] = (
            "no candidate node" if not keep.any() else "no candidate node has any of the SKUs"
        )
        return Decision(None, "no_node" if not keep.any() else "no_stock", explanation)

    candidates = np.flatnonzero(partial)
    coverage = np.zeros(len(candidates), dtype=np.int64)
    for sku, qty in totals.items():
        stock = available.get(sku)
        if stock is not None:
            coverage += np.minimum(stock[candidates], qty)
    # best first: most of the order covered, then cheapest, then code; only the top few are
    # sorted (argpartition), the full ranking is made only if the greedy fallback needs it
    score = -coverage.astype(np.float64) * 1e9 + cost[candidates]
    if len(candidates) > TOP_CANDIDATES:
        head = np.argpartition(score, TOP_CANDIDATES)[:TOP_CANDIDATES]
    else:
        head = np.arange(len(candidates))
    head = head[np.lexsort((candidates[head], score[head]))]
    top = [int(i) for i in candidates[head]]

    chosen: tuple[list[PlanItem], float] | None = None
    if len(needs) <= MAX_EXACT_LINES:
        best_key: tuple[float, tuple[str, ...]] | None = None
        for size in range(2, min(MAX_EXACT_NODES, len(top)) + 1):
            for combo in itertools.combinations(top, size):
                combo_plan = _assign(needs, combo, index, available, cost)
                if combo_plan is None:
                    continue
                total = sum(float(cost[i]) for i in combo) + weights.split_penalty * (size - 1)
                key = (round(total, 9), tuple(sorted(index.codes[i] for i in combo)))
                if best_key is None or key < best_key:
                    best_key, chosen = key, (combo_plan, total)
            if chosen is not None:
                explanation["search"] = f"exact over the best {len(top)} candidates, {size} nodes"
                break
    if chosen is None:
        ranked = candidates[np.lexsort((candidates, score))]
        greedy = _greedy(needs, [int(i) for i in ranked], index, available)
        if greedy is not None:
            nodes = sorted({index.position[p.location] for p in greedy})
            total = sum(float(cost[i]) for i in nodes) + weights.split_penalty * (len(nodes) - 1)
            chosen = (greedy, total)
            explanation["search"] = "greedy cover (most units left covered, cheapest first)"
    if chosen is None:
        explanation["why"] = "the candidates together don't have enough stock"
        return Decision(None, "no_stock", explanation)
    plan, total = chosen
    explanation["chosen"] = _chosen(plan, total)
    return Decision(plan, None, explanation)


def _assign(
    needs: Sequence[Need],
    combo: Sequence[int],
    index: NodeIndex,
    available: Mapping[str, IntArray],
    cost: FloatArray,
) -> list[PlanItem] | None:
    """Serve each line from the cheapest node of ``combo`` that has it whole, else split it."""
    free = {
        (i, nd.sku): int(available[nd.sku][i]) if nd.sku in available else 0
        for i in combo
        for nd in needs
    }
    by_cost = sorted(combo, key=lambda i: (float(cost[i]), index.codes[i]))
    plan: list[PlanItem] = []
    used_nodes: set[int] = set()
    for need in needs:
        whole = next((i for i in by_cost if free[(i, need.sku)] >= need.qty), None)
        if whole is not None:
            free[(whole, need.sku)] -= need.qty
            plan.append(PlanItem(need.line_no, index.codes[whole], need.sku, need.qty))
            used_nodes.add(whole)
            continue
        remaining = need.qty
        for i in by_cost:
            take = min(remaining, free[(i, need.sku)])
            if take > 0:
                free[(i, need.sku)] -= take
                plan.append(PlanItem(need.line_no, index.codes[i], need.sku, take))
                used_nodes.add(i)
                remaining -= take
            if remaining == 0:
                break
        if remaining:
            return None
    if len(used_nodes) != len(combo):
        return None  # a smaller combination serves it; that one is (or was) tried on its own
    return plan


def _greedy(
    needs: Sequence[Need],
    ranked: Sequence[int],
    index: NodeIndex,
    available: Mapping[str, IntArray],
) -> list[PlanItem] | None:
    remaining = {nd.line_no: nd.qty for nd in needs}
    free = {
        (i, nd.sku): int(available[nd.sku][i]) if nd.sku in available else 0
        for i in ranked
        for nd in needs
    }
    plan: list[PlanItem] = []
    pool = list(ranked)
    while any(remaining.values()) and pool:

        def covered(i: int) -> int:
            return sum(min(remaining[nd.line_no], free[(i, nd.sku)]) for nd in needs)

        best = max(pool, key=lambda i: (covered(i), -pool.index(i)))
        if covered(best) == 0:
            break
        pool.remove(best)
        for need in needs:
            take = min(remaining[need.line_no], free[(best, need.sku)])
            if take > 0:
                free[(best, need.sku)] -= take
                remaining[need.line_no] -= take
                plan.append(PlanItem(need.line_no, index.codes[best], need.sku, take))
    return None if any(remaining.values()) else plan


def _chosen(plan: Sequence[PlanItem], total: float) -> dict[str, Any]:
    nodes: dict[str, list[dict[str, Any]]] = {}
    for item in plan:
        nodes.setdefault(item.location, []).append(
            {"line_no": item.line_no, "sku": item.sku, "qty": item.qty}
        )
    return {
        "nodes": [{"location": k, "lines": v} for k, v in sorted(nodes.items())],
        "split": len(nodes) > 1,
        "cost": round(total, 3),
    }


def _describe(
    index: NodeIndex,
    keep: BoolArray,
    fills: BoolArray,
    distance: FloatArray,
    cost: FloatArray,
    best: list[int],
) -> list[dict[str, Any]]:
    """The few best candidates with their distance, cost and why they were not chosen."""
    shown = np.flatnonzero(keep)
    if len(shown) > EXPLAINED_CANDIDATES:
        shown = shown[np.argpartition(cost[shown], EXPLAINED_CANDIDATES)[:EXPLAINED_CANDIDATES]]
    shown = shown[np.lexsort((shown, cost[shown]))]
    described = []
    for i in (int(x) for x in shown):
        if i in best:
            verdict = "chosen"
        elif fills[i]:
            verdict = "costs more"
        else:
            verdict = "short of stock for the whole order"
        described.append(
            {
                "location": index.codes[i],
                "distance_km": round(float(distance[i]), 2),
                "cost": round(float(cost[i]), 3),
                "verdict": verdict,
            }
        )
    return described
