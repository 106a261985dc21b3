"""Sourcing: which nodes may serve an order, and how its lines are split over them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnihub.domain.allocation import (
    Need,
    NoFulfilmentNode,
    PlanItem,
    candidate_nodes,
    plan,
)
from omnihub.domain.errors import ErrorCode
from omnihub.domain.inventory import InsufficientStock
from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service

pytestmark = pytest.mark.unit

EXPRESS, SAME_DAY, PICKUP = DeliveryMode.EXPRESS, DeliveryMode.SAME_DAY, DeliveryMode.PICKUP
SHIP_ONLY = frozenset({Service.SHIP})
STORE_SERVICES = frozenset({Service.SHIP, Service.PICKUP, Service.SAME_DAY})


def warehouse(
    code: str, lat: float, lon: float, channels: frozenset[str] = frozenset()
) -> Location:
    return Location(
        code, f"{code} warehouse", LocationType.WAREHOUSE, lat, lon, SHIP_ONLY, channels
    )


def store(
    code: str,
    lat: float,
    lon: float,
    services: frozenset[Service] = STORE_SERVICES,
    channels: frozenset[str] = frozenset(),
) -> Location:
    return Location(code, f"{code} store", LocationType.STORE, lat, lon, services, channels)


SHANGHAI = warehouse("SH-WH", 31.23, 121.47)
HANGZHOU = warehouse("HZ-WH", 30.27, 120.15)
SUZHOU = warehouse("SZ-WH", 31.30, 120.58)
BEIJING = warehouse("BJ-WH", 39.90, 116.40)
GUANGZHOU = warehouse("GZ-WH", 23.13, 113.26)
PEOPLES_SQUARE = store("SH-PEOPLES-SQ", 31.2304, 121.4737)  # 2.4 km from the buyer
XUJIAHUI = store("SH-XUJIAHUI", 31.1950, 121.4370)  # 3.9 km
LUJIAZUI = store("SH-LUJIAZUI", 31.2397, 121.4998)  # 5.1 km
WAREHOUSES = [GUANGZHOU, BEIJING, HANGZHOU, SHANGHAI, SUZHOU]
EVERY_NODE = [*WAREHOUSES, LUJIAZUI, XUJIAHUI, PEOPLES_SQUARE]
JINGAN_BUYER = (31.2286, 121.4482)  # a buyer in Jing'an, Shanghai


def nodes_for(
    mode: DeliveryMode,
    buyer: tuple[float, float] | None = JINGAN_BUYER,
    *,
    locations: list[Location] = EVERY_NODE,
    channel: str = "tmall",
    pickup_location: str | None = None,
    same_day_radius_km: float = 5.0,
) -> list[str]:
    lat, lon = buyer if buyer is not None else (None, None)
    found = candidate_nodes(
        locations,
        channel=channel,
        mode=mode,
        pickup_location=pickup_location,
        buyer_lat=lat,
        buyer_lon=lon,
        same_day_radius_km=same_day_radius_km,
    )
    return [node.code for node in found]


# -- candidate nodes --------------------------------------------------------------------------


def test_express_nodes_are_ranked_nearest_to_the_buyer_first() -> None:
    assert nodes_for(EXPRESS, locations=WAREHOUSES) == ["SH-WH", "SZ-WH", "HZ-WH", "BJ-WH", "GZ-WH"]


def test_a_buyer_in_guangzhou_is_served_from_guangzhou_first() -> None:
    assert nodes_for(EXPRESS, (23.13, 113.26), locations=WAREHOUSES)[0] == "GZ-WH"


def test_without_buyer_coordinates_express_nodes_are_ranked_by_code() -> None:
    assert nodes_for(EXPRESS, None, locations=WAREHOUSES) == sorted(n.code for n in WAREHOUSES)


def test_nodes_at_the_same_distance_are_ranked_by_code_whatever_the_input_order() -> None:
    twin_b = warehouse("SH-WH-B", 31.23, 121.47)
    twin_a = warehouse("SH-WH-A", 31.23, 121.47)

    assert nodes_for(EXPRESS, locations=[twin_b, twin_a]) == ["SH-WH-A", "SH-WH-B"]
    assert nodes_for(EXPRESS, locations=[twin_a, twin_b]) == ["SH-WH-A", "SH-WH-B"]


def test_a_node_that_serves_other_channels_only_is_not_a_candidate() -> None:
    jd_only = warehouse("SH-JD-WH", 31.23, 121.47, channels=frozenset({"jd"}))

    assert nodes_for(EXPRESS, locations=[jd_only, HANGZHOU]) == ["HZ-WH"]
    assert nodes_for(EXPRESS, channel="jd", locations=[jd_only, HANGZHOU]) == ["SH-JD-WH", "HZ-WH"]


def test_a_node_must_offer_the_delivery_mode() -> None:
    ship_less_store = store("SH-SHOWROOM", 31.23, 121.47, services=frozenset({Service.PICKUP}))

    assert "SH-SHOWROOM" not in nodes_for(EXPRESS, locations=[ship_less_store, SHANGHAI])


def test_same_day_keeps_only_stores_within_the_radius_nearest_first() -> None:
    assert nodes_for(SAME_DAY) == ["SH-PEOPLES-SQ", "SH-XUJIAHUI"]
    assert nodes_for(SAME_DAY, same_day_radius_km=6.0) == [
        "SH-PEOPLES-SQ",
        "SH-XUJIAHUI",
        "SH-LUJIAZUI",
    ]


def test_same_day_with_no_store_in_reach_is_refused() -> None:
    hangzhou_buyer = (30.27, 120.15)

    with pytest.raises(NoFulfilmentNode, match="no same-day node within 5 km"):
        nodes_for(SAME_DAY, hangzhou_buyer)


def test_same_day_without_the_buyers_coordinates_is_refused() -> None:
    with pytest.raises(NoFulfilmentNode, match="needs the buyer's coordinates"):
        nodes_for(SAME_DAY, None)


def test_a_pickup_order_is_served_by_its_store_alone() -> None:
    assert nodes_for(PICKUP, pickup_location="SH-LUJIAZUI") == ["SH-LUJIAZUI"]


@pytest.mark.parametrize(
    ("stores", "complaint"),
    [
        ([PEOPLES_SQUARE], "does not exist"),
        ([store("SH-NEW", 31.23, 121.47, services=SHIP_ONLY)], "does not offer pickup"),
        (
            [store("SH-NEW", 31.23, 121.47, channels=frozenset({"jd"}))],
            "does not serve channel tmall",
        ),
    ],
)
def test_a_pickup_store_must_exist_offer_pickup_and_serve_the_channel(
    stores: list[Location], complaint: str
) -> None:
    with pytest.raises(NoFulfilmentNode, match=complaint):
        nodes_for(PICKUP, locations=stores, pickup_location="SH-NEW")


# -- plans ------------------------------------------------------------------------------------

TEE, MUG = "TEE-WHITE-M", "MUG-CLASSIC"


def test_one_node_that_fills_every_line_wins_over_nearer_nodes_that_fill_part() -> None:
    needs = [Need(1, TEE, 2), Need(2, MUG, 1)]
    available = {("SH-WH", TEE): 10, ("SZ-WH", MUG): 10, ("HZ-WH", TEE): 2, ("HZ-WH", MUG): 1}

    assert plan(needs, [SHANGHAI, SUZHOU, HANGZHOU], available) == [
        PlanItem(1, "HZ-WH", TEE, 2),
        PlanItem(2, "HZ-WH", MUG, 1),
    ]


def test_of_several_nodes_that_fill_every_line_the_best_ranked_wins() -> None:
    needs = [Need(1, TEE, 2)]
    available = {("SH-WH", TEE): 2, ("HZ-WH", TEE): 50}

    assert plan(needs, [SHANGHAI, HANGZHOU], available) == [PlanItem(1, "SH-WH", TEE, 2)]


def test_lines_go_to_different_nodes_only_when_no_node_fills_them_all() -> None:
    needs = [Need(1, TEE, 2), Need(2, MUG, 1)]
    available = {("SH-WH", TEE): 5, ("HZ-WH", MUG): 5, ("BJ-WH", TEE): 1}

    assert plan(needs, [SHANGHAI, HANGZHOU, BEIJING], available) == [
        PlanItem(1, "SH-WH", TEE, 2),
        PlanItem(2, "HZ-WH", MUG, 1),
    ]


def test_a_line_is_split_across_nodes_only_when_no_node_has_all_of_it() -> None:
    needs = [Need(1, TEE, 5)]
    available = {("SH-WH", TEE): 3, ("SZ-WH", TEE): 4, ("HZ-WH", TEE): 4}

    assert plan(needs, [SHANGHAI, SUZHOU, HANGZHOU], available) == [
        PlanItem(1, "SH-WH", TEE, 3),
        PlanItem(1, "SZ-WH", TEE, 2),
    ]


def test_two_lines_of_one_sku_are_checked_together_against_one_node() -> None:
    needs = [Need(1, TEE, 2), Need(2, TEE, 2)]
    available = {("SH-WH", TEE): 3, ("HZ-WH", TEE): 4}

    assert plan(needs, [SHANGHAI, HANGZHOU], available) == [
        PlanItem(1, "HZ-WH", TEE, 2),
        PlanItem(2, "HZ-WH", TEE, 2),
    ]


def test_a_plan_does_not_change_the_snapshot_it_was_given() -> None:
    available = {("SH-WH", TEE): 3, ("HZ-WH", TEE): 4}
    snapshot = dict(available)

    plan([Need(1, TEE, 6)], [SHANGHAI, HANGZHOU], available)

    assert available == snapshot


def test_insufficient_stock_lists_the_shortfall_of_every_line() -> None:
    needs = [Need(1, TEE, 5), Need(2, MUG, 3), Need(3, "CAP-RED", 1)]
    available = {("SH-WH", TEE): 1, ("HZ-WH", TEE): 1, ("SH-WH", "CAP-RED"): 1}

    with pytest.raises(InsufficientStock) as refused:
        plan(needs, [SHANGHAI, HANGZHOU], available)

    assert refused.value.code is ErrorCode.INSUFFICIENT_STOCK
    assert refused.value.details["shortfalls"] == [
        {"sku": TEE, "requested": 5, "missing": 3},
        {"sku": MUG, "requested": 3, "missing": 3},
    ]
    assert TEE in refused.value.message
    assert MUG in refused.value.message


def test_a_plan_without_any_node_is_refused() -> None:
    with pytest.raises(NoFulfilmentNode):
        plan([Need(1, TEE, 1)], [], {})


NODE_CODES = ["SH-WH", "SZ-WH", "HZ-WH"]
SKUS = [TEE, MUG, "CAP-RED"]


@settings(max_examples=200, deadline=None)
@given(
    available=st.dictionaries(
        st.tuples(st.sampled_from(NODE_CODES), st.sampled_from(SKUS)),
        st.integers(min_value=0, max_value=6),
    ),
    wanted=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 6)), min_size=1, max_size=4),
)
def test_a_plan_fills_every_line_exactly_within_stock_or_names_what_is_missing(
    available: dict[tuple[str, str], int], wanted: list[tuple[str, int]]
) -> None:
    needs = [Need(i, sku, qty) for i, (sku, qty) in enumerate(wanted, start=1)]
    nodes = [SHANGHAI, SUZHOU, HANGZHOU]
    enough = all(
        sum(available.get((n, sku), 0) for n in NODE_CODES)
        >= sum(need.qty for need in needs if need.sku == sku)
        for sku in SKUS
    )
    try:
        items = plan(needs, nodes, available)
    except InsufficientStock:
        assert not enough
        return
    assert enough
    for need in needs:
        assert sum(i.qty for i in items if i.line_no == need.line_no) == need.qty
        assert all(i.sku == need.sku and i.qty > 0 for i in items if i.line_no == need.line_no)
    for (node, sku), free in available.items():
        assert sum(i.qty for i in items if (i.location, i.sku) == (node, sku)) <= free
