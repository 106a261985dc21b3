"""Dada: rider tasks as the API's bodies, its signatures, and its answers and status
callbacks as our documents, on fixtures written in the API's format."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.backends.backend_world import AT, BUYER, MUG, SH_STORE, TEE, backend, line

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.delivery.dada import mapper, signature
from omnihub.domain.backends import Line, Position, Rider, RiderState, RiderTask, supersedes
from omnihub.domain.values import Money
from omnihub.ports import (
    CallRefused,
    ChannelRefused,
    InboundRequest,
    UnknownChannelStatus,
    UnreadablePayload,
)

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "dada"
CONFIG = backend(
    {
        "code": "dada-sh",
        "kind": "delivery",
        "adapter": "dada",
        "endpoint": "https://newopen.imdada.cn",
        "credentials": {"app_key": "dada-app", "app_secret": "dada-secret", "source_id": "73753"},
        "locations": [SH_STORE],
        "warehouses": {SH_STORE: "11047059"},
        "settings": {
            "city_code": "021",
            "callback_token": "cb-7f3a",
            "callback_url": "https://hub.example.com/api/v1/backends/dada-sh/callbacks",
        },
    }
)
CALLBACKS: dict[str, dict[str, Any]] = json.loads((FIXTURES / "callbacks.json").read_text())


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def callback(payload: dict[str, Any], token: str = "cb-7f3a") -> InboundRequest:
    return InboundRequest(
        json.dumps(payload, ensure_ascii=False).encode(),
        {"content-type": "application/json"},
        {"token": token},
    )


def test_a_rider_task_is_an_add_order_body_with_the_callback_and_its_token() -> None:
    task = RiderTask(
        "FF-20261111-0101",
        SH_STORE,
        AT,
        BUYER,
        Position(31.2205, 121.4247),
        Money.of("88.00"),
        (Line(TEE, 2, name="红色T恤 M"), line(MUG, 1)),
        weight_kg=1.5,
        note="请勿挤压",
    )
    assert mapper.add_order_body(CONFIG, task) == fixture("add_order_body.json")


def test_the_request_signature_wraps_the_sorted_parameters_in_the_secret() -> None:
    params = {
        "app_key": "dada-app",
        "body": '{"order_id":"X"}',
        "format": "json",
        "source_id": "73753",
        "timestamp": "1794384000",
        "v": "1.0",
    }
    text = (
        "dada-secret"
        "app_keydada-app"
        'body{"order_id":"X"}'
        "formatjson"
        "source_id73753"
        "timestamp1794384000"
        "v1.0"
        "dada-secret"
    )
    assert (
        signature.request_signature("dada-secret", params)
        == hashlib.md5(text.encode()).hexdigest().upper()
    )


def test_a_request_is_the_signed_envelope_with_the_body_as_text() -> None:
    request = adapter_for("dada").request(  # type: ignore[attr-defined]
        CONFIG, mapper.QUERY_ORDER, {"order_id": "X"}
    )
    envelope = json.loads(request.body)
    assert json.loads(envelope["body"]) == {"order_id": "X"}
    assert envelope["signature"] == signature.request_signature(
        "dada-secret", {k: v for k, v in envelope.items() if k != "signature"}
    )


def test_the_callback_signature_is_md5_of_the_three_values_sorted_as_text() -> None:
    payload = CALLBACKS["accepted"]
    values = sorted([payload["client_id"], payload["order_id"], str(payload["update_time"])])
    assert (
        signature.callback_signature(
            payload["client_id"], payload["order_id"], payload["update_time"]
        )
        == hashlib.md5("".join(values).encode()).hexdigest()
        == payload["signature"]
    )


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("waiting", RiderState.WAITING),
        ("assigned", RiderState.WAITING),
        ("accepted", RiderState.ACCEPTED),
        ("at_store", RiderState.PICKING_UP),
        ("delivering", RiderState.DELIVERING),
        ("delivered", RiderState.DELIVERED),
        ("cancelled_by_provider", RiderState.CANCELLED),
        ("expired", RiderState.EXPIRED),
        ("returning", RiderState.RETURNING),
        ("returned", RiderState.RETURNED),
        ("creation_failed", RiderState.CANCELLED),
    ],
)
def test_every_documented_status_has_a_state(name: str, state: RiderState) -> None:
    (status,) = adapter_for("dada").parse_callback(CONFIG, callback(CALLBACKS[name]))
    assert status.state == state
    assert status.native_status == CALLBACKS[name]["order_status"]


def test_a_status_callback_names_the_rider_and_the_time() -> None:
    (status,) = adapter_for("dada").parse_callback(CONFIG, callback(CALLBACKS["accepted"]))
    assert (status.reference, status.external_id) == ("FF-20261111-0101", "175223470012")
    assert status.rider == Rider("6612", "王师傅", "13912345678")
    assert status.updated_at == datetime(2026, 11, 11, 8, 1, tzinfo=UTC)
    assert status.message_id == "175223470012:2:1794384060"


def test_a_provider_cancellation_says_why_and_who() -> None:
    (status,) = adapter_for("dada").parse_callback(
        CONFIG, callback(CALLBACKS["cancelled_by_provider"])
    )
    assert (status.cancel_reason, status.cancelled_by) == ("运力不足，系统取消", "provider")
    assert status.state.failed


def test_an_unknown_status_is_kept_as_unreadable_with_the_status_named() -> None:
    payload = {**CALLBACKS["accepted"], "order_status": 77}
    with pytest.raises(UnknownChannelStatus, match="77"):
        adapter_for("dada").parse_callback(CONFIG, callback(payload))


def test_a_changed_order_id_breaks_the_signature() -> None:
    payload = {**CALLBACKS["delivered"], "order_id": "FF-OTHER"}
    with pytest.raises(ChannelRefused, match="signature"):
        adapter_for("dada").parse_callback(CONFIG, callback(payload))


def test_a_callback_without_our_token_is_refused() -> None:
    with pytest.raises(ChannelRefused, match="token"):
        adapter_for("dada").parse_callback(CONFIG, callback(CALLBACKS["delivered"], "guess"))


def test_a_callback_that_is_not_json_is_unreadable() -> None:
    request = InboundRequest(b"order_status=4", {}, {"token": "cb-7f3a"})
    with pytest.raises(UnreadablePayload):
        adapter_for("dada").parse_callback(CONFIG, request)


def test_an_add_order_answer_gives_the_fee_after_coupons_and_the_distance() -> None:
    ref = mapper.task_ref("FF-1", mapper.read_answer(fixture("answer_add_order.json")))
    assert (ref.fee, ref.distance_m, ref.state) == (Money.of("6.50"), 2183, RiderState.WAITING)


def test_a_status_query_gives_where_the_rider_is_and_the_fee() -> None:
    status = mapper.from_query(
        CONFIG, "FF-20261111-0101", mapper.read_answer(fixture("answer_query_delivering.json"))
    )
    assert status.state == RiderState.DELIVERING
    assert status.position == Position(31.21887, 121.42103)
    assert status.fee == Money.of("6.50")
    assert status.rider == Rider("6612", "王师傅", "13912345678")


@pytest.mark.parametrize(
    ("name", "retry", "code"),
    [
        ("answer_order_not_found.json", False, "2005"),
        ("answer_system_error.json", True, "-1"),
        ("answer_cannot_cancel.json", False, "2050"),
    ],
)
def test_failures_say_whether_a_retry_may_pass(name: str, retry: bool, code: str) -> None:
    with pytest.raises(CallRefused) as refused:
        mapper.read_answer(fixture(name))
    assert (refused.value.retry, refused.value.code) == (retry, code)


def test_statuses_in_time_order_each_supersede_the_last_and_late_ones_do_not() -> None:
    adapter = adapter_for("dada")
    ride = [
        adapter.parse_callback(CONFIG, callback(CALLBACKS[name]))[0]
        for name in ("waiting", "accepted", "at_store", "delivering", "delivered")
    ]
    current = None
    for status in ride:
        assert supersedes(current, status)
        current = status
    assert not supersedes(current, ride[2])  # the rider at the store, arriving late
    assert not supersedes(ride[1], ride[1])  # the same callback again
