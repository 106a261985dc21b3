"""What the hub sends its back ends, as deliveries to ``backend:<code>``.

- An order released to its nodes queues, per fulfilment, a delivery order for the WMS serving
  the node (express orders), a rider task for the delivery provider serving the store
  (same-day orders) and a sales order for the ERP serving it; an order cancelled, refunded or
  held takes back what had gone out (idempotent: one delivery per operation and fulfilment
  however often an event comes).
- :func:`perform` carries one of them out: it runs the adapter's exchange through the
  ``BackendGateway`` outside any transaction, then records the back end's id in a short one;
  the connector runtime retries, backs off, opens the circuit and keeps dead letters as for
  every other call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omnihub.domain.backends import RIDER_FINAL_STATES, BackendKind, Line, ReturnDoc
from omnihub.domain.errors import DomainError
from omnihub.domain.events import OrderStatusChanged
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.routing.fulfilment import FulfilmentStatus
from omnihub.domain.values import Money
from omnihub.ports import (
    DELIVERED,
    PENDING,
    BackendConfig,
    BackendGateway,
    CallRefused,
    Clock,
    Delivery,
    DeliveryAdapter,
    DeliveryQueue,
    Envelope,
    ErpAdapter,
    NewDelivery,
    UnitOfWorkFactory,
    WmsAdapter,
    serving,
)
from omnihub.services.backends.delivery import record_rider_task_sent, rider_task
from omnihub.services.backends.documents import order_and_fulfilment, record_sent
from omnihub.services.backends.erp import record_return_booked, sales_order_doc
from omnihub.services.backends.wms import outbound_order

WMS_CREATE = "wms.create_delivery_order"
WMS_CANCEL = "wms.cancel_delivery_order"
ERP_CREATE = "erp.create_sales_order"
ERP_CANCEL = "erp.cancel_sales_order"
ERP_RETURN = "erp.post_return"
RIDER_CREATE = "delivery.create_task"
RIDER_CANCEL = "delivery.cancel_task"
#: what takes back each create when the order is withdrawn
CANCELS = {WMS_CREATE: WMS_CANCEL, ERP_CREATE: ERP_CANCEL, RIDER_CREATE: RIDER_CANCEL}
#: order statuses after which what went out to the back ends is taken back
WITHDRAWN = frozenset({"cancelled", "refunded", "held"})
#: answers to a cancel that mean there is nothing (left) to cancel
NOTHING_TO_CANCEL = frozenset({"not_found", "ORDER_NOT_FOUND"})


def endpoint(code: str) -> str:
    return f"backend:{code}"


def event_id(operation: str, fulfilment_id: str) -> str:
    return f"{operation}:{fulfilment_id}"


# -- order events -> deliveries -----------------------------------------------------------------
def queue_for_order_events(
    envelopes: Sequence[Envelope],
    backends: Mapping[str, BackendConfig],
    read_uow: UnitOfWorkFactory,
    deliveries: DeliveryQueue,
    now: datetime,
) -> int:
    """The deliveries to the back ends that ``order.status_changed`` events call for (see the
    module's text); how many were queued."""
    if not backends:
        return 0
    items: list[NewDelivery] = []
    for envelope in envelopes:
        change = OrderStatusChanged.from_dict(envelope["data"])
        if change.to == "released":
            items += _released(change.order_id, backends, read_uow)
        elif change.to in WITHDRAWN:
            items += _withdrawn(change.order_id, backends, read_uow, deliveries)
    if not items:
        return 0
    return deliveries.enqueue(items, now)


def _released(
    order_id: str, backends: Mapping[str, BackendConfig], read_uow: UnitOfWorkFactory
) -> list[NewDelivery]:
    with read_uow() as uow:
        order, parts = uow.orders.get(order_id), uow.routing.fulfilments(order_id)
    if order is None:
        return []
    items = []
    for part in parts:
        if part.status is not FulfilmentStatus.RELEASED:
            continue
        location = part.location
        rider = None
        if order.delivery is DeliveryMode.SAME_DAY:
            rider = serving(backends, BackendKind.DELIVERY, location)
        wms = None
        if order.delivery is not DeliveryMode.PICKUP and rider is None:
            wms = serving(backends, BackendKind.WMS, location)
        erp = serving(backends, BackendKind.ERP, location)
        for config, operation in ((wms, WMS_CREATE), (rider, RIDER_CREATE), (erp, ERP_CREATE)):
            if config is not None:
                items.append(_item(config, operation, part.id, order_id, location))
    return items


def _withdrawn(
    order_id: str,
    backends: Mapping[str, BackendConfig],
    read_uow: UnitOfWorkFactory,
    deliveries: DeliveryQueue,
) -> list[NewDelivery]:
    with read_uow() as uow:
        parts = uow.routing.fulfilments(order_id)
    items = []
    for part in parts:
        if part.status is not FulfilmentStatus.CANCELLED:
            continue
        for config in backends.values():
            if not config.serves(part.location):
                continue
            for create, cancel in CANCELS.items():
                sent = deliveries.status_of(endpoint(config.code), event_id(create, part.id))
                if sent is not None:
                    items.append(_item(config, cancel, part.id, order_id, part.location))
    return items


def _item(
    config: BackendConfig, operation: str, fulfilment_id: str, order_id: str, location: str
) -> NewDelivery:
    return NewDelivery(
        endpoint=endpoint(config.code),
        url=config.endpoint,
        event_id=event_id(operation, fulfilment_id),
        event_type=operation,
        payload={
            "backend": config.code,
            "operation": operation,
            "fulfilment_id": fulfilment_id,
            "order_id": order_id,
            "location": location,
        },
    )


def return_item(config: BackendConfig, doc: ReturnDoc) -> NewDelivery:
    """The delivery booking a return document with the ERP."""
    return NewDelivery(
        endpoint=endpoint(config.code),
        url=config.endpoint,
        event_id=f"{ERP_RETURN}:{doc.reference}",
        event_type=ERP_RETURN,
        payload={
            "backend": config.code,
            "operation": ERP_RETURN,
            "location": doc.location,
            "return": {
                "reference": doc.reference,
                "order_reference": doc.order_reference,
                "location": doc.location,
                "returned_at": doc.returned_at.isoformat(),
                "reason": doc.reason,
                "lines": [
                    {
                        "sku": line.sku,
                        "qty": line.qty,
                        "price": None if line.unit_price is None else str(line.unit_price.amount),
                        "currency": None if line.unit_price is None else line.unit_price.currency,
                    }
                    for line in doc.lines
                ],
            },
        },
    )


def _return_doc(body: Mapping[str, Any]) -> ReturnDoc:
    return ReturnDoc(
        reference=body["reference"],
        order_reference=body["order_reference"],
        location=body["location"],
        returned_at=datetime.fromisoformat(body["returned_at"]),
        lines=tuple(
            Line(
                line["sku"],
                int(line["qty"]),
                None if line["price"] is None else Money.of(line["price"], line["currency"]),
            )
            for line in body["lines"]
        ),
        reason=body.get("reason"),
    )


# -- carrying a delivery out ----------------------------------------------------------------------
@dataclass(frozen=True)
class Exporter:
    """What carrying out a delivery to a back end takes."""

    backends: Mapping[str, BackendConfig]
    gateway: BackendGateway
    uow_factory: UnitOfWorkFactory
    read_uow: UnitOfWorkFactory
    deliveries: DeliveryQueue
    clock: Clock


def perform(delivery: Delivery, exporter: Exporter) -> None:
    """Carry out one delivery to a back end (the connector runtime's hook): returns when it is
    done, raises ``CallRefused`` (``retry`` False: a dead letter at once) when it is not."""
    payload = delivery.payload
    config = exporter.backends.get(payload["backend"])
    if config is None:
        raise CallRefused(
            f"back end {payload['backend']} is no longer configured",
            retry=False,
            code="unknown_backend",
        )
    operation = OPERATIONS.get(payload["operation"])
    if operation is None:
        raise CallRefused(
            f"no back-end operation {payload['operation']}", retry=False, code="unknown"
        )
    operation(exporter, config, payload)


def _wrong_kind(config: BackendConfig, kind: str) -> CallRefused:
    return CallRefused(
        f"{config.label} ({config.adapter}) is not a {kind}", retry=False, code="wrong_kind"
    )


def wms_adapter(gateway: BackendGateway, config: BackendConfig) -> WmsAdapter:
    """The back end's adapter, which must be a WMS's (else a final ``CallRefused``)."""
    adapter = gateway.adapter(config)
    if not isinstance(adapter, WmsAdapter):
        raise _wrong_kind(config, "WmsAdapter")
    return adapter


def erp_adapter(gateway: BackendGateway, config: BackendConfig) -> ErpAdapter:
    """The back end's adapter, which must be an ERP's (else a final ``CallRefused``)."""
    adapter = gateway.adapter(config)
    if not isinstance(adapter, ErpAdapter):
        raise _wrong_kind(config, "ErpAdapter")
    return adapter


def delivery_adapter(gateway: BackendGateway, config: BackendConfig) -> DeliveryAdapter:
    """The back end's adapter, which must be a delivery provider's (else a final
    ``CallRefused``)."""
    adapter = gateway.adapter(config)
    if not isinstance(adapter, DeliveryAdapter):
        raise _wrong_kind(config, "DeliveryAdapter")
    return adapter


def _wms_create(exporter: Exporter, config: BackendConfig, payload: Mapping[str, Any]) -> None:
    adapter = wms_adapter(exporter.gateway, config)
    order, part = order_and_fulfilment(exporter.read_uow(), payload["fulfilment_id"])
    if part.status is FulfilmentStatus.CANCELLED:
        return  # withdrawn before it went out: nothing to create (the cancel finds none)
    ref = exporter.gateway.run(
        config, adapter.create_delivery_order(config, outbound_order(order, part))
    )
    record_sent(exporter.uow_factory(), exporter.clock.now(), config.code, ref, order.id)


def _erp_create(exporter: Exporter, config: BackendConfig, payload: Mapping[str, Any]) -> None:
    adapter = erp_adapter(exporter.gateway, config)
    order, part = order_and_fulfilment(exporter.read_uow(), payload["fulfilment_id"])
    if part.status is FulfilmentStatus.CANCELLED:
        return
    ref = exporter.gateway.run(
        config, adapter.create_sales_order(config, sales_order_doc(order, part))
    )
    record_sent(exporter.uow_factory(), exporter.clock.now(), config.code, ref, order.id)


def _erp_return(exporter: Exporter, config: BackendConfig, payload: Mapping[str, Any]) -> None:
    adapter = erp_adapter(exporter.gateway, config)
    doc = _return_doc(payload["return"])
    ref = exporter.gateway.run(config, adapter.post_return(config, doc))
    record_return_booked(exporter.uow_factory(), exporter.clock.now(), config.code, ref, doc)


def _rider_create(exporter: Exporter, config: BackendConfig, payload: Mapping[str, Any]) -> None:
    adapter = delivery_adapter(exporter.gateway, config)
    order, part = order_and_fulfilment(exporter.read_uow(), payload["fulfilment_id"])
    if part.status is not FulfilmentStatus.RELEASED:
        return  # withdrawn, or the goods already left: no rider to send
    try:
        task = rider_task(order, part)
    except DomainError as exc:
        raise CallRefused(exc.message, retry=False, code="no_destination") from exc
    ref = exporter.gateway.run(config, adapter.create_task(config, task))
    record_rider_task_sent(exporter.uow_factory(), exporter.clock.now(), config.code, part, ref)


def _cancel_needed(
    exporter: Exporter, config: BackendConfig, create: str, fulfilment_id: str
) -> bool:
    """Whether the create went out (a cancel waits while it is still being tried)."""
    sent = exporter.deliveries.status_of(endpoint(config.code), event_id(create, fulfilment_id))
    if sent == PENDING:
        raise CallRefused(
            "the document is still being created; its cancel waits for it",
            retry=True,
            code="create_pending",
        )
    return sent == DELIVERED


def _wms_cancel(exporter: Exporter, config: BackendConfig, payload: Mapping[str, Any]) -> None:
    adapter = wms_adapter(exporter.gateway, config)
    if not _cancel_needed(exporter, config, WMS_CREATE, payload["fulfilment_id"]):
        return
    try:
        exporter.gateway.run(
            config,
            adapter.cancel_delivery_order(config, payload["fulfilment_id"], payload["location"]),
        )
    except CallRefused as exc:
        if exc.code not in NOTHING_TO_CANCEL:
            raise  # e.g. ORDER_SHIPPED: a dead letter for a person, with the WMS's word


def _erp_cancel(exporter: Exporter, config: BackendConfig, payload: Mapping[str, Any]) -> None:
    adapter = erp_adapter(exporter.gateway, config)
    if not _cancel_needed(exporter, config, ERP_CREATE, payload["fulfilment_id"]):
        return
    try:
        exporter.gateway.run(config, adapter.cancel_sales_order(config, payload["fulfilment_id"]))
    except CallRefused as exc:
        if exc.code not in NOTHING_TO_CANCEL:
            raise


def _rider_cancel(exporter: Exporter, config: BackendConfig, payload: Mapping[str, Any]) -> None:
    adapter = delivery_adapter(exporter.gateway, config)
    if not _cancel_needed(exporter, config, RIDER_CREATE, payload["fulfilment_id"]):
        return
    with exporter.read_uow() as uow:
        task = uow.backends.rider_task(payload["fulfilment_id"])
    if task is not None and task.state in RIDER_FINAL_STATES:
        return  # it ended by itself (the failure that sent the order back, for one)
    try:
        exporter.gateway.run(
            config, adapter.cancel_task(config, payload["fulfilment_id"], "the order was withdrawn")
        )
    except CallRefused as exc:
        if exc.code not in NOTHING_TO_CANCEL:
            raise


Operation = Callable[[Exporter, BackendConfig, Mapping[str, Any]], None]
OPERATIONS: dict[str, Operation] = {
    WMS_CREATE: _wms_create,
    WMS_CANCEL: _wms_cancel,
    ERP_CREATE: _erp_create,
    ERP_CANCEL: _erp_cancel,
    ERP_RETURN: _erp_return,
    RIDER_CREATE: _rider_create,
    RIDER_CANCEL: _rider_cancel,
}
