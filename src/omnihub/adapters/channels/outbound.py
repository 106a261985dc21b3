"""The connector runtime's hooks for deliveries to a platform channel: the platform's own calls
for a stock push or an order status (``render``), and how its answer is read (``judge``). A
``generic`` channel gets the hub's signed JSON envelope instead (``render`` gives None)."""

from __future__ import annotations

from collections.abc import Callable

from omnihub.adapters.channels import adapter_for
from omnihub.platforms.retry import retryable_status
from omnihub.ports import (
    STOCK_PUSH,
    CallRefused,
    ChannelRecord,
    Delivery,
    OutboundRequest,
    ShipmentUpdate,
    StockUpdate,
)

FindChannel = Callable[[str, bool], "ChannelRecord | None"]
"""(code, read again when not found) -> the channel"""


class ChannelCalls:
    def __init__(self, find: FindChannel) -> None:
        self.find = find

    def render(self, delivery: Delivery) -> list[OutboundRequest] | None:
        kind, _, code = delivery.endpoint.partition(":")
        if kind != "channel":
            return None
        channel = self.find(code, True)
        if channel is None or channel.generic:
            return None
        adapter, config = adapter_for(channel.adapter), channel.config
        payload = delivery.payload
        if delivery.event_type == STOCK_PUSH:
            return [
                adapter.stock_request(
                    config,
                    StockUpdate(
                        channel_sku=channel_sku,
                        quantity=int(payload["quantity"]),
                        sku=payload["sku"],
                        version=int(payload["version"]),
                    ),
                )
                for channel_sku in payload.get("channel_skus") or ()
            ]
        request = adapter.shipment_request(
            config,
            ShipmentUpdate(
                external_id=payload["external_id"],
                carrier=payload.get("carrier"),
                tracking_number=payload.get("tracking_number"),
                status=payload["status"],
            ),
        )
        return [] if request is None else [request]

    def judge(self, delivery: Delivery, status: int, body: bytes) -> None:
        code = delivery.endpoint.partition(":")[2]
        channel = self.find(code, False)
        if channel is not None:
            adapter_for(channel.adapter).check_response(status, body)
        if not 200 <= status < 300:
            raise CallRefused(
                f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}",
                retry=retryable_status(status),
            )
