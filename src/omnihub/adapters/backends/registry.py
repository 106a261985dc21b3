"""The back-end adapters by name: one line per system, each imported when first used."""

from __future__ import annotations

import importlib

from omnihub.ports import BackendAdapter, InvalidBackendConfig

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
        target = REGISTRY.get(name)
        if target is None:
            raise InvalidBackendConfig(
                f"no backend adapter named {name!r}; adapters are: {', '.join(sorted(REGISTRY))}"
            )
        module, _, cls = target.partition(":")
        adapter = getattr(importlib.import_module(module), cls)()
        _LOADED[name] = adapter
    return adapter
