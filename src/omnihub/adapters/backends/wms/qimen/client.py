"""The Qimen WMS adapter: signed XML calls to the WMS router and its signed callbacks.

A call is ``POST {endpoint}?method=taobao.qimen.<api>&timestamp=...&format=xml&app_key=...&
v=2.0&sign_method=md5&customerId=...&sign=...`` with the XML body. A callback arrives the same
way; the hub checks ``app_key``, ``customerId`` and ``sign`` and answers with
:meth:`QimenAdapter.reply` (the WMS reads the ``flag``; HTTP 200 either way, so a failure is
re-sent by the WMS, not dropped).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

from omnihub.adapters.backends.wire import local_text, read_time
from omnihub.adapters.backends.wms.qimen import mapper, signature
from omnihub.domain.backends import OutboundOrder, StockSnapshot, WmsMessage, WmsRef
from omnihub.platforms.retry import retryable_status
from omnihub.ports import (
    Answer,
    BackendConfig,
    CallRefused,
    ChannelRefused,
    Exchange,
    InboundRequest,
    OutboundRequest,
    Reply,
    UnreadablePayload,
    WmsAdapter,
)

API_VERSION = "2.0"
CONTENT_TYPE = "text/xml;charset=utf-8"


class QimenAdapter(WmsAdapter):
    name = "qimen"
    required_credentials = ("app_key", "app_secret", "customer_id")
    required_settings = ("owner_code",)

    def clock(self) -> datetime:
        """Stamps requests (``timestamp``) and snapshots."""
        return datetime.now(UTC)

    # -- requests --------------------------------------------------------------------------------
    def system_params(self, config: BackendConfig, method: str) -> dict[str, str]:
        return {
            "method": f"taobao.qimen.{method}",
            "timestamp": local_text(self.clock()),
            "format": "xml",
            "app_key": config.credential("app_key"),
            "v": API_VERSION,
            "sign_method": "md5",
            "customerId": config.credential("customer_id"),
        }

    def request(self, config: BackendConfig, method: str, body: bytes) -> OutboundRequest:
        params = self.system_params(config, method)
        params["sign"] = signature.sign(config.credential("app_secret"), params, body)
        return OutboundRequest("POST", config.url(), {"Content-Type": CONTENT_TYPE}, body, params)

    def _call(self, config: BackendConfig, method: str, body: bytes) -> Exchange[object]:
        answer: Answer = yield self.request(config, method, body)
        if retryable_status(answer.status):
            raise CallRefused(
                f"qimen answered HTTP {answer.status}", retry=True, code=f"http_{answer.status}"
            )
        if answer.status >= 400:
            raise CallRefused(
                f"qimen answered HTTP {answer.status}", retry=False, code=f"http_{answer.status}"
            )
        return mapper.read_response(answer.body)

    # -- the port ------------------------------------------------------------------------------
    def create_delivery_order(
        self, config: BackendConfig, order: OutboundOrder
    ) -> Exchange[WmsRef]:
        root = yield from self._call(
            config, "deliveryorder.create", mapper.delivery_order(config, order)
        )
        external = mapper.text(root, "deliveryOrderId")  # type: ignore[arg-type]
        if external is None:
            raise CallRefused(
                "qimen accepted the delivery order without a deliveryOrderId",
                retry=False,
                code="unreadable_answer",
            )
        return WmsRef(order.reference, external, order.location)

    def cancel_delivery_order(
        self, config: BackendConfig, reference: str, location: str
    ) -> Exchange[bool]:
        yield from self._call(
            config, "order.cancel", mapper.order_cancel(config, reference, location)
        )
        return True

    def inventory(
        self, config: BackendConfig, location: str, skus: Sequence[str]
    ) -> Exchange[StockSnapshot]:
        taken_at = self.clock()
        root = yield from self._call(
            config, "inventory.query", mapper.inventory_query(config, location, skus)
        )
        try:
            lines, unmapped = mapper.snapshot_lines(config, root)  # type: ignore[arg-type]
        except UnreadablePayload as exc:
            raise CallRefused(
                f"qimen: {exc.message}", retry=False, code="unreadable_answer"
            ) from exc
        return StockSnapshot(config.code, taken_at, tuple(lines), tuple(unmapped))

    # -- callbacks -------------------------------------------------------------------------------
    def verify_callback(self, config: BackendConfig, request: InboundRequest) -> None:
        query = request.query
        given = query.get("sign")
        if not given:
            raise ChannelRefused("the Qimen callback has no sign; it was not stored")
        if query.get("app_key") != config.credential("app_key"):
            raise ChannelRefused(
                f"the Qimen callback is for app_key {query.get('app_key')!r}, "
                "not ours; it was not stored"
            )
        if query.get("customerId") != config.credential("customer_id"):
            raise ChannelRefused(
                f"the Qimen callback is for customerId "
                f"{query.get('customerId')!r}, not ours; it was not stored"
            )
        expected = signature.sign(config.credential("app_secret"), query, request.body)
        if not hmac.compare_digest(given.strip().upper().encode(), expected.encode()):
            raise ChannelRefused(
                "the Qimen callback's sign does not match our app secret; it was not stored"
            )

    def parse_callback(self, config: BackendConfig, request: InboundRequest) -> list[WmsMessage]:
        self.verify_callback(config, request)
        method = mapper.method_name(request.query.get("method"))
        root = mapper.parse(request.body, f"{method or 'callback'} body")
        sent = request.query.get("timestamp")
        sent_at = read_time(sent, "timestamp") if sent else None
        if method == "deliveryorder.confirm":
            return [mapper.delivery_confirmation(config, root, sent_at)]
        if method == "entryorder.confirm":
            return [mapper.entry_confirmation(config, root, sent_at)]
        if method == "stockchange.report":
            return list(mapper.stock_changes(config, root, sent_at))
        if method == "inventory.report":
            return [mapper.inventory_report(config, root, sent_at)]
        raise UnreadablePayload(
            f"Qimen method {method or '(none)'} is not one the hub receives "
            "(deliveryorder.confirm, entryorder.confirm, stockchange.report, "
            "inventory.report)"
        )

    def reply(self, error: str | None = None) -> Reply:
        if error is None:
            return Reply(200, mapper.response(True), CONTENT_TYPE)
        return Reply(200, mapper.response(False, "failure", error[:200]), CONTENT_TYPE)
