"""The documents the hub exchanges with its back ends (ERP, WMS, instant delivery), in the
hub's own terms, and the rules that read them: which ledger movements a stock document asks
for, and the rider-task state machine. Plain data; the back-end ports
(``omnihub.ports.backends``) speak these, each adapter translates them to its system's own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from omnihub.domain.inventory import MovementKind
from omnihub.domain.values import Money


class BackendKind(StrEnum):
    ERP = "erp"
    WMS = "wms"
    DELIVERY = "delivery"


# -- canonical documents ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Line:
    """A SKU (our code) and a quantity. Order lines have a positive ``qty``; stock-take counts
    may be zero; adjustment lines are signed deltas."""

    sku: str
    qty: int
    unit_price: Money | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    phone: str
    address: str
    province: str = ""
    city: str = ""
    district: str = ""
    postcode: str | None = None


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lng: float


# ERP ---------------------------------------------------------------------------------------
class ErpDocState(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    """submitted and approved (Kingdee audited, Odoo ``sale``, ERPNext docstatus 1)"""
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class SalesOrderDoc:
    """A sales order the hub books in the ERP when it releases an order to a node."""

    reference: str
    """our identity of the document (order or fulfilment id); the ERP keeps it (bill number,
    ``client_order_ref``, ``po_no``) so a second create finds the first"""
    location: str
    """our location code; the config maps it to the ERP's warehouse"""
    ordered_at: datetime
    lines: tuple[Line, ...]
    channel: str | None = None
    customer: str | None = None
    """the ERP's customer code; the backend's ``settings.customer`` when None"""
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ReturnDoc:
    reference: str
    order_reference: str
    location: str
    returned_at: datetime
    lines: tuple[Line, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ErpRef:
    """Where one of our documents lives in the ERP."""

    reference: str
    external_id: str
    number: str | None
    state: ErpDocState


@dataclass(frozen=True, slots=True)
class StockLine:
    location: str
    sku: str
    on_hand: int
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class StockSnapshot:
    """What a system says it holds. Stock in warehouses the config does not map is left out
    and their codes listed in ``unmapped`` (a compare must not read them as zero)."""

    source: str
    taken_at: datetime
    lines: tuple[StockLine, ...]
    unmapped: tuple[str, ...] = ()

    def on_hand(self) -> dict[tuple[str, str], int]:
        """(location, sku) -> quantity, summed over the system's bins and batches."""
        totals: dict[tuple[str, str], int] = {}
        for line in self.lines:
            key = (line.location, line.sku)
            totals[key] = totals.get(key, 0) + line.on_hand
        return totals


@dataclass(frozen=True, slots=True)
class ItemCost:
    sku: str
    cost: Money
    location: str | None = None


class ReceiptKind(StrEnum):
    PURCHASE = "purchase"
    TRANSFER = "transfer"
    RETURN = "return"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class InboundReceipt:
    """Goods received at a location: an ERP purchase receipt or a WMS entry-order confirmation.
    Ledger: one RECEIPT movement per line, referenced by :attr:`key`."""

    source: str
    reference: str
    location: str
    lines: tuple[Line, ...]
    received_at: datetime
    kind: ReceiptKind = ReceiptKind.PURCHASE
    message_id: str | None = None
    """the system's idempotency key of this message (several per document when partial)"""
    final: bool = True

    @property
    def key(self) -> str:
        return f"{self.source}:{self.message_id or self.reference}"


@dataclass(frozen=True, slots=True)
class StockTake:
    """Counted quantities (absolute) at a location. Ledger: a STOCKTAKE movement of
    ``counted - on_hand`` per line, computed under the row lock."""

    source: str
    reference: str
    location: str
    counted_at: datetime
    counts: tuple[Line, ...]
    message_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source}:{self.message_id or self.reference}"


@dataclass(frozen=True, slots=True)
class StockAdjustment:
    """Signed changes at a location. ``reason`` is ``stocktake`` (a count's gain or loss),
    ``adjustment``, or the system's own change type (Qimen ``orderType``)."""

    source: str
    reference: str
    location: str
    at: datetime
    lines: tuple[Line, ...]
    reason: str = "adjustment"
    message_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source}:{self.message_id or self.reference}"


StockDocument = InboundReceipt | StockTake | StockAdjustment


def ledger_lines(document: StockDocument) -> list[tuple[str, str, MovementKind, int, str]]:
    """The ledger movements a document asks for: (location, sku, kind, qty, reference), in the
    terms of ``services.inventory.RecordMovement`` (qty moved for receipts, the count for a
    stock-take, the signed change for an adjustment). The reference is the document's
    ``key``, so a document applied twice moves stock once."""
    if isinstance(document, InboundReceipt):
        kind = {
            ReceiptKind.RETURN: MovementKind.RETURN,
            ReceiptKind.TRANSFER: MovementKind.TRANSFER_IN,
        }.get(document.kind, MovementKind.RECEIPT)
        return [
            (document.location, x.sku, kind, x.qty, document.key)
            for x in document.lines
            if x.qty > 0
        ]
    if isinstance(document, StockTake):
        return [
            (document.location, x.sku, MovementKind.STOCKTAKE, x.qty, document.key)
            for x in document.counts
            if x.qty >= 0
        ]
    return [
        (document.location, x.sku, MovementKind.ADJUSTMENT, x.qty, document.key)
        for x in document.lines
        if x.qty
    ]


def occurred_at(document: StockDocument) -> datetime:
    """When the stock moved (received, counted, adjusted)."""
    if isinstance(document, InboundReceipt):
        return document.received_at
    if isinstance(document, StockTake):
        return document.counted_at
    return document.at


# WMS ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OutboundOrder:
    """A delivery order for a warehouse node: pick, pack and ship these lines."""

    reference: str
    """our fulfilment id (Qimen ``deliveryOrderCode``)"""
    order_reference: str
    location: str
    created_at: datetime
    lines: tuple[Line, ...]
    receiver: Receiver
    carrier: str | None = None
    """preferred carrier code (SF, YTO, ZTO, ...); the warehouse chooses when None"""
    channel: str | None = None
    remark: str | None = None


@dataclass(frozen=True, slots=True)
class WmsRef:
    reference: str
    external_id: str
    location: str


@dataclass(frozen=True, slots=True)
class Package:
    carrier: str
    tracking_number: str
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryConfirmation:
    """The warehouse shipped (part of) a delivery order. ``lines`` are what this message
    shipped; ``final`` is False for an intermediate (partial) confirmation."""

    source: str
    reference: str
    external_id: str | None
    location: str
    message_id: str
    final: bool
    confirmed_at: datetime
    lines: tuple[Line, ...]
    packages: tuple[Package, ...]
    status: str
    """the system's own status word (DELIVERED, PARTDELIVERED)"""

    @property
    def carrier(self) -> str | None:
        return self.packages[0].carrier if self.packages else None

    @property
    def tracking_numbers(self) -> tuple[str, ...]:
        return tuple(p.tracking_number for p in self.packages)


WmsMessage = DeliveryConfirmation | InboundReceipt | StockAdjustment


# delivery ----------------------------------------------------------------------------------
class RiderState(StrEnum):
    WAITING = "waiting"
    ACCEPTED = "accepted"
    PICKING_UP = "picking_up"
    """the rider is at the store"""
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RETURNING = "returning"
    """delivery failed; the goods are on their way back to the store"""
    RETURNED = "returned"

    @property
    def final(self) -> bool:
        return self in RIDER_FINAL_STATES

    @property
    def failed(self) -> bool:
        """The task ended without a delivery: the order goes back to routing or holds."""
        return self in (RiderState.CANCELLED, RiderState.EXPIRED, RiderState.RETURNED)


#: states after which a task changes no more
RIDER_FINAL_STATES = frozenset(
    {RiderState.DELIVERED, RiderState.CANCELLED, RiderState.EXPIRED, RiderState.RETURNED}
)

_R = RiderState
_AGAIN = frozenset({_R.WAITING, _R.ACCEPTED, _R.PICKING_UP, _R.DELIVERING, _R.DELIVERED})
#: the moves a task may make. Callbacks can be lost, so forward moves may skip states; a rider
#: who gives up puts the task back to waiting; a task that ended without a delivery starts
#: again when it is sent anew (a late callback of its first life is older: ``supersedes``
#: refuses it by time).
RIDER_TRANSITIONS: Mapping[RiderState, frozenset[RiderState]] = {
    _R.WAITING: frozenset(
        {_R.ACCEPTED, _R.PICKING_UP, _R.DELIVERING, _R.DELIVERED, _R.CANCELLED, _R.EXPIRED}
    ),
    _R.ACCEPTED: frozenset({_R.WAITING, _R.PICKING_UP, _R.DELIVERING, _R.DELIVERED, _R.CANCELLED}),
    _R.PICKING_UP: frozenset({_R.WAITING, _R.DELIVERING, _R.DELIVERED, _R.CANCELLED}),
    _R.DELIVERING: frozenset({_R.DELIVERED, _R.RETURNING, _R.RETURNED}),
    _R.RETURNING: frozenset({_R.RETURNED}),
    _R.DELIVERED: frozenset(),
    _R.CANCELLED: _AGAIN,
    _R.EXPIRED: _AGAIN,
    _R.RETURNED: _AGAIN,
}


@dataclass(frozen=True, slots=True)
class RiderTask:
    """A store order handed to an instant-delivery provider."""

    reference: str
    store: str
    """our location code; the config maps it to the provider's shop number"""
    created_at: datetime
    receiver: Receiver
    destination: Position
    cargo_value: Money
    items: tuple[Line, ...]
    weight_kg: float = 1.0
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RiderTaskRef:
    reference: str
    fee: Money
    distance_m: int
    state: RiderState = RiderState.WAITING


@dataclass(frozen=True, slots=True)
class Rider:
    id: str
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class RiderStatus:
    """Where a rider task is. Callbacks carry the state and rider; a status query adds the
    rider's position and the fee."""

    source: str
    reference: str
    external_id: str | None
    state: RiderState
    native_status: int
    updated_at: datetime
    message_id: str
    rider: Rider | None = None
    position: Position | None = None
    fee: Money | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    """rider, merchant or provider"""


def supersedes(current: RiderStatus | None, incoming: RiderStatus) -> bool:
    """Whether ``incoming`` should replace ``current``: not older, not the same state, and a
    move the table allows. Duplicates and late (out-of-order) callbacks are False."""
    if current is None:
        return True
    if incoming.updated_at < current.updated_at or incoming.state == current.state:
        return False
    return incoming.state in RIDER_TRANSITIONS[current.state]
