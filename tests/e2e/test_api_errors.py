"""The REST contract (DESIGN.md §5): the caller's mistakes are 4xx with a message a person
understands, never a 500; orders answer 201 new, 202 held, 200 already known."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from omnihub.bootstrap import bootstrap
from omnihub.config import Settings
from omnihub.entrypoints.api.app import create_app

pytestmark = pytest.mark.e2e

MAX_BODY = 4096
#: An order that got its stock is allocated, or already released to its node (or picked).
HOLDS_STOCK = {"allocated", "released", "picked"}
SKU = "TEE-1"
LOCATION = "WH-SH"
CREATED_AT = "2024-06-18T10:00:00+08:00"
# a complete address: automatic review holds orders that could not be shipped
SHIP_TO = {
    "name": "Li Lei",
    "phone": "13800138000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Huangpu",
    "address": "1 Nanjing East Road",
    "postcode": "200001",
    "lat": 31.24,
    "lon": 121.48,
}


def _serve(database_url: str) -> Iterator[TestClient]:
    hub = bootstrap(Settings(database_url=database_url, max_body_bytes=MAX_BODY))
    try:
        with TestClient(create_app(hub, sweeper=False), raise_server_exceptions=False) as client:
            _seed(client)
            yield client
    finally:
        hub.close()


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    yield from _serve(sqlite_url)


@pytest.fixture
def client_on_each_database(database_url: str) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL: some bad input only hurts one of them."""
    yield from _serve(database_url)


def _seed(client: TestClient) -> None:
    created = [
        client.post(
            "/api/v1/catalog/skus", json={"sku": SKU, "name": "Cotton tee", "price": "59.00"}
        ),
        client.post(
            "/api/v1/locations",
            json={
                "code": LOCATION,
                "name": "Shanghai regional warehouse",
                "type": "warehouse",
                "lat": 31.23,
                "lon": 121.47,
                "services": ["ship"],
            },
        ),
        client.post(
            "/api/v1/inventory/movements",
            json={
                "location": LOCATION,
                "sku": SKU,
                "kind": "receipt",
                "qty": 100,
                "reference": "GRN-1",
            },
        ),
    ]
    assert [r.status_code for r in created] == [201, 201, 201], [r.text for r in created]


def error_of(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is ``status`` with the error format and a message a person can read."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str)
    assert error["message"].strip(), error
    assert isinstance(error["details"], dict)
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def fields_named(error: dict[str, Any]) -> set[str]:
    return {item["field"] for item in error["details"]["fields"]}


def order(
    external_id: str,
    *,
    channel: str = "tmall",
    status: str = "paid",
    line: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": channel,
        "external_id": external_id,
        "status": status,
        "created_at": CREATED_AT,
        "ship_to": SHIP_TO,
        "lines": [line or {"sku": SKU, "qty": 1, "unit_price": "59.00"}],
    }
    if status == "paid":
        body["payment"] = {
            "provider": "alipay",
            "transaction_id": f"PAY-{external_id}",
            "amount": "59.00",
            "paid_at": CREATED_AT,
        }
    body.update(extra)
    return body


def reservation(**changes: Any) -> dict[str, Any]:
    return {"sku": SKU, "qty": 1, "location": LOCATION, **changes}


# -- malformed and incomplete bodies -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders",
        "/api/v1/reservations",
        "/api/v1/inventory/movements",
        "/api/v1/catalog/skus",
        "/api/v1/locations",
    ],
)
def test_malformed_json_is_a_400_that_says_the_body_is_not_json(
    client: TestClient, path: str
) -> None:
    response = client.post(
        path, content=b'{"sku": "TEE-1", "qty": ', headers={"content-type": "application/json"}
    )
    error = error_of(response, 400, "malformed_json")
    assert "JSON" in error["message"]


def test_a_missing_field_is_a_422_that_names_the_field(client: TestClient) -> None:
    error = error_of(
        client.post("/api/v1/reservations", json={"sku": SKU, "qty": 1}), 422, "validation_error"
    )
    assert fields_named(error) == {"location"}
    assert "location" in error["message"]


def test_an_order_without_lines_or_creation_time_names_both_fields(client: TestClient) -> None:
    body = order("TM-NOLINES")
    del body["lines"], body["created_at"]
    error = error_of(client.post("/api/v1/orders", json=body), 422, "validation_error")
    assert fields_named(error) == {"lines", "created_at"}


@pytest.mark.parametrize("qty", [0, -1])
def test_a_reservation_of_zero_or_fewer_units_is_refused_with_422(
    client: TestClient, qty: int
) -> None:
    error = error_of(client.post("/api/v1/reservations", json=reservation(qty=qty)), 422)
    assert fields_named(error) == {"qty"}
    assert "greater than 0" in error["message"]


@pytest.mark.parametrize("qty", [0, -3])
def test_an_order_line_of_zero_or_fewer_units_is_refused_with_422(
    client: TestClient, qty: int
) -> None:
    body = order("TM-QTY", line={"sku": SKU, "qty": qty, "unit_price": "59.00"})
    error = error_of(client.post("/api/v1/orders", json=body), 422)
    assert fields_named(error) == {"lines.0.qty"}


def test_money_given_as_a_float_is_refused_and_the_message_says_how_to_give_it(
    client: TestClient,
) -> None:
    sku = error_of(
        client.post(
            "/api/v1/catalog/skus", json={"sku": "FLOAT-1", "name": "Float", "price": 59.9}
        ),
        422,
    )
    assert fields_named(sku) == {"price"}
    assert '"59.00"' in sku["message"]
    body = order("TM-FLOAT", line={"sku": SKU, "qty": 1, "unit_price": 59.0})
    line = error_of(client.post("/api/v1/orders", json=body), 422)
    assert fields_named(line) == {"lines.0.unit_price"}


def test_a_time_without_a_timezone_is_refused_with_422(client: TestClient) -> None:
    error = error_of(
        client.post("/api/v1/orders", json=order("TM-NAIVE", created_at="2024-06-18T10:00:00")), 422
    )
    assert fields_named(error) == {"created_at"}
    assert "timezone" in error["message"]


# -- unknown things ------------------------------------------------------------------------------


def test_a_movement_at_an_unknown_location_is_422_unknown_location(client: TestClient) -> None:
    response = client.post(
        "/api/v1/inventory/movements",
        json={
            "location": "NOWHERE",
            "sku": SKU,
            "kind": "receipt",
            "qty": 5,
            "reference": "GRN-X",
        },
    )
    error = error_of(response, 422, "unknown_location")
    assert "NOWHERE" in error["message"]


def test_a_reservation_at_an_unknown_location_is_422_unknown_location(
    client: TestClient,
) -> None:
    error = error_of(
        client.post("/api/v1/reservations", json=reservation(location="NOWHERE")),
        422,
        "unknown_location",
    )
    assert "NOWHERE" in error["message"]


def test_an_unknown_sku_is_422_in_a_body_and_404_in_a_path(client: TestClient) -> None:
    in_body = error_of(
        client.post("/api/v1/reservations", json=reservation(sku="NO-SUCH")), 422, "unknown_sku"
    )
    assert "NO-SUCH" in in_body["message"]
    in_path = error_of(client.get("/api/v1/inventory/NO-SUCH"), 404, "unknown_sku")
    assert "NO-SUCH" in in_path["message"]


def test_an_unknown_order_id_is_404(client: TestClient) -> None:
    error_of(client.get("/api/v1/orders/01HZZZZZZZZZZZZZZZZZZZZZZZ"), 404, "not_found")
    error_of(
        client.post("/api/v1/orders/01HZZZZZZZZZZZZZZZZZZZZZZZ/actions/cancel"), 404, "not_found"
    )


def test_an_unknown_action_is_422_and_lists_the_actions(client: TestClient) -> None:
    created = client.post("/api/v1/orders", json=order("TM-ACT", status="created"))
    assert created.status_code == 201, created.text
    error = error_of(
        client.post(f"/api/v1/orders/{created.json()['id']}/actions/teleport"),
        422,
        "unknown_action",
    )
    assert "teleport" in error["message"]
    assert "cancel" in error["message"]


def test_an_illegal_transition_is_409_illegal_transition(client: TestClient) -> None:
    created = client.post("/api/v1/orders", json=order("TM-SHIP", status="created"))
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    error = error_of(
        client.post(f"/api/v1/orders/{order_id}/actions/ship"), 409, "illegal_transition"
    )
    assert "created" in error["message"]
    assert client.get(f"/api/v1/orders/{order_id}").json()["status"] == "created"


def test_an_unknown_route_is_404_in_the_error_format(client: TestClient) -> None:
    error = error_of(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert "/api/v1/no-such-thing" in error["message"]


# -- oversized bodies ----------------------------------------------------------------------------


def _oversized_order() -> bytes:
    body = json.dumps(order("TM-BIG", remark="x" * 1500, buyer={"name": "y" * 150})).encode()
    return body + b" " * (MAX_BODY + 1 - len(body))


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/reservations"])
def test_a_body_over_the_limit_with_content_length_is_413(client: TestClient, path: str) -> None:
    payload = _oversized_order()
    assert len(payload) > MAX_BODY
    error = error_of(
        client.post(path, content=payload, headers={"content-type": "application/json"}),
        413,
        "body_too_large",
    )
    assert str(MAX_BODY) in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/reservations"])
def test_a_body_over_the_limit_streamed_in_chunks_is_413(client: TestClient, path: str) -> None:
    payload = _oversized_order()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 512):
            yield payload[start : start + 512]

    response = client.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    error = error_of(response, 413, "body_too_large")
    assert str(MAX_BODY) in error["message"]
    assert client.get("/api/v1/orders", params={"channel": "tmall"}).json()["items"] == []


def test_a_body_just_under_the_limit_is_accepted(client: TestClient) -> None:
    body = json.dumps(order("TM-FITS")).encode()
    payload = body + b" " * (MAX_BODY - len(body))
    assert len(payload) == MAX_BODY
    response = client.post(
        "/api/v1/orders", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text


# -- nothing a caller sends is a 500 -------------------------------------------------------------

_GARBAGE: list[Any] = [
    None,
    [],
    "text",
    42,
    {},
    {"sku": None},
    {"qty": "many"},
    {"qty": 10**30},
    {"sku": SKU, "qty": 1, "location": LOCATION, "ttl_seconds": 0},
    {"sku": "a b", "qty": 1, "location": LOCATION},
    {"sku": "x" * 5000, "qty": 1, "location": LOCATION},
    {"lines": [{}]},
    {"lines": [None]},
    {"lines": "all"},
    {"channel": "tmall", "external_id": "", "created_at": CREATED_AT, "lines": [{"qty": 1}]},
    {"location": LOCATION, "sku": SKU, "kind": "sale", "qty": -1, "reference": "R"},
    {"location": LOCATION, "sku": SKU, "kind": "receipt", "qty": 1, "reference": "  "},
    {"location": LOCATION, "sku": SKU, "kind": "adjustment", "qty": -1000, "reference": "A"},
    {"code": "S1", "name": "Store", "type": "store", "lat": 91, "lon": 0},
    {"sku": "NEW", "name": "n", "price": "1e400"},
    {"sku": "NEW", "name": "n", "price": "-1"},
    {"sku": "NEW", "name": "n", "price": "NaN"},
    {"sku": "NEW", "name": "n", "price": "0.001"},
]


_NUL = "\u0000"
_BIGGEST_LINE = {"sku": SKU, "qty": 100_000, "unit_price": "999999999999.99"}
_BAD_ORDERS: dict[str, dict[str, Any]] = {
    "NUL in the external id": order(f"TM{_NUL}1"),
    "NUL in the remark": order("TM-N2", remark=f"leave at the door{_NUL}"),
    "NUL in the buyer's name": order("TM-N3", buyer={"name": f"Li{_NUL}"}),
    "NUL in a channel SKU": order(
        "TM-N4", line={"channel_sku": f"L{_NUL}", "qty": 1, "unit_price": "1.00"}
    ),
    "a total beyond any amount of money": order("TM-BIG", status="created", line=_BIGGEST_LINE),
    "a time before year 1 in UTC": order("TM-Y1", created_at="0001-01-01T00:00:00+08:00"),
    "a time after year 9999 in UTC": order("TM-Y9", updated_at="9999-12-31T23:59:59-08:00"),
}
_BAD_OTHERS: list[tuple[str, dict[str, Any]]] = [
    (
        "/api/v1/inventory/movements",
        {"location": LOCATION, "sku": SKU, "kind": "receipt", "qty": 1, "reference": f"GRN{_NUL}"},
    ),
    ("/api/v1/catalog/skus", {"sku": "NUL-1", "name": f"a{_NUL}", "price": "1.00"}),
    ("/api/v1/catalog/mappings", {"channel": "tmall", "channel_sku": f"x{_NUL}", "sku": SKU}),
    ("/api/v1/locations", {"code": "L1", "name": f"a{_NUL}", "type": "store", "lat": 1, "lon": 1}),
]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders",
        "/api/v1/reservations",
        "/api/v1/inventory/movements",
        "/api/v1/inventory/safety",
        "/api/v1/catalog/skus",
        "/api/v1/catalog/mappings",
        "/api/v1/locations",
    ],
)
def test_no_wrong_body_makes_the_hub_answer_500(client: TestClient, path: str) -> None:
    for body in _GARBAGE:
        response = client.post(path, json=body)
        assert response.status_code < 500, (body, response.text)
        if response.status_code >= 400:
            error_of(response, response.status_code)


@pytest.mark.parametrize("case", list(_BAD_ORDERS))
def test_an_order_no_database_could_store_is_a_422_on_every_database(
    client_on_each_database: TestClient, case: str
) -> None:
    response = client_on_each_database.post("/api/v1/orders", json=_BAD_ORDERS[case])
    error_of(response, 422, "validation_error")


def test_text_with_nul_characters_is_a_422_on_every_database(
    client_on_each_database: TestClient,
) -> None:
    client = client_on_each_database
    for path, body in _BAD_OTHERS:
        error = error_of(client.post(path, json=body), 422, "validation_error")
        assert "NUL" in error["message"], (path, error)
    for url in [
        "/api/v1/orders/01H%00",
        "/api/v1/inventory/TEE%001",
        "/api/v1/orders?channel=tm%00all",
        "/api/v1/inbound?result=%00",
    ]:
        assert "NUL" in error_of(client.get(url), 422, "validation_error")["message"], url
    assert error_of(client.delete("/api/v1/reservations/R%00"), 422)


def test_rejected_order_bodies_holding_nul_characters_are_still_kept(
    client_on_each_database: TestClient,
) -> None:
    client = client_on_each_database
    json_type = {"content-type": "application/json"}
    nul_byte = b'{"channel": "pdd", "external_id": "PDD-\x00-1"}'
    error_of(
        client.post("/api/v1/orders", content=nul_byte, headers=json_type), 400, "malformed_json"
    )
    nul_escape = b'{"channel": "pdd\\u0000", "external_id": "PDD-2"}'
    error_of(
        client.post("/api/v1/orders", content=nul_escape, headers=json_type),
        422,
        "validation_error",
    )
    kept = client.get("/api/v1/inbound", params={"result": "rejected"}).json()["items"]
    bodies = " ".join(item["body"] for item in kept)
    assert "PDD-" in bodies
    assert "PDD-2" in bodies


# -- the order contract --------------------------------------------------------------------------


def test_a_new_order_is_201_a_held_one_202_and_a_known_one_200_each_with_its_id(
    client: TestClient,
) -> None:
    new = client.post("/api/v1/orders", json=order("TM-1001"))
    assert new.status_code == 201, new.text
    assert new.json()["id"]
    assert new.json()["status"] in HOLDS_STOCK

    unmapped = order(
        "TM-1002", line={"channel_sku": "TMALL-LISTING-9", "qty": 1, "unit_price": "59.00"}
    )
    held = client.post("/api/v1/orders", json=unmapped)
    assert held.status_code == 202, held.text
    assert held.json()["id"]
    assert (held.json()["status"], held.json()["hold_reason"]) == ("held", "unmapped_sku")

    again = client.post("/api/v1/orders", json=order("TM-1001"))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == new.json()["id"]
    held_again = client.post("/api/v1/orders", json=unmapped)
    assert held_again.status_code == 200, held_again.text
    assert held_again.json()["id"] == held.json()["id"]


def test_held_orders_of_a_channel_page_by_cursor_and_each_appears_exactly_once(
    client: TestClient,
) -> None:
    held_ids = set()
    for n in range(7):
        body = order(
            f"JD-{n}",
            channel="jd",
            line={"channel_sku": f"JD-LISTING-{n}", "qty": 1, "unit_price": "59.00"},
        )
        response = client.post("/api/v1/orders", json=body)
        assert response.status_code == 202, response.text
        held_ids.add(response.json()["id"])
    assert client.post("/api/v1/orders", json=order("JD-OK", channel="jd")).status_code == 201
    assert (
        client.post(
            "/api/v1/orders",
            json=order("TM-H", line={"channel_sku": "TM-LISTING", "qty": 1, "unit_price": "59.00"}),
        ).status_code
        == 202
    )

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"status": "held", "channel": "jd", "limit": "3"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/orders", params=params).json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= 3
        assert all(o["status"] == "held" and o["channel"] == "jd" for o in page["items"])
        seen.extend(o["id"] for o in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(held_ids)
    assert set(seen) == held_ids


def test_a_rejected_order_body_is_kept_in_the_inbound_log(client: TestClient) -> None:
    malformed = b'{"channel": "pdd", "external_id": "PDD-1", "lines": [ oops'
    error_of(
        client.post(
            "/api/v1/orders", content=malformed, headers={"content-type": "application/json"}
        ),
        400,
        "malformed_json",
    )
    invalid = order("PDD-2", channel="pdd", created_at="2024-06-18 10:00")
    error_of(client.post("/api/v1/orders", json=invalid), 422, "validation_error")

    rejected = client.get("/api/v1/inbound", params={"result": "rejected"})
    assert rejected.status_code == 200, rejected.text
    items = rejected.json()["items"]
    kept = {item["body"]: item for item in items}
    assert malformed.decode() in kept
    assert kept[malformed.decode()]["error"]
    assert any('"PDD-2"' in body and kept[body]["channel"] == "pdd" for body in kept)
    assert all(item["result"] == "rejected" for item in items)
