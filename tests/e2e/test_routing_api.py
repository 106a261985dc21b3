"""Fulfilment routing over the REST API: the explanation of a decision, review rules replaced at
run time, store pickup codes, merges, split shipments, the held-order queue, and bad routing input
that is a hold with its reason or a 4xx, never a 500.

The app runs in process (TestClient) with a frozen clock, so the merge window and store holds
pass by moving the clock and calling the worker functions, not by waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from fakes import FrozenClock
from omnihub.bootstrap import Hub, bootstrap
from omnihub.config import Settings
from omnihub.entrypoints.api.app import create_app
from omnihub.services import routing
from omnihub.services.inventory import expire_due

pytestmark = pytest.mark.e2e

MERGE_WINDOW = 60.0
TEE, MUG = "TEE-1", "MUG-1"
WH_SH, WH_HZ, ST_SH, ST_SZ = "WH-SH", "WH-HZ", "ST-SH-PEOPLES-SQ", "ST-SZ-GUANQIAN"
CREATED_AT = "2026-11-11T08:00:00+08:00"
SHIP_TO = {
    "name": "Li Lei",
    "phone": "13800138000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Jing'an",
    "address": "1266 West Nanjing Road",
    "postcode": "200040",
    "lat": 31.2286,
    "lon": 121.4482,
}
PRICES = {TEE: Decimal("59.00"), MUG: Decimal("39.00")}
HOLDS_STOCK = {"allocated", "released", "picked"}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def _serve(database_url: str, clock: FrozenClock) -> Iterator[tuple[TestClient, Hub]]:
    hub = bootstrap(Settings(database_url=database_url, merge_window_seconds=MERGE_WINDOW))
    hub.clock = clock
    try:
        with TestClient(create_app(hub, sweeper=False), raise_server_exceptions=False) as client:
            _seed(client)
            yield client, hub
    finally:
        hub.close()


@pytest.fixture
def served(sqlite_url: str, clock: FrozenClock) -> Iterator[tuple[TestClient, Hub]]:
    yield from _serve(sqlite_url, clock)


@pytest.fixture
def client(served: tuple[TestClient, Hub]) -> TestClient:
    return served[0]


@pytest.fixture
def hub(served: tuple[TestClient, Hub]) -> Hub:
    return served[1]


@pytest.fixture
def served_on_each_database(
    database_url: str, clock: FrozenClock
) -> Iterator[tuple[TestClient, Hub]]:
    yield from _serve(database_url, clock)


def _seed(client: TestClient) -> None:
    """Two warehouses, a pickup store in Shanghai and a store in Suzhou that ships for jd only."""
    posted = [
        client.post("/api/v1/catalog/skus", json={"sku": TEE, "name": "Tee", "price": "59.00"}),
        client.post("/api/v1/catalog/skus", json={"sku": MUG, "name": "Mug", "price": "39.00"}),
    ]
    nodes = [
        (WH_SH, "warehouse", 31.3747, 121.2655, ["ship"], []),
        (WH_HZ, "warehouse", 30.2741, 120.1551, ["ship"], []),
        (ST_SH, "store", 31.2304, 121.4737, ["pickup", "same_day"], []),
        (ST_SZ, "store", 31.3110, 120.6200, ["ship", "pickup"], ["jd"]),
    ]
    for code, kind, lat, lon, services, channels in nodes:
        body = {
            "code": code,
            "name": code,
            "type": kind,
            "lat": lat,
            "lon": lon,
            "services": services,
            "channels": channels,
        }
        posted.append(client.post("/api/v1/locations", json=body))
    for location, sku, qty in [
        (WH_SH, TEE, 50),
        (WH_HZ, MUG, 20),
        (ST_SH, TEE, 5),
        (ST_SZ, TEE, 9),
    ]:
        movement = {
            "location": location,
            "sku": sku,
            "kind": "receipt",
            "qty": qty,
            "reference": f"GRN-{location}-{sku}",
        }
        posted.append(client.post("/api/v1/inventory/movements", json=movement))
    assert {r.status_code for r in posted} == {201}, [r.text for r in posted]


def order(
    external_id: str,
    lines: list[tuple[str, int]] | None = None,
    *,
    buyer: str = "tb_lilei",
    **extra: Any,
) -> dict[str, Any]:
    """A paid tmall order with a payment record and a complete address (passes the review)."""
    lines = lines or [(TEE, 1)]
    total = sum(PRICES[sku] * qty for sku, qty in lines)
    body: dict[str, Any] = {
        "channel": "tmall",
        "external_id": external_id,
        "status": "paid",
        "created_at": CREATED_AT,
        "buyer": {"channel_buyer_id": buyer, "name": "Li Lei", "phone": "13800138000"},
        "ship_to": SHIP_TO,
        "lines": [{"sku": sku, "qty": qty, "unit_price": str(PRICES[sku])} for sku, qty in lines],
        "payment": {
            "provider": "alipay",
            "transaction_id": f"PAY-{external_id}",
            "amount": str(total),
            "paid_at": CREATED_AT,
        },
    }
    body.update(extra)
    return body


def ok(response: httpx.Response, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200,)), response.text
    return response.json()


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"].strip()
    return dict(error)


def post_order(client: TestClient, body: dict[str, Any], *statuses: int) -> dict[str, Any]:
    return dict(ok(client.post("/api/v1/orders", json=body), *(statuses or (201,))))


def routing_of(client: TestClient, order_id: str) -> dict[str, Any]:
    return dict(ok(client.get(f"/api/v1/orders/{order_id}/routing")))


def assert_books_balance(client: TestClient) -> None:
    report = ok(client.get("/api/v1/check"))
    assert report["violations"] == []
    assert report["balanced"] is True


def release_due(hub: Hub, clock: FrozenClock, seconds: float = MERGE_WINDOW + 1) -> int:
    """Move past the merge window and run the release worker once."""
    clock.advance(timedelta(seconds=seconds))
    return routing.release_due(hub.uow(), clock.now(), hub.policy)


# -- the explanation of a decision ----------------------------------------------------------------


def test_the_routing_of_an_order_shows_the_candidates_the_rejections_and_the_chosen_plan(
    served_on_each_database: tuple[TestClient, Hub],
) -> None:
    client, _ = served_on_each_database
    placed = post_order(client, order("TB-EXPLAIN-1", [(TEE, 2)]))

    shown = routing_of(client, placed["id"])

    assert (shown["order_id"], shown["status"], shown["delivery"]) == (
        placed["id"],
        "allocated",
        "express",
    )
    (decision,) = shown["decisions"]
    assert decision["outcome"] == "allocated"
    explanation = decision["explanation"]
    assert explanation["mode"] == "express"
    assert explanation["locations"] == 4
    assert explanation["candidates"] == 2  # the two warehouses
    assert explanation["rejected"] == {"does_not_serve_channel": 1, "no_such_service": 1}
    verdicts = {c["location"]: c["verdict"] for c in explanation["considered"]}
    assert verdicts == {WH_SH: "chosen", WH_HZ: "short of stock for the whole order"}
    considered = {c["location"]: c for c in explanation["considered"]}
    assert 0 < considered[WH_SH]["distance_km"] < considered[WH_HZ]["distance_km"]
    chosen = explanation["chosen"]
    assert chosen["split"] is False
    assert chosen["nodes"] == [{"location": WH_SH, "lines": [{"line_no": 1, "sku": TEE, "qty": 2}]}]
    assert chosen["cost"] == pytest.approx(considered[WH_SH]["cost"])
    assert chosen["cost"] > 0
    (part,) = shown["fulfilments"]
    assert (part["location"], part["status"]) == (WH_SH, "pending")  # waits in the merge window
    assert shown["merge_group"]["state"] == "open"
    assert shown["merge_group"]["orders"] == [placed["id"]]


def test_the_routing_of_a_held_order_says_why_and_of_an_unknown_order_is_404(
    client: TestClient,
) -> None:
    held = post_order(client, order("TB-SHORT", [(MUG, 21)]), 202)

    shown = routing_of(client, held["id"])

    assert (shown["status"], shown["hold_reason"]) == ("held", "no_stock")
    (decision,) = shown["decisions"]
    assert decision["outcome"] == "held:no_stock"
    assert decision["explanation"]["why"]
    assert shown["fulfilments"] == []
    error_of(client.get("/api/v1/orders/01JNOSUCHORDER000000000000/routing"), 404, "not_found")


# -- review rules ---------------------------------------------------------------------------------

BAD_RULES = """\
[[rule]]
when = "buyer_remark"
hold = "buyer_remark"

[[rule]]
when = "phase_of_the_moon"
hold = "astrology"
"""

GOOD_RULES = """\
# only big orders wait for a person now
[[rule]]
when = "total_above"
amount = "100.00"
hold = "big_order"
"""


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (BAD_RULES, 5),
        ('[[rule]]\nwhen = "total_above"\namount = "lots"\n', 1),
        ('[[rule]]\nwhen = "buyer_remark"\nhold = "buyer remark"\n', 1),
        ('[[rule]]\nwhen = "buyer_remark"\nhold = \n', 3),
        ('[[rule]]\nwhen = "buyer_remark"\n\n[surprise]\nx = 1\n', 4),
    ],
)
def test_a_bad_rule_file_is_a_422_naming_its_line_and_the_old_rules_stay(
    client: TestClient, text: str, line: int
) -> None:
    before = client.get("/api/v1/rules/review")
    assert before.status_code == 200
    assert "buyer_remark" in before.text

    refused = client.put(
        "/api/v1/rules/review", content=text, headers={"content-type": "application/toml"}
    )

    error = error_of(refused, 422, "validation_error")
    assert error["details"]["line"] == line
    assert f"line {line}" in error["message"]
    assert error["details"]["problem"]
    after = client.get("/api/v1/rules/review")
    assert (after.status_code, after.text) == (200, before.text)
    held = post_order(client, order("TB-REMARK", remark="leave it with the guard"), 202)
    assert held["hold_reason"] == "buyer_remark"


def test_rules_that_are_not_utf8_are_refused_with_a_422(client: TestClient) -> None:
    refused = client.put(
        "/api/v1/rules/review",
        content="# 审单\n".encode("gbk"),
        headers={"content-type": "application/toml"},
    )
    error_of(refused, 422, "validation_error")


def test_a_good_rule_file_changes_what_is_held(client: TestClient) -> None:
    remark_before = post_order(client, order("TB-R-1", remark="ring twice"), 202)
    assert remark_before["hold_reason"] == "buyer_remark"

    replaced = ok(
        client.put(
            "/api/v1/rules/review",
            content=GOOD_RULES,
            headers={"content-type": "application/toml"},
        )
    )

    assert replaced["rules"] == [{"when": "total_above", "hold": "big_order"}]
    assert replaced["services"] == []
    assert replaced["version"] == 1
    assert client.get("/api/v1/rules/review").text == GOOD_RULES
    remark_after = post_order(client, order("TB-R-2", remark="ring twice"))
    assert remark_after["status"] in HOLDS_STOCK
    big = post_order(client, order("TB-R-3", [(TEE, 2)]), 202)
    assert (big["status"], big["hold_reason"]) == ("held", "big_order")
    small = post_order(client, order("TB-R-4", [(TEE, 1)], buyer="tb_hanmei"))
    assert small["status"] in HOLDS_STOCK


LONGEST_HOLD = ("hold_for_a_person_" * 3)[:48]  # the longest reason code a rule may name


def test_the_longest_hold_code_a_rule_may_name_holds_orders_on_every_database(
    served_on_each_database: tuple[TestClient, Hub],
) -> None:
    client, _ = served_on_each_database
    assert len(LONGEST_HOLD) == 48
    rules = f'[[rule]]\nwhen = "buyer_remark"\nhold = "{LONGEST_HOLD}"\n'
    accepted = client.put(
        "/api/v1/rules/review", content=rules, headers={"content-type": "application/toml"}
    )
    assert accepted.status_code == 200, accepted.text

    held = post_order(client, order("TB-LONG-HOLD", remark="call me first"), 202)

    assert held["hold_reason"] == LONGEST_HOLD
    (decision,) = routing_of(client, held["id"])["decisions"]
    assert decision["outcome"] == f"held:{LONGEST_HOLD}"


def test_a_service_level_a_database_could_not_store_is_refused_at_load(
    served_on_each_database: tuple[TestClient, Hub],
) -> None:
    client, _ = served_on_each_database
    rules = '[[service]]\ntier = "vip"\nservice_level = "' + "next_day_" * 5 + '"\n'

    refused = client.put(
        "/api/v1/rules/review", content=rules, headers={"content-type": "application/toml"}
    )

    error = error_of(refused, 422, "validation_error")
    assert error["details"]["line"] == 1
    assert "service_level" in error["details"]["problem"]
    vip = {"channel_buyer_id": "tb_vip", "tier": "vip"}
    placed = post_order(client, order("TB-VIP", buyer="tb_vip") | {"buyer": vip})
    assert placed["service_level"] == "next_day"  # the default rules are still in force


# -- the held-order queue -------------------------------------------------------------------------


def test_held_orders_are_listed_with_their_reason_and_a_person_can_release_one(
    client: TestClient,
) -> None:
    remark = post_order(client, order("TB-H-1", remark="gift wrap please"), 202)
    unknown_store = post_order(
        client,
        order("TB-H-2", delivery="pickup", pickup_location="ST-BJ-WANGFUJING"),
        202,
    )
    fine = post_order(client, order("TB-H-3", buyer="tb_hanmei"))

    page = ok(client.get("/api/v1/orders", params={"status": "held"}))

    reasons = {o["id"]: o["hold_reason"] for o in page["items"]}
    assert reasons == {remark["id"]: "buyer_remark", unknown_store["id"]: "unknown_pickup_store"}
    assert fine["id"] not in reasons
    assert all(o["status"] == "held" for o in page["items"])

    released = ok(
        client.post(
            f"/api/v1/orders/{remark['id']}/actions/release",
            json={"actor": "console:li.lei", "reason": "read the remark"},
        )
    )
    assert released["status"] in HOLDS_STOCK
    assert released["hold_reason"] is None
    still_held = ok(client.get("/api/v1/orders", params={"status": "held"}))["items"]
    assert [o["id"] for o in still_held] == [unknown_store["id"]]
    assert_books_balance(client)


# -- bad routing input ----------------------------------------------------------------------------

NO_COORDINATES = {k: v for k, v in SHIP_TO.items() if k not in ("lat", "lon")}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"delivery": "pickup", "pickup_location": "ST-BJ-WANGFUJING"}, "unknown_pickup_store"),
        ({"delivery": "pickup", "pickup_location": WH_SH}, "pickup_not_offered"),
        ({"delivery": "pickup", "pickup_location": ST_SZ}, "pickup_not_offered"),  # jd's only
        (
            {"delivery": "pickup", "pickup_location": WH_HZ, "status": "created"},
            "pickup_not_offered",
        ),
        ({"delivery": "same_day", "ship_to": NO_COORDINATES}, "no_coordinates"),
        ({"delivery": "same_day", "ship_to": {**NO_COORDINATES, "lat": 31.2}}, "no_coordinates"),
    ],
)
def test_an_order_that_cannot_be_routed_as_asked_is_202_held_with_the_reason(
    client: TestClient, changes: dict[str, Any], reason: str
) -> None:
    held = post_order(client, order("TB-BAD-1", **changes), 202)

    assert (held["status"], held["hold_reason"], held["outcome"]) == ("held", reason, "held")
    assert "pickup_code" not in held
    shown = routing_of(client, held["id"])
    assert shown["decisions"][-1]["outcome"] == f"held:{reason}"
    assert shown["decisions"][-1]["explanation"]["why"]
    assert_books_balance(client)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"delivery": "pickup"}, None),  # a pickup order must name its store
        ({"delivery": "pickup", "pickup_location": ""}, "pickup_location"),
        ({"delivery": "pickup", "pickup_location": "ST SH;DROP"}, "pickup_location"),
        ({"delivery": "teleport"}, "delivery"),
        ({"delivery": "same_day", "ship_to": {**SHIP_TO, "lat": 91.0}}, "ship_to.lat"),
        ({"delivery": "same_day", "ship_to": {**SHIP_TO, "lon": "east"}}, "ship_to.lon"),
    ],
)
def test_routing_input_that_makes_no_sense_is_a_422(
    client: TestClient, changes: dict[str, Any], field: str | None
) -> None:
    response = client.post("/api/v1/orders", json=order("TB-BAD-2", **changes))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].strip()
    if field is not None:
        assert field in {item["field"] for item in error["details"]["fields"]}
    else:
        assert "pickup_location" in error["message"]


# -- store pickup ---------------------------------------------------------------------------------


def test_a_pickup_code_is_refused_when_wrong_and_delivers_the_order_when_right(
    served_on_each_database: tuple[TestClient, Hub],
) -> None:
    client, _ = served_on_each_database
    placed = post_order(
        client, order("TB-BOPIS-1", [(TEE, 2)], delivery="pickup", pickup_location=ST_SH)
    )
    assert placed["status"] == "released"
    code = placed["pickup_code"]
    assert len(code) == 8
    assert code.isdigit()
    wrong = f"{(int(code) + 1) % 10**8:08d}"

    refused = client.post(f"/api/v1/orders/{placed['id']}/actions/pickup", json={"code": wrong})

    error = error_of(refused, 422, "wrong_pickup_code")
    assert error["details"] == {"attempts": 1, "tries_left": 4}
    assert ok(client.get(f"/api/v1/orders/{placed['id']}"))["status"] == "released"

    collected = ok(
        client.post(f"/api/v1/orders/{placed['id']}/actions/pickup", json={"code": code})
    )

    assert collected["status"] == "delivered"
    stock = ok(client.get(f"/api/v1/inventory/{TEE}"))
    (store,) = [lv for lv in stock["locations"] if lv["location"] == ST_SH]
    assert (store["on_hand"], store["reserved"]) == (3, 0)
    again = client.post(f"/api/v1/orders/{placed['id']}/actions/pickup", json={"code": code})
    error_of(again, 409, "illegal_transition")
    missing = client.post(f"/api/v1/orders/{placed['id']}/actions/pickup", json={})
    assert missing.status_code == 422
    assert_books_balance(client)


def test_five_wrong_codes_lock_pickup_until_a_new_code_is_issued(client: TestClient) -> None:
    placed = post_order(client, order("TB-BOPIS-2", delivery="pickup", pickup_location=ST_SH))
    code = placed["pickup_code"]
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    path = f"/api/v1/orders/{placed['id']}/actions/pickup"
    for tries_left in (4, 3, 2, 1, 0):
        refused = error_of(client.post(path, json={"code": wrong}), 422, "wrong_pickup_code")
        assert refused["details"]["tries_left"] == tries_left

    error_of(client.post(path, json={"code": code}), 422, "pickup_code_locked")

    reissued = ok(client.post(f"/api/v1/orders/{placed['id']}/pickup-code"))
    assert reissued["order_id"] == placed["id"]
    collected = ok(client.post(path, json={"code": reissued["pickup_code"]}))
    assert collected["status"] == "delivered"


def test_an_unpaid_pickup_hold_that_runs_out_cancels_the_order_and_frees_the_stock(
    client: TestClient, hub: Hub, clock: FrozenClock
) -> None:
    placed = post_order(
        client,
        order("TB-BOPIS-3", [(TEE, 5)], delivery="pickup", pickup_location=ST_SH, status="created"),
    )
    assert (placed["status"], len(placed["pickup_code"])) == ("created", 8)
    assert ok(client.get(f"/api/v1/inventory/{TEE}"))["available"] == 50 + 9

    clock.advance(timedelta(seconds=hub.policy.pickup_pay_seconds))
    expired = expire_due(hub.uow(), hub.clock)
    cancelled = routing.expire_pickup_holds(
        hub.uow(), sorted({r.order_id for r in expired if r.order_id}), clock.now()
    )

    assert cancelled == 1
    after = ok(client.get(f"/api/v1/orders/{placed['id']}"))
    assert (after["status"], after["hold_reason"]) == ("cancelled", "pickup_expired")
    assert "not paid in time" in after["transitions"][-1]["cause"]
    assert ok(client.get(f"/api/v1/inventory/{TEE}"))["available"] == 50 + 9 + 5
    assert ok(client.get("/api/v1/stats"))["routing"]["pickup_expired"] == 1
    assert_books_balance(client)


# -- merges ---------------------------------------------------------------------------------------


def test_two_orders_of_one_buyer_merge_and_can_be_unmerged_before_release_only(
    client: TestClient, hub: Hub, clock: FrozenClock
) -> None:
    first = post_order(client, order("TB-MERGE-1"))
    second = post_order(client, order("TB-MERGE-2", [(TEE, 1), (MUG, 1)]))
    group_id = first["merge_group"]
    assert group_id is not None
    assert second["merge_group"] == group_id
    group = ok(client.get(f"/api/v1/merges/{group_id}"))
    assert (group["state"], group["orders"]) == ("open", sorted([first["id"], second["id"]]))

    unmerged = ok(
        client.post(f"/api/v1/merges/{group_id}/actions/unmerge", json={"actor": "console:li"})
    )

    assert unmerged["state"] == "unmerged"
    assert ok(client.get(f"/api/v1/merges/{group_id}"))["state"] == "unmerged"
    apart = {ok(client.get(f"/api/v1/orders/{o['id']}"))["merge_group"] for o in (first, second)}
    assert len(apart) == 2
    assert group_id not in apart
    error_of(client.post(f"/api/v1/merges/{group_id}/actions/unmerge"), 409, "illegal_transition")

    assert release_due(hub, clock) == 2

    first_parts = routing_of(client, first["id"])["fulfilments"]
    second_parts = routing_of(client, second["id"])["fulfilments"]
    shipments = [p["shipment"] for p in first_parts + second_parts]
    assert {p["status"] for p in first_parts + second_parts} == {"released"}
    assert len(set(shipments)) == 3  # two orders shipped apart; the second is split in two
    for group_now in apart:
        refused = client.post(f"/api/v1/merges/{group_now}/actions/unmerge")
        error_of(refused, 409, "illegal_transition")
    error_of(
        client.post("/api/v1/merges/01JNOSUCHGROUP000000000000/actions/unmerge"), 404, "not_found"
    )


def test_merged_orders_released_together_share_one_shipment_per_node(
    client: TestClient, hub: Hub, clock: FrozenClock
) -> None:
    first = post_order(client, order("TB-MERGE-3"))
    clock.advance(timedelta(seconds=MERGE_WINDOW / 2))
    second = post_order(client, order("TB-MERGE-4", [(TEE, 1), (MUG, 1)]))
    assert second["merge_group"] == first["merge_group"]
    assert routing.release_due(hub.uow(), clock.now(), hub.policy) == 0

    assert release_due(hub, clock, MERGE_WINDOW / 2 + 1) == 2

    (first_sh,) = routing_of(client, first["id"])["fulfilments"]
    second_hz, second_sh = routing_of(client, second["id"])["fulfilments"]
    assert (first_sh["location"], second_sh["location"], second_hz["location"]) == (
        WH_SH,
        WH_SH,
        WH_HZ,
    )
    assert first_sh["shipment"] == second_sh["shipment"]
    assert second_hz["shipment"] != first_sh["shipment"]
    assert ok(client.get(f"/api/v1/merges/{first['merge_group']}"))["state"] == "released"
    assert ok(client.get(f"/api/v1/orders/{first['id']}"))["status"] == "released"


# -- split shipments ------------------------------------------------------------------------------


def test_each_part_of_a_split_order_ships_on_its_own_and_the_last_ships_the_order(
    served_on_each_database: tuple[TestClient, Hub],
) -> None:
    client, _ = served_on_each_database
    placed = post_order(client, order("TB-SPLIT-1", [(TEE, 2), (MUG, 1)]))
    released = ok(client.post(f"/api/v1/orders/{placed['id']}/actions/release"))
    assert released["status"] == "released"
    hangzhou, shanghai = routing_of(client, placed["id"])["fulfilments"]
    assert (hangzhou["location"], shanghai["location"]) == (WH_HZ, WH_SH)
    assert routing_of(client, placed["id"])["decisions"][-1]["explanation"]["chosen"]["split"]

    part = ok(
        client.post(
            f"/api/v1/fulfilments/{shanghai['id']}/actions/ship",
            json={"carrier": "SF", "tracking_number": "SF1001"},
        )
    )

    assert part["order_status"] == "released"
    assert (part["fulfilment"]["status"], part["fulfilment"]["tracking_number"]) == (
        "shipped",
        "SF1001",
    )
    tee = ok(client.get(f"/api/v1/inventory/{TEE}"))
    (sh,) = [lv for lv in tee["locations"] if lv["location"] == WH_SH]
    assert (sh["on_hand"], sh["reserved"]) == (48, 0)
    mug = ok(client.get(f"/api/v1/inventory/{MUG}"))
    (hz,) = [lv for lv in mug["locations"] if lv["location"] == WH_HZ]
    assert (hz["on_hand"], hz["reserved"]) == (20, 1)
    assert_books_balance(client)

    last = ok(
        client.post(
            f"/api/v1/fulfilments/{hangzhou['id']}/actions/ship",
            json={"carrier": "ZTO", "tracking_number": "ZT2002"},
        )
    )

    assert last["order_status"] == "shipped"
    assert ok(client.get(f"/api/v1/orders/{placed['id']}"))["status"] == "shipped"
    error_of(
        client.post(f"/api/v1/fulfilments/{hangzhou['id']}/actions/ship"), 409, "illegal_transition"
    )
    error_of(
        client.post("/api/v1/fulfilments/01JNOSUCHPART0000000000000/actions/ship"), 404, "not_found"
    )
    assert ok(client.get("/api/v1/stats"))["routing"]["split_orders"] == 1
    assert_books_balance(client)
