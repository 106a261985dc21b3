"""The back-end ports (ERP, WMS, instant delivery) and a back end as configured.

An adapter never does I/O. Each operation is an *exchange*: a generator that yields the
system's own HTTP requests (:class:`~omnihub.ports.wire.OutboundRequest`) one at a time and is
sent back each :class:`~omnihub.ports.wire.Answer`; it reads the answers (raising
:class:`~omnihub.ports.wire.CallRefused` with ``retry`` set for errors) and returns a canonical
document (``omnihub.domain.backends``). Operations that take several calls (log in, look the
document up, save, submit, audit) stay in one place, and every exchange is idempotent: run it
again after a failure and it finishes the work without doing any of it twice.
``omnihub.adapters.backends.transport.run`` drives an exchange over HTTP.

Callbacks go the other way: ``parse_callback`` checks the signature (``ChannelRefused``),
reads the body (``UnreadablePayload``) and returns canonical documents; ``reply`` is the
answer the system expects from a receiver.

A :class:`BackendConfig` is one back end as configured: which adapter speaks for it, how to
reach it, which of our locations it serves and how its codes differ from ours
(``omnihub.adapters.backends.config`` reads and checks it).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from omnihub.domain.backends import (
    BackendKind,
    ErpRef,
    ItemCost,
    OutboundOrder,
    ReturnDoc,
    RiderStatus,
    RiderTask,
    RiderTaskRef,
    SalesOrderDoc,
    StockDocument,
    StockSnapshot,
    WmsMessage,
    WmsRef,
)
from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.values import Money
from omnihub.ports.wire import Exchange, InboundRequest, Reply

T = TypeVar("T")

_MISSING: Any = object()


class InvalidBackendConfig(DomainError):
    code = ErrorCode.VALIDATION

    def __init__(self, problems: list[str] | str) -> None:
        problems = [problems] if isinstance(problems, str) else problems
        message = problems[0] if len(problems) == 1 else "; ".join(problems)
        super().__init__(message, details={"problems": problems})
        self.problems = problems


@dataclass(frozen=True, slots=True)
class BackendConfig:
    code: str
    kind: BackendKind
    adapter: str
    endpoint: str
    credentials: Mapping[str, str] = field(default_factory=dict)
    locations: tuple[str, ...] = ()
    warehouses: Mapping[str, str] = field(default_factory=dict)
    """our location code -> the system's warehouse (or shop) code"""
    skus: Mapping[str, str] = field(default_factory=dict)
    """our SKU -> the system's item code, for those that differ (the rest are the same)"""
    settings: Mapping[str, Any] = field(default_factory=dict)
    timeout_seconds: float = 10.0

    @property
    def label(self) -> str:
        return f"backends[{self.code}]"

    def credential(self, name: str) -> str:
        value = self.credentials.get(name)
        if value is None or value == "":
            raise InvalidBackendConfig(f"{self.label}.credentials.{name} is required")
        return str(value)

    def setting(self, name: str, default: Any = _MISSING) -> Any:
        value = self.settings.get(name, default)
        if value is _MISSING:
            raise InvalidBackendConfig(f"{self.label}.settings.{name} is required")
        return value

    def url(self, path: str = "") -> str:
        return self.endpoint.rstrip("/") + path

    def serves(self, location: str) -> bool:
        return location in self.locations

    def warehouse_of(self, location: str) -> str:
        """The system's code for one of our locations."""
        code = self.warehouses.get(location)
        if code is None:
            raise InvalidBackendConfig(
                f"{self.label} does not serve location {location!r}; it serves "
                f"{', '.join(self.locations) or 'none'}"
            )
        return code

    def location_of(self, warehouse: str) -> str | None:
        """Our location for the system's warehouse code; None when it is not mapped."""
        for location, code in self.warehouses.items():
            if code == warehouse:
                return location
        return None

    def item_code(self, sku: str) -> str:
        return self.skus.get(sku, sku)

    def sku_of(self, item_code: str) -> str:
        for sku, code in self.skus.items():
            if code == item_code:
                return sku
        return item_code


class BackendAdapter(abc.ABC):
    """What every back-end adapter declares; the config loader checks these at load."""

    name: ClassVar[str]
    kind: ClassVar[BackendKind]
    required_credentials: ClassVar[tuple[str, ...]] = ()
    required_settings: ClassVar[tuple[str, ...]] = ()
    #: True when the system calls the hub back (else the hub polls it)
    receives_callbacks: ClassVar[bool] = False

    def check_config(self, config: BackendConfig) -> list[str]:
        """Problems with adapter-specific settings, each naming its field; [] when fine."""
        return []

    def parse_callback(self, config: BackendConfig, request: InboundRequest) -> list[Any]:
        """Verify the signature (``ChannelRefused``) and read the body (``UnreadablePayload``)
        into canonical documents; [] for a message the hub does not act on."""
        raise NotImplementedError(f"{self.name} sends no callbacks; the hub polls it")

    def reply(self, error: str | None = None) -> Reply:
        """What the system expects back from a receiver: success, or the error given."""
        if error is None:
            return Reply(200, b'{"ok":true}')
        return Reply(400, json.dumps({"ok": False, "error": error}).encode())


class ErpAdapter(BackendAdapter):
    kind = BackendKind.ERP

    @abc.abstractmethod
    def create_sales_order(self, config: BackendConfig, doc: SalesOrderDoc) -> Exchange[ErpRef]:
        """Book and confirm the order; finds and finishes an earlier attempt first."""

    @abc.abstractmethod
    def cancel_sales_order(self, config: BackendConfig, reference: str) -> Exchange[ErpRef]:
        """Cancel it (a cancelled one stays cancelled); ``CallRefused(code="not_found")``."""

    @abc.abstractmethod
    def post_return(self, config: BackendConfig, doc: ReturnDoc) -> Exchange[ErpRef]: ...

    @abc.abstractmethod
    def stock_snapshot(
        self, config: BackendConfig, skus: Sequence[str] | None = None
    ) -> Exchange[StockSnapshot]:
        """On hand per served location and SKU (every SKU when ``skus`` is None)."""

    @abc.abstractmethod
    def item_costs(
        self, config: BackendConfig, skus: Sequence[str]
    ) -> Exchange[list[ItemCost]]: ...

    @abc.abstractmethod
    def stock_documents(
        self, config: BackendConfig, since: datetime
    ) -> Exchange[list[StockDocument]]:
        """Receipts and stock-takes approved at or after ``since`` (oldest first), for the
        hub to poll with an overlapping cursor; the ledger's references make repeats
        harmless."""


class WmsAdapter(BackendAdapter):
    kind = BackendKind.WMS
    receives_callbacks = True

    @abc.abstractmethod
    def create_delivery_order(
        self, config: BackendConfig, order: OutboundOrder
    ) -> Exchange[WmsRef]: ...

    @abc.abstractmethod
    def cancel_delivery_order(
        self, config: BackendConfig, reference: str, location: str
    ) -> Exchange[bool]:
        """True when cancelled; ``CallRefused(retry=False)`` when the warehouse can no longer
        stop it (already shipped)."""

    @abc.abstractmethod
    def inventory(
        self, config: BackendConfig, location: str, skus: Sequence[str]
    ) -> Exchange[StockSnapshot]: ...

    @abc.abstractmethod
    def parse_callback(
        self, config: BackendConfig, request: InboundRequest
    ) -> list[WmsMessage]: ...


class DeliveryAdapter(BackendAdapter):
    kind = BackendKind.DELIVERY
    receives_callbacks = True

    @abc.abstractmethod
    def create_task(self, config: BackendConfig, task: RiderTask) -> Exchange[RiderTaskRef]:
        """Dispatch it; a task that is already live is returned as it is, one that ended
        without a delivery is sent again."""

    @abc.abstractmethod
    def cancel_task(self, config: BackendConfig, reference: str, reason: str) -> Exchange[Money]:
        """Cancel it; returns the penalty the provider deducted."""

    @abc.abstractmethod
    def task_status(self, config: BackendConfig, reference: str) -> Exchange[RiderStatus]:
        """The task now, with the rider's position and the fee."""

    @abc.abstractmethod
    def parse_callback(
        self, config: BackendConfig, request: InboundRequest
    ) -> list[RiderStatus]: ...


def serving(
    configs: Mapping[str, BackendConfig], kind: BackendKind, location: str
) -> BackendConfig | None:
    """The back end of ``kind`` that serves ``location`` (the config loader makes it unique
    for WMSs and delivery providers; for ERPs, the first by code)."""
    for code in sorted(configs):
        config = configs[code]
        if config.kind == kind and config.serves(location):
            return config
    return None


class BackendGateway(abc.ABC):
    """How the hub talks to a back end: the adapter speaking for it, and a run of one of the
    adapter's exchanges against the system (the adapter builds the requests; this sends them)."""

    @abc.abstractmethod
    def adapter(self, config: BackendConfig) -> BackendAdapter: ...

    @abc.abstractmethod
    def run(self, config: BackendConfig, exchange: Exchange[T]) -> T:
        """Drive ``exchange`` to its end; ``CallRefused`` when the system refused or could not
        be reached in time (``retry`` True for the latter)."""
