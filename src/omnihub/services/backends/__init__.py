"""Back-end use cases: what the hub does with what its ERPs, warehouses (WMS) and delivery
providers tell it, and the documents it sends them. One module per concern:

- ``rules``: the hub's rules per back end (compare mode, reroute attempts, polling);
- ``documents``: what every back end's documents share (receiver, lines, bindings);
- ``wms``: delivery orders and a warehouse's confirmation (ships the fulfilment it names; the
  order ships when its last part does; the channel is told by the usual status push);
- ``erp``: sales orders, and the returns the ERP books;
- ``delivery``: rider tasks; a task's status moves the store fulfilment (shipped with the rider,
  delivered), a task that ended without a delivery sends the order back to routing, or holds
  it with the reason once ``reroute_attempts`` are spent;
- ``inbound``: a callback's (or a poll's) documents applied in one transaction; receipts,
  stock-takes and adjustments move the ledger once per document (its ``key`` is the ledger
  reference), and the channels follow through ``stock.changed``;
- ``compare``: the full compare lists where the hub's on-hand differs from the back end's
  snapshot and, by the back end's ``compare`` rule, corrects it with a stock-take movement;
- ``exports``: what the hub sends its back ends (deliveries to ``backend:<code>`` queued from
  order events, and carried out through the ``BackendGateway`` port);
- ``polls``: what it does with them on a schedule (ERP polls and returns, rider tracking,
  stock compares).

The documents are ``omnihub.domain.backends`` (plain data, no I/O); the back-end ports and a
back end's configuration are ``omnihub.ports.backends``. The public names are re-exported here.
"""

from omnihub.services.backends.compare import (
    compare_now,
    compare_stock,
    record_failed_compare,
    skus_at,
    snapshot_of,
)
from omnihub.services.backends.delivery import (
    FAILED_RIDER_STATES,
    REQUESTED,
    apply_rider_status,
    deliveries_of,
    record_rider_task_sent,
    rider_task,
)
from omnihub.services.backends.documents import (
    BOUND_ERP_ORDER,
    BOUND_ERP_RETURN,
    BOUND_RIDER_TASK,
    BOUND_WMS_ORDER,
    Applied,
    order_and_fulfilment,
    record_sent,
)
from omnihub.services.backends.erp import (
    costs_now,
    record_return_booked,
    return_reference,
    returns_to_book,
    sales_order_doc,
)
from omnihub.services.backends.inbound import (
    apply_document,
    apply_stock_document,
    keep_rejected_callback,
    receive_documents,
)
from omnihub.services.backends.rules import (
    MAX_COST_SKUS,
    RULE_SETTINGS,
    BackendRules,
    BackendUnavailable,
    CompareMode,
    backend_rules,
)
from omnihub.services.backends.wms import (
    TRACKING_NUMBER_LENGTH,
    apply_delivery_confirmation,
    outbound_order,
)

__all__ = [
    "BOUND_ERP_ORDER",
    "BOUND_ERP_RETURN",
    "BOUND_RIDER_TASK",
    "BOUND_WMS_ORDER",
    "FAILED_RIDER_STATES",
    "MAX_COST_SKUS",
    "REQUESTED",
    "RULE_SETTINGS",
    "TRACKING_NUMBER_LENGTH",
    "Applied",
    "BackendRules",
    "BackendUnavailable",
    "CompareMode",
    "apply_delivery_confirmation",
    "apply_document",
    "apply_rider_status",
    "apply_stock_document",
    "backend_rules",
    "compare_now",
    "compare_stock",
    "costs_now",
    "deliveries_of",
    "keep_rejected_callback",
    "order_and_fulfilment",
    "outbound_order",
    "receive_documents",
    "record_failed_compare",
    "record_rider_task_sent",
    "record_return_booked",
    "record_sent",
    "return_reference",
    "returns_to_book",
    "rider_task",
    "sales_order_doc",
    "skus_at",
    "snapshot_of",
]
