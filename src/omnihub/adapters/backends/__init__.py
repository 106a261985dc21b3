"""Back-end adapters: ERPs, warehouse systems and instant-delivery providers, one folder per
system under ``<kind>/<name>/`` (client, mapper, signature, simulator), and this registry.
Adding a back end is a new folder and one line below.

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

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from omnihub.adapters.backends.base import BackendAdapter

#: adapter name -> "module:Class" (imported when first used)
REGISTRY: dict[str, str] = {
    "kingdee": "omnihub.adapters.backends.erp.kingdee.client:KingdeeAdapter",
    "odoo": "omnihub.adapters.backends.erp.odoo.client:OdooAdapter",
    "erpnext": "omnihub.adapters.backends.erp.erpnext.client:ErpNextAdapter",
    "qimen": "omnihub.adapters.backends.wms.qimen.client:QimenAdapter",
    "dada": "omnihub.adapters.backends.delivery.dada.client:DadaAdapter",
}

_LOADED: dict[str, BackendAdapter] = {}


def adapter_for(name: str) -> BackendAdapter:
    """The adapter named ``name``; one instance per process (adapters keep no state)."""
    adapter = _LOADED.get(name)
    if adapter is None:
        from omnihub.adapters.backends.config import InvalidBackendConfig

        target = REGISTRY.get(name)
        if target is None:
            raise InvalidBackendConfig(
                f"no backend adapter named {name!r}; adapters are: {', '.join(sorted(REGISTRY))}"
            )
        module, _, cls = target.partition(":")
        adapter = getattr(importlib.import_module(module), cls)()
        _LOADED[name] = adapter
    return adapter


def load_backends(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Every configured back end by code, validated (see ``config.parse_backends``)."""
    from omnihub.adapters.backends.config import parse_backends

    return parse_backends(items)
