"""Every interface the services use, one module per concern; adapters implement them.

- ``clock``: the time;
- ``repositories``: what a unit of work reads and writes;
- ``unit_of_work``: one transaction over them;
- ``bus``: the event bus;
- ``wire``: what crosses the wire (requests received and sent, refusals);
- ``channels``: the sales-channel adapter port;
- ``backends``: the ERP, WMS and delivery ports and a back end's configuration.

Everything is re-exported here, so ``from omnihub.ports import UnitOfWork`` reads as before.
"""

from omnihub.ports.backends import (
    BackendAdapter,
    BackendConfig,
    DeliveryAdapter,
    ErpAdapter,
    InvalidBackendConfig,
    WmsAdapter,
)
from omnihub.ports.bus import (
    BatchHandler,
    BusUnavailable,
    Envelope,
    EventBus,
    Handler,
)
from omnihub.ports.channels import (
    ChannelAdapter,
    ChannelConfig,
    InvalidChannelConfig,
    MessageLog,
    Parsed,
    PulledOrder,
    PulledPage,
    ShipmentUpdate,
    StockUpdate,
    UnknownChannelStatus,
    Verified,
)
from omnihub.ports.clock import (
    Clock,
    SystemClock,
)
from omnihub.ports.repositories import (
    AuditLog,
    BackendRepository,
    CatalogRepository,
    CompareReport,
    ConcurrentUpdate,
    DuplicateOrder,
    InboundLog,
    LedgerEntry,
    LocationRepository,
    OrderPage,
    OrderRepository,
    Outbox,
    PickupCodeRecord,
    ReservationRepository,
    RiderTaskRecord,
    RoutingRepository,
    StockRepository,
    TrackPoint,
)
from omnihub.ports.unit_of_work import (
    UnitOfWork,
    UnitOfWorkFactory,
)
from omnihub.ports.wire import (
    Answer,
    CallRefused,
    ChannelRefused,
    Exchange,
    InboundRequest,
    OutboundRequest,
    Reply,
    UnreadablePayload,
)

__all__ = [
    "Answer",
    "AuditLog",
    "BackendAdapter",
    "BackendConfig",
    "BackendRepository",
    "BatchHandler",
    "BusUnavailable",
    "CallRefused",
    "CatalogRepository",
    "ChannelAdapter",
    "ChannelConfig",
    "ChannelRefused",
    "Clock",
    "CompareReport",
    "ConcurrentUpdate",
    "DeliveryAdapter",
    "DuplicateOrder",
    "Envelope",
    "ErpAdapter",
    "EventBus",
    "Exchange",
    "Handler",
    "InboundLog",
    "InboundRequest",
    "InvalidBackendConfig",
    "InvalidChannelConfig",
    "LedgerEntry",
    "LocationRepository",
    "MessageLog",
    "OrderPage",
    "OrderRepository",
    "OutboundRequest",
    "Outbox",
    "Parsed",
    "PickupCodeRecord",
    "PulledOrder",
    "PulledPage",
    "Reply",
    "ReservationRepository",
    "RiderTaskRecord",
    "RoutingRepository",
    "ShipmentUpdate",
    "StockRepository",
    "StockUpdate",
    "SystemClock",
    "TrackPoint",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UnknownChannelStatus",
    "UnreadablePayload",
    "Verified",
    "WmsAdapter",
]
