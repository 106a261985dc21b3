"""The Dada adapter: signed JSON calls and signed status callbacks.

create = query the task by our reference → ``addOrder`` when Dada has none, ``reAddOrder``
when it ended without a delivery (cancelled, expired, returned), or the live task as it is;
so a repeat after a lost answer never dispatches a second rider.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from omnihub.adapters.backends.delivery.dada import mapper, signature
from omnihub.adapters.backends.wire import decode, dumps, json_request, refuse_http
from omnihub.domain.backends import RiderStatus, RiderTask, RiderTaskRef
from omnihub.domain.values import Money
from omnihub.ports import (
    Answer,
    BackendConfig,
    CallRefused,
    ChannelRefused,
    DeliveryAdapter,
    Exchange,
    InboundRequest,
    OutboundRequest,
    Reply,
    UnreadablePayload,
)

T = TypeVar("T")


class DadaAdapter(DeliveryAdapter):
    name = "dada"
    required_credentials = ("app_key", "app_secret", "source_id")
    required_settings = ("city_code", "callback_url")

    def check_config(self, config: BackendConfig) -> list[str]:
        url = str(config.settings.get("callback_url", ""))
        if not url.startswith(("http://", "https://")):
            return [
                f"{config.label}.settings.callback_url must be the hub's http(s) URL for "
                "Dada's callbacks"
            ]
        return []

    def clock(self) -> datetime:
        return datetime.now(UTC)

    # -- the conversation ---------------------------------------------------------------------
    def request(
        self, config: BackendConfig, path: str, business: dict[str, Any]
    ) -> OutboundRequest:
        params = {
            "app_key": config.credential("app_key"),
            "body": dumps(business).decode(),
            "format": "json",
            "source_id": config.credential("source_id"),
            "timestamp": str(int(self.clock().timestamp())),
            "v": mapper.API_VERSION,
        }
        params["signature"] = signature.request_signature(config.credential("app_secret"), params)
        return json_request("POST", config.url(path), params)

    def _call(self, config: BackendConfig, path: str, business: dict[str, Any]) -> Exchange[Any]:
        answer: Answer = yield self.request(config, path, business)
        refuse_http(answer, self.name)
        return mapper.read_answer(decode(answer, self.name))

    def _query(self, config: BackendConfig, reference: str) -> Exchange[Any]:
        """The ``status/query`` result, or None when Dada has no such task."""
        try:
            return (yield from self._call(config, mapper.QUERY_ORDER, {"order_id": reference}))
        except CallRefused as exc:
            if exc.code == str(mapper.ORDER_NOT_FOUND):
                return None
            raise

    # -- the port ------------------------------------------------------------------------------
    def create_task(self, config: BackendConfig, task: RiderTask) -> Exchange[RiderTaskRef]:
        result = yield from self._query(config, task.reference)
        current = (
            None
            if result is None
            else self._read(mapper.from_query, config, task.reference, result)
        )
        if current is not None and not current.state.failed:
            return RiderTaskRef(
                task.reference,
                current.fee or Money.of("0"),
                int(float(result.get("distance") or 0)),
                current.state,
            )
        path = mapper.ADD_ORDER if current is None else mapper.READD_ORDER
        result = yield from self._call(config, path, mapper.add_order_body(config, task))
        return self._read(lambda _c, r: mapper.task_ref(task.reference, r), config, result)

    def cancel_task(self, config: BackendConfig, reference: str, reason: str) -> Exchange[Money]:
        try:
            result = yield from self._call(
                config, mapper.CANCEL_ORDER, mapper.cancel_body(config, reference, reason)
            )
        except CallRefused as exc:
            if exc.code == str(mapper.ALREADY_CANCELLED):
                return Money.of("0")
            if exc.code == str(mapper.ORDER_NOT_FOUND):
                raise CallRefused(str(exc), retry=False, code="not_found") from exc
            raise
        return mapper.money((result or {}).get("deduct_fee", 0))

    def task_status(self, config: BackendConfig, reference: str) -> Exchange[RiderStatus]:
        result = yield from self._query(config, reference)
        if result is None:
            raise CallRefused(f"dada has no task {reference}", retry=False, code="not_found")
        return self._read(mapper.from_query, config, reference, result)

    # -- callbacks -------------------------------------------------------------------------------
    def parse_callback(self, config: BackendConfig, request: InboundRequest) -> list[RiderStatus]:
        token = config.settings.get("callback_token")
        if token and not hmac.compare_digest(
            str(request.query.get("token", "")).encode(), str(token).encode()
        ):
            raise ChannelRefused(
                "the Dada callback does not carry our callback token; it was not stored"
            )
        payload = mapper.parse_body(request.body)
        given = payload.get("signature")
        if not given:
            raise ChannelRefused("the Dada callback has no signature; it was not stored")
        for name in ("client_id", "order_id", "update_time"):
            if payload.get(name) is None:
                raise UnreadablePayload(f"the Dada callback has no {name}")
        expected = signature.callback_signature(
            payload["client_id"], payload["order_id"], payload["update_time"]
        )
        if not hmac.compare_digest(str(given).strip().lower().encode(), expected.encode()):
            raise ChannelRefused(
                "the Dada callback's signature does not match its client_id, "
                "order_id and update_time; it was not stored"
            )
        return [mapper.from_callback(config, payload)]

    def reply(self, error: str | None = None) -> Reply:
        """Dada retries a callback until it gets HTTP 200."""
        if error is None:
            return Reply(200, b'{"status":"ok"}')
        return Reply(400, dumps({"status": "fail", "msg": error[:200]}))

    @staticmethod
    def _read(reader: Callable[..., T], config: BackendConfig, *args: Any) -> T:
        try:
            return reader(config, *args)
        except (UnreadablePayload, KeyError, TypeError, ValueError) as exc:
            raise CallRefused(
                f"dada answered something the adapter cannot read: {exc}",
                retry=False,
                code="unreadable_answer",
            ) from exc
