"""What every back end's documents share: the kinds of the bindings of their ids, the receiver
and lines of a document the hub sends, an order with one of its fulfilments, binding a back
end's id once, and what became of a document the hub applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omnihub.domain.backends import ErpRef, Line, Receiver, WmsRef
from omnihub.domain.errors import NotFound
from omnihub.domain.orders import Order
from omnihub.domain.routing.fulfilment import Fulfilment
from omnihub.ports import UnitOfWork

#: binding kinds (``external_refs.kind``) of the back ends' document ids
BOUND_WMS_ORDER = "wms_order"
BOUND_ERP_ORDER = "erp_order"
BOUND_ERP_RETURN = "erp_return"
BOUND_RIDER_TASK = "rider_task"


def receiver_of(order: Order) -> Receiver:
    ship, buyer = order.ship_to, order.buyer
    return Receiver(
        name=ship.name or buyer.name or "",
        phone=ship.phone or buyer.phone or "",
        address=ship.address or "",
        province=ship.province or "",
        city=ship.city or "",
        district=ship.district or "",
        postcode=ship.postcode,
    )


def lines_of(order: Order, fulfilment: Fulfilment) -> tuple[Line, ...]:
    prices = {line.line_no: line.unit_price for line in order.lines}
    return tuple(
        Line(str(entry["sku"]), int(entry["qty"]), prices.get(int(entry["line_no"])))
        for entry in fulfilment.lines
    )


def order_and_fulfilment(uow: UnitOfWork, fulfilment_id: str) -> tuple[Order, Fulfilment]:
    with uow:
        fulfilment = uow.routing.get_fulfilment(fulfilment_id)
        if fulfilment is None:
            raise NotFound(f"fulfilment {fulfilment_id} does not exist")
        order = uow.orders.get(fulfilment.order_id)
        if order is None:
            raise NotFound(f"order {fulfilment.order_id} does not exist")
        return order, fulfilment


def record_sent(
    uow: UnitOfWork,
    now: datetime,
    backend: str,
    ref: WmsRef | ErpRef,
    order_id: str,
) -> None:
    """Bind the back end's id of a document it accepted (a second time changes nothing)."""
    kind = BOUND_WMS_ORDER if isinstance(ref, WmsRef) else BOUND_ERP_ORDER
    bind_once(
        uow,
        now,
        backend,
        kind,
        ref.reference,
        ref.external_id,
        f"order:{order_id}",
        {"fulfilment": ref.reference, "external_id": ref.external_id},
    )


def bind_once(
    uow: UnitOfWork,
    now: datetime,
    backend: str,
    kind: str,
    reference: str,
    external_id: str,
    subject: str,
    details: dict[str, Any],
) -> None:
    """Bind the back end's id of our ``reference`` and audit it, the first time only."""
    with uow:
        if uow.backends.bound(backend, kind, reference) is None:
            uow.backends.bind(backend, kind, external_id, reference, now)
            uow.audit.record(
                actor=f"backend:{backend}",
                action=f"backend.{kind}_created",
                subject=subject,
                details=details,
                at=now,
            )
        uow.commit()


@dataclass(frozen=True, slots=True)
class Applied:
    document: str
    outcome: str
    order_id: str | None = None
    problems: tuple[str, ...] = ()
