"""The sourcing engine on a small map of real cities (Shanghai, Hangzhou, Suzhou, Beijing,
Guangzhou): which nodes serve an order, and why."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.routing.sourcing import (
    MAX_EXACT_LINES,
    Need,
    NodeIndex,
    RoutingError,
    SourcingRequest,
    source,
)

pytestmark = pytest.mark.unit

SHIP, PICKUP, SAME_DAY = Service.SHIP, Service.PICKUP, Service.SAME_DAY
ALL = frozenset({SHIP, PICKUP, SAME_DAY})

# a buyer in central Shanghai (People's Square)
BUYER = (31.2304, 121.4737)

MAP = [
    Location("WH-SH", "Shanghai DC", LocationType.WAREHOUSE, 31.3747, 121.2655, frozenset({SHIP})),
    Location("WH-BJ", "Beijing DC", LocationType.WAREHOUSE, 39.7267, 116.3415, frozenset({SHIP})),
    Location("WH-GZ", "Guangzhou DC", LocationType.WAREHOUSE, 23.3925, 113.2989, frozenset({SHIP})),
    Location(
        "FW-SH", "Pudong front", LocationType.FRONT, 31.2210, 121.5440, frozenset({SHIP, SAME_DAY})
    ),
    Location("ST-SH-A", "Nanjing Rd", LocationType.STORE, 31.2352, 121.4747, ALL),
    Location("ST-SH-B", "Xujiahui", LocationType.STORE, 31.1955, 121.4367, ALL),
    Location("ST-HZ", "West Lake", LocationType.STORE, 30.2590, 120.1630, ALL),
    Location("ST-SZ", "Guanqian", LocationType.STORE, 31.3110, 120.6200, ALL),
]


def decide(
    stock: dict[tuple[str, str], int],
    needs: list[tuple[str, int]],
    mode: DeliveryMode = DeliveryMode.EXPRESS,
    *,
    locations: list[Location] | None = None,
    buyer: tuple[float, float] | None = BUYER,
    pickup: str | None = None,
    load: dict[str, int] | None = None,
    channel: str = "tmall",
):
    index = NodeIndex(locations or MAP)
    skus = sorted({sku for sku, _ in needs})
    request = SourcingRequest(
        channel=channel,
        mode=mode,
        needs=[Need(i, sku, qty) for i, (sku, qty) in enumerate(needs, start=1)],
        buyer_lat=buyer[0] if buyer else None,
        buyer_lon=buyer[1] if buyer else None,
        pickup_location=pickup,
    )
    used = None
    if load:
        used = np.zeros(len(index), dtype=np.int64)
        for code, n in load.items():
            used[index.position[code]] = n
    return source(request, index, index.availability(stock, skus), load=used)


@pytest.mark.parametrize(
    ("case", "stock", "needs", "expected_nodes"),
    [
        (
            "the nearest store with full stock wins",
            {("ST-SH-A", "A"): 5, ("ST-SH-B", "A"): 5, ("WH-SH", "A"): 5},
            [("A", 2)],
            ["ST-SH-A"],
        ),
        (
            "a closer store with partial stock loses to one full node",
            {("ST-SH-A", "A"): 5, ("ST-SH-A", "B"): 0, ("WH-SH", "A"): 5, ("WH-SH", "B"): 5},
            [("A", 1), ("B", 1)],
            ["WH-SH"],
        ),
        (
            "a store short of one unit loses to a node that has the whole quantity",
            {("ST-SH-A", "A"): 1, ("ST-HZ", "A"): 3},
            [("A", 2)],
            ["ST-HZ"],
        ),
        (
            "a split happens only when no node can fill the order",
            {("ST-SH-A", "A"): 2, ("WH-SH", "B"): 2},
            [("A", 1), ("B", 1)],
            ["ST-SH-A", "WH-SH"],
        ),
        (
            "a far warehouse is used only when nothing nearer has the stock",
            {("WH-BJ", "A"): 10},
            [("A", 3)],
            ["WH-BJ"],
        ),
    ],
)
def test_express_routing_table(case, stock, needs, expected_nodes):
    decision = decide(stock, needs)
    assert decision.plan is not None, case
    assert decision.nodes == expected_nodes, case


def test_a_split_plan_covers_every_line_exactly_and_explains_itself():
    decision = decide({("ST-SH-A", "A"): 2, ("WH-SH", "B"): 2}, [("A", 1), ("B", 1)])
    assert {(p.line_no, p.location, p.qty) for p in decision.plan} == {
        (1, "ST-SH-A", 1),
        (2, "WH-SH", 1),
    }
    chosen = decision.explanation["chosen"]
    assert chosen["split"] is True
    assert [n["location"] for n in chosen["nodes"]] == ["ST-SH-A", "WH-SH"]
    verdicts = {c["location"]: c["verdict"] for c in decision.explanation["considered"]}
    assert verdicts["ST-SH-A"] == "short of stock for the whole order"


def test_one_line_larger_than_any_node_is_split_across_nodes():
    decision = decide({("ST-SH-A", "A"): 2, ("ST-SH-B", "A"): 2}, [("A", 3)])
    assert sorted((p.location, p.qty) for p in decision.plan) == [("ST-SH-A", 2), ("ST-SH-B", 1)]


def test_same_day_outside_the_radius_is_refused_with_the_reason():
    # only Hangzhou has the stock; the buyer is in Shanghai, 165 km away
    decision = decide({("ST-HZ", "A"): 5}, [("A", 1)], DeliveryMode.SAME_DAY)
    assert decision.plan is None
    assert decision.hold_reason == "no_stock"
    assert decision.explanation["rejected"]["out_of_radius"] >= 2


def test_same_day_goes_to_the_nearest_store_or_front_warehouse_within_the_radius():
    stock = {("ST-SH-A", "A"): 1, ("FW-SH", "A"): 5, ("WH-SH", "A"): 50}
    decision = decide(stock, [("A", 1)], DeliveryMode.SAME_DAY)
    assert decision.nodes == ["ST-SH-A"]  # the warehouse offers no same-day service


def test_same_day_without_coordinates_is_a_clear_error():
    with pytest.raises(RoutingError, match="coordinates"):
        decide({("ST-SH-A", "A"): 1}, [("A", 1)], DeliveryMode.SAME_DAY, buyer=None)


def test_a_same_day_order_for_a_store_the_platform_assigned_is_served_there_or_not_at_all():
    stock = {("ST-SH-B", "A"): 1, ("ST-SH-A", "A"): 9, ("ST-SH-B", "B"): 0}
    served = decide(stock, [("A", 1)], DeliveryMode.SAME_DAY, pickup="ST-SH-B", buyer=None)
    assert served.nodes == ["ST-SH-B"]  # not the nearer, fuller store; no coordinates needed
    short = decide(stock, [("A", 1), ("B", 1)], DeliveryMode.SAME_DAY, pickup="ST-SH-B")
    assert (short.plan, short.hold_reason) == (None, "no_stock")  # no split to another store
    with pytest.raises(RoutingError, match="does not exist"):
        decide(stock, [("A", 1)], DeliveryMode.SAME_DAY, pickup="ST-NOPE")


def test_full_capacity_moves_the_order_to_the_next_node():
    stock = {("ST-SH-A", "A"): 5, ("ST-SH-B", "A"): 5}
    capped = [
        Location(
            loc.code,
            loc.name,
            loc.type,
            loc.lat,
            loc.lon,
            loc.services,
            capacity_per_day=10 if loc.code == "ST-SH-A" else None,
        )
        for loc in MAP
    ]
    decision = decide(stock, [("A", 1)], locations=capped, load={"ST-SH-A": 10})
    assert decision.nodes == ["ST-SH-B"]
    assert decision.explanation["rejected"]["capacity_full"] == 1


def test_ties_break_on_the_node_code_every_time():
    twins = [
        Location("ST-B", "b", LocationType.STORE, 31.0, 121.0, ALL),
        Location("ST-A", "a", LocationType.STORE, 31.0, 121.0, ALL),
    ]
    for _ in range(5):
        decision = decide(
            {("ST-A", "X"): 1, ("ST-B", "X"): 1}, [("X", 1)], locations=twins, buyer=(31.1, 121.1)
        )
        assert decision.nodes == ["ST-A"]


def test_pickup_uses_only_the_chosen_store_and_says_when_it_is_short():
    stock = {("ST-SH-B", "A"): 0, ("ST-SH-A", "A"): 9}
    decision = decide(stock, [("A", 1)], DeliveryMode.PICKUP, pickup="ST-SH-B")
    assert decision.plan is None
    assert decision.hold_reason == "pickup_store_short"


def test_pickup_at_an_unknown_store_or_one_without_pickup_is_refused():
    with pytest.raises(RoutingError, match="does not exist"):
        decide({}, [("A", 1)], DeliveryMode.PICKUP, pickup="ST-NOPE")
    with pytest.raises(RoutingError, match="does not offer pickup"):
        decide({}, [("A", 1)], DeliveryMode.PICKUP, pickup="WH-SH")


def test_a_node_that_does_not_serve_the_channel_is_not_a_candidate():
    jd_only = [
        Location(
            loc.code,
            loc.name,
            loc.type,
            loc.lat,
            loc.lon,
            loc.services,
            channels=frozenset({"jd"}) if loc.code == "ST-SH-A" else frozenset(),
        )
        for loc in MAP
    ]
    decision = decide({("ST-SH-A", "A"): 5, ("WH-SH", "A"): 5}, [("A", 1)], locations=jd_only)
    assert decision.nodes == ["WH-SH"]
    assert decision.explanation["rejected"]["does_not_serve_channel"] == 1


def test_no_stock_anywhere_holds_with_no_stock():
    decision = decide({}, [("A", 1)])
    assert decision.plan is None
    assert decision.hold_reason == "no_stock"


def test_an_order_with_many_lines_is_covered_greedily():
    skus = [f"S{i}" for i in range(MAX_EXACT_LINES + 4)]
    stock = {}
    for i, sku in enumerate(skus):
        stock[(MAP[i % 4].code, sku)] = 1
    decision = decide(stock, [(sku, 1) for sku in skus])
    assert decision.plan is not None
    assert sorted(p.sku for p in decision.plan) == sorted(skus)
    assert "greedy" in decision.explanation["search"]


stock_levels = st.dictionaries(
    st.tuples(st.sampled_from([loc.code for loc in MAP]), st.sampled_from(["A", "B", "C"])),
    st.integers(min_value=0, max_value=4),
)
order_lines = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(min_value=1, max_value=5)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(
    stock=stock_levels,
    needs=order_lines,
    mode=st.sampled_from([DeliveryMode.EXPRESS, DeliveryMode.SAME_DAY]),
)
def test_a_plan_never_takes_more_than_a_node_has_and_covers_every_line_exactly(stock, needs, mode):
    decision = decide(stock, needs, mode)
    if decision.plan is None:
        assert decision.hold_reason in ("no_stock", "no_node")
        return
    taken: dict[tuple[str, str], int] = {}
    per_line: dict[int, int] = {}
    for item in decision.plan:
        taken[(item.location, item.sku)] = taken.get((item.location, item.sku), 0) + item.qty
        per_line[item.line_no] = per_line.get(item.line_no, 0) + item.qty
        assert item.qty > 0
    for key, qty in taken.items():
        assert qty <= stock.get(key, 0)
    assert per_line == {i: qty for i, (_, qty) in enumerate(needs, start=1)}
