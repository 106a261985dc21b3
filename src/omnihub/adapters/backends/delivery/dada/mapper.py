"""Dada documents ↔ the hub's: pure functions.

Every call is a JSON object ``{"app_key", "timestamp", "format": "json", "v": "1.0",
"source_id", "body": "<the business JSON as a string>", "signature"}``; every answer is
``{"status": "success"|"fail", "code": 0, "msg", "result"}``.

Answer codes the adapter acts on: 0 success; -1 system error, 999 maintenance, 1000 network
timeout, 2012 order being processed, 2090 network error: retry; 2005 order does not exist
(create sends it, cancel refuses); 2076 already cancelled (cancel is done); every other code
(2003 bad signature, 2004 unknown shop, 2050/2051 cannot cancel while delivering or done,
2086 no riders, ...) will not pass by retrying.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from omnihub.adapters.backends.wire import read_time
from omnihub.adapters.native import field, text
from omnihub.domain.backends import (
    Position,
    Rider,
    RiderState,
    RiderStatus,
    RiderTask,
    RiderTaskRef,
)
from omnihub.domain.values import Money
from omnihub.ports import BackendConfig, CallRefused, UnknownChannelStatus, UnreadablePayload

API_VERSION = "1.0"
ADD_ORDER = "/api/order/addOrder"
READD_ORDER = "/api/order/reAddOrder"
CANCEL_ORDER = "/api/order/formalCancel"
QUERY_ORDER = "/api/order/status/query"

RETRY_CODES = frozenset({-1, 999, 1000, 2012, 2090})
ORDER_NOT_FOUND = 2005
ALREADY_CANCELLED = 2076

STATUSES: dict[int, RiderState] = {
    1: RiderState.WAITING,
    8: RiderState.WAITING,
    2: RiderState.ACCEPTED,
    100: RiderState.PICKING_UP,
    3: RiderState.DELIVERING,
    4: RiderState.DELIVERED,
    5: RiderState.CANCELLED,
    7: RiderState.EXPIRED,
    9: RiderState.RETURNING,
    10: RiderState.RETURNED,
    1000: RiderState.CANCELLED,
}
CANCELLED_BY = {1: "rider", 2: "merchant", 3: "provider"}


def state_of(code: Any) -> RiderState:
    try:
        return STATUSES[int(code)]
    except (KeyError, TypeError, ValueError) as exc:
        raise UnknownChannelStatus("dada", code) from exc


def add_order_body(config: BackendConfig, task: RiderTask) -> dict[str, Any]:
    """The business body of ``addOrder`` / ``reAddOrder``."""
    callback = str(config.setting("callback_url"))
    token = config.settings.get("callback_token")
    if token:
        callback += ("&" if "?" in callback else "?") + f"token={token}"
    receiver = task.receiver
    return {
        "shop_no": config.warehouse_of(task.store),
        "origin_id": task.reference,
        "city_code": str(config.setting("city_code")),
        "cargo_price": float(task.cargo_value.amount),
        "is_prepay": 0,
        "receiver_name": receiver.name,
        "receiver_address": " ".join(
            p for p in (receiver.province, receiver.city, receiver.district, receiver.address) if p
        ),
        "receiver_lat": task.destination.lat,
        "receiver_lng": task.destination.lng,
        "receiver_phone": receiver.phone,
        "callback": callback,
        "cargo_weight": task.weight_kg,
        "cargo_num": sum(line.qty for line in task.items),
        "info": task.note or "",
        "product_list": [
            {
                "sku_name": line.name or line.sku,
                "src_product_no": line.sku,
                "count": line.qty,
                "unit": "件",
            }
            for line in task.items
        ],
    }


def cancel_body(config: BackendConfig, reference: str, reason: str) -> dict[str, Any]:
    return {
        "order_id": reference,
        "cancel_reason_id": int(config.settings.get("cancel_reason_id", 4)),
        "cancel_reason": reason,
    }


def read_answer(body: Any) -> Any:
    """The ``result`` of a success; ``CallRefused`` (its ``code`` is Dada's) otherwise."""
    if not isinstance(body, dict) or "status" not in body:
        raise CallRefused(f"dada answered {str(body)[:200]}", retry=True, code="bad_answer")
    code = body.get("code")
    if body.get("status") == "success" and code in (0, "0", None):
        return body.get("result")
    try:
        number = int(str(code))
    except (TypeError, ValueError):
        number = -1
    raise CallRefused(
        f"dada: {number}: {body.get('msg') or 'failed'}",
        retry=number in RETRY_CODES,
        code=str(number),
    )


def money(value: Any) -> Money:
    try:
        return Money.of(Decimal(str(value if value not in (None, "") else 0)))
    except (InvalidOperation, ValueError) as exc:
        raise UnreadablePayload(f"{value!r} is not an amount") from exc


def task_ref(reference: str, result: Any, state: RiderState = RiderState.WAITING) -> RiderTaskRef:
    """An ``addOrder`` / ``reAddOrder`` result (``fee`` after coupons, ``distance`` in m)."""
    if not isinstance(result, dict):
        raise UnreadablePayload("the answer has no result")
    return RiderTaskRef(
        reference,
        money(result.get("fee", result.get("deliverFee"))),
        int(float(result.get("distance") or 0)),
        state,
    )


def _position(lat: Any, lng: Any) -> Position | None:
    try:
        if lat in (None, "") or lng in (None, ""):
            return None
        return Position(float(lat), float(lng))
    except (TypeError, ValueError):
        return None


def from_query(config: BackendConfig, reference: str, result: Any) -> RiderStatus:
    """A ``status/query`` result: state, rider and where the rider is, fee."""
    if not isinstance(result, dict):
        raise UnreadablePayload("the answer has no result")
    native = int(field(result, "statusCode"))
    times = [
        read_time(result[key], key)
        for key in ("createTime", "acceptTime", "fetchTime", "finishTime", "cancelTime")
        if text(result.get(key))
    ]
    updated = max(times) if times else datetime.now(UTC)
    rider = None
    if text(result.get("transporterName")):
        rider = Rider(
            str(result.get("transporterId") or ""),
            str(result["transporterName"]),
            str(result.get("transporterPhone") or ""),
        )
    fee = result.get("actualFee", result.get("deliveryFee"))
    return RiderStatus(
        source=config.code,
        reference=reference,
        external_id=text(result.get("deliveryNo")),
        state=state_of(native),
        native_status=native,
        updated_at=updated,
        message_id=f"query:{reference}:{native}:{int(updated.timestamp())}",
        rider=rider,
        position=_position(result.get("transporterLat"), result.get("transporterLng")),
        fee=money(fee) if fee not in (None, "") else None,
    )


def from_callback(config: BackendConfig, payload: dict[str, Any]) -> RiderStatus:
    """A status callback: ``client_id`` (Dada's id), ``order_id`` (ours), ``order_status``,
    ``cancel_reason``, ``cancel_from``, ``update_time`` (Unix seconds; milliseconds for
    1000, creation failed), ``dm_id``,
    ``dm_name``, ``dm_mobile`` once a rider has it."""
    reference = str(field(payload, "order_id"))
    native = payload.get("order_status")
    state = state_of(native)
    update_time = field(payload, "update_time")
    try:
        seconds = int(update_time)
        if native in (1000, "1000"):  # Dada stamps a failed creation in milliseconds
            seconds //= 1000
        updated = datetime.fromtimestamp(seconds, tz=UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise UnreadablePayload(f"update_time {update_time!r} is not a Unix time") from exc
    rider = None
    if payload.get("dm_id") not in (None, "", 0) or text(payload.get("dm_name")):
        rider = Rider(
            str(payload.get("dm_id") or ""),
            str(payload.get("dm_name") or ""),
            str(payload.get("dm_mobile") or ""),
        )
    cancel_from = payload.get("cancel_from")
    client_id = text(payload.get("client_id"))
    return RiderStatus(
        source=config.code,
        reference=reference,
        external_id=client_id,
        state=state,
        native_status=int(str(native)),
        updated_at=updated,
        message_id=f"{client_id or reference}:{native}:{update_time}",
        rider=rider,
        cancel_reason=text(payload.get("cancel_reason")) if state.failed else None,
        cancelled_by=CANCELLED_BY.get(int(cancel_from or 0)) if state.failed else None,
    )


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadablePayload(f"the callback is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UnreadablePayload("the callback must be a JSON object")
    return payload
