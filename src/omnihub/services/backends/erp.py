"""The ERPs: the sales order the hub books for the part of an order one node fulfils, and the
return documents of the goods that came back, for the ERP to book."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from omnihub.domain.backends import ErpRef, ItemCost, Line, ReturnDoc, SalesOrderDoc
from omnihub.domain.errors import InvalidInput, NotFound
from omnihub.domain.orders import Order
from omnihub.domain.routing.fulfilment import Fulfilment
from omnihub.ports import (
    BackendConfig,
    BackendGateway,
    CallRefused,
    ErpAdapter,
    LedgerEntry,
    UnitOfWork,
)
from omnihub.services.backends.documents import BOUND_ERP_RETURN, bind_once, lines_of
from omnihub.services.backends.rules import MAX_COST_SKUS, BackendUnavailable


def sales_order_doc(order: Order, fulfilment: Fulfilment) -> SalesOrderDoc:
    """The ERP's sales order for the part of an order one node fulfils."""
    return SalesOrderDoc(
        reference=fulfilment.id,
        location=fulfilment.location,
        ordered_at=order.channel_created_at,
        lines=lines_of(order, fulfilment),
        channel=order.channel,
        note=f"{order.channel} order {order.external_id}",
    )


def _document_of(reference: str) -> str:
    """The document a return movement belongs to: a counter refund writes one movement per
    order line (``order:<id>:<line>``), one return of the order; any other reference (a WMS
    return receipt, a return posted to the API) is a document of its own."""
    if reference.startswith("order:") and reference.count(":") == 2:
        return reference.rsplit(":", 1)[0]
    return reference


def return_reference(location: str, document: str) -> str:
    """Our number of the ERP's return document of ``document`` at ``location``: short (bill
    numbers are), and the same however often it is worked out, so the ERP books it once."""
    digest = hashlib.sha1(f"{location}|{document}".encode()).hexdigest()[:16].upper()
    return f"RT{digest}"


def returns_to_book(
    uow: UnitOfWork, config: BackendConfig, since: datetime, now: datetime, limit: int = 1000
) -> tuple[list[ReturnDoc], datetime]:
    """The goods that came back into the ERP's locations since ``since``, as return documents
    for it to book (one per location and document, priced at the SKU's list price), and how
    far they reach: ``now``, or when ``limit`` movements were read, the time of the last
    document left for the next read (so no document is booked with part of its lines).
    Returns the ERP reported itself are left out: it booked them."""
    with uow:
        entries = uow.backends.returns_since(list(config.locations), since, limit)
        prices = {}
        for sku in {entry.sku for entry in entries}:
            found = uow.catalog.get_sku(sku)
            if found is not None:
                prices[sku] = found.price
    upto = now
    if len(entries) >= limit:  # the last document may go on past the page: read it next time
        last = (entries[-1].location, _document_of(entries[-1].reference))
        rest = [e for e in entries if (e.location, _document_of(e.reference)) != last]
        if rest:  # (a single document longer than the page is booked as far as it was read)
            upto = min(e.at for e in entries if (e.location, _document_of(e.reference)) == last)
            entries = rest
    own = f"{config.code}:"
    documents: dict[tuple[str, str], list[LedgerEntry]] = {}
    for entry in entries:
        if entry.qty > 0 and not entry.reference.startswith(own):
            documents.setdefault((entry.location, _document_of(entry.reference)), []).append(entry)
    docs = []
    for (location, document), moved in documents.items():
        quantities: dict[str, int] = {}
        for entry in moved:
            quantities[entry.sku] = quantities.get(entry.sku, 0) + entry.qty
        docs.append(
            ReturnDoc(
                reference=return_reference(location, document),
                order_reference=document.removeprefix("order:"),
                location=location,
                returned_at=max(entry.at for entry in moved),
                lines=tuple(Line(sku, qty, prices.get(sku)) for sku, qty in quantities.items()),
                reason=f"returned to {location}: {document}",
            )
        )
    return docs, upto


def record_return_booked(
    uow: UnitOfWork, now: datetime, backend: str, ref: ErpRef, doc: ReturnDoc
) -> None:
    """Bind the ERP's id of a return it booked (a second time changes nothing)."""
    bind_once(
        uow,
        now,
        backend,
        BOUND_ERP_RETURN,
        ref.reference,
        ref.external_id,
        f"location:{doc.location}",
        {
            "return": doc.reference,
            "document": doc.order_reference,
            "external_id": ref.external_id,
            "number": ref.number,
            "lines": {line.sku: line.qty for line in doc.lines},
        },
    )


def costs_now(
    config: BackendConfig, skus: Sequence[str], gateway: BackendGateway
) -> tuple[list[ItemCost], list[str]]:
    """The ERP's item costs of ``skus`` (our codes), read now, and the SKUs named that it
    keeps no cost for."""
    adapter = gateway.adapter(config)
    if not isinstance(adapter, ErpAdapter):
        raise NotFound(f"{config.label} is a {config.kind} back end; item costs come from an ERP")
    wanted = list(dict.fromkeys(sku.strip() for sku in skus if sku.strip()))
    if not wanted:
        raise InvalidInput("name the SKUs to cost: ?sku=TEE-WHITE-M&sku=MUG-CERAMIC-350")
    if len(wanted) > MAX_COST_SKUS:
        raise InvalidInput(f"{len(wanted)} SKUs named; ask for at most {MAX_COST_SKUS} at a time")
    try:
        costs = gateway.run(config, adapter.item_costs(config, wanted))
    except CallRefused as exc:
        raise BackendUnavailable(f"{config.label} did not give its item costs: {exc}") from exc
    found = {cost.sku for cost in costs}
    return costs, [sku for sku in wanted if sku not in found]
