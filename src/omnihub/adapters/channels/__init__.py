"""Channel adapters: one folder per platform (mapper, client, signature) and this registry.
Adding a channel is a new folder and one line below. The platforms themselves are imitated,
apart and from their own documents, in ``omnihub.simulators.channels``."""

from __future__ import annotations

import importlib

from omnihub.domain.errors import ErrorCode
from omnihub.ports import ChannelAdapter, InvalidChannelConfig

#: adapter name -> "module:Class" of its ChannelAdapter (imported when first used)
REGISTRY: dict[str, str] = {
    "tmall": "omnihub.adapters.channels.taobao.client:TmallAdapter",
    "taobao": "omnihub.adapters.channels.taobao.client:TaobaoAdapter",
    "jd": "omnihub.adapters.channels.jd.client:JdAdapter",
    "pdd": "omnihub.adapters.channels.pdd.client:PddAdapter",
    "douyin": "omnihub.adapters.channels.douyin.client:DouyinAdapter",
    "shopify": "omnihub.adapters.channels.shopify.client:ShopifyAdapter",
    "woocommerce": "omnihub.adapters.channels.woocommerce.client:WooCommerceAdapter",
    "miniapp": "omnihub.adapters.channels.miniapp.client:MiniappAdapter",
    "pos": "omnihub.adapters.channels.pos.client:PosAdapter",
    "meituan": "omnihub.adapters.channels.meituan.client:MeituanAdapter",
    "eleme": "omnihub.adapters.channels.eleme.client:ElemeAdapter",
}

_LOADED: dict[str, ChannelAdapter] = {}


def adapter_for(name: str) -> ChannelAdapter:
    """The adapter speaking for ``name``; one instance per process (adapters keep no state)."""
    adapter = _LOADED.get(name)
    if adapter is None:
        target = REGISTRY.get(name)
        if target is None:
            raise InvalidChannelConfig(
                f"no channel adapter named {name!r}; adapters are: {', '.join(sorted(REGISTRY))}",
                code=ErrorCode.VALIDATION,
            )
        module, _, cls = target.partition(":")
        adapter = getattr(importlib.import_module(module), cls)()
        _LOADED[name] = adapter
    return adapter
