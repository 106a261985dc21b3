"""Back-end adapters: ERPs, warehouse systems and instant-delivery providers, one folder per
system under ``<kind>/<name>/`` (client, mapper, signature), and this registry. Adding a back
end is a new folder and one line below. Each system's local simulator lives apart, under
``omnihub.simulators.backends.<kind>.<name>``, written from the system's documents.

=========  ========  ==========================================================================
name       kind      what it speaks
=========  ========  ==========================================================================
kingdee    erp       Kingdee K/3 Cloud WebAPI (ValidateUser session, Save/Submit/Audit,
                     ExecuteBillQuery); polled for receipts and counts
odoo       erp       Odoo external JSON-RPC (``/jsonrpc`` object.execute_kw); polled
erpnext    erp       ERPNext / Frappe REST (``/api/resource``, token auth) and its signed
                     webhooks for purchase receipts and stock reconciliations
qimen      wms       the Qimen (奇门) WMS protocol: deliveryorder.create, order.cancel,
                     inventory.query; callbacks deliveryorder.confirm, entryorder.confirm,
                     stockchange.report, inventory.report
dada       delivery  Dada-style instant delivery: addOrder, reAddOrder, formalCancel,
                     status/query; signed status callbacks
=========  ========  ==========================================================================
"""

from omnihub.adapters.backends.config import parse_backends as load_backends
from omnihub.adapters.backends.registry import REGISTRY, adapter_for

__all__ = ["REGISTRY", "adapter_for", "load_backends"]
