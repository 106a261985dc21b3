"""The demo's driver of each channel (one module per platform), registered by adapter name."""

from __future__ import annotations

from omnihub.entrypoints.demo.drivers.douyin import DouyinDriver
from omnihub.entrypoints.demo.drivers.eleme import ElemeDriver
from omnihub.entrypoints.demo.drivers.jd import JdDriver
from omnihub.entrypoints.demo.drivers.meituan import MeituanDriver
from omnihub.entrypoints.demo.drivers.miniapp import MiniappDriver
from omnihub.entrypoints.demo.drivers.pdd import PddDriver
from omnihub.entrypoints.demo.drivers.pos import PosDriver
from omnihub.entrypoints.demo.drivers.shopify import ShopifyDriver
from omnihub.entrypoints.demo.drivers.taobao import TaobaoDriver, TmallDriver
from omnihub.entrypoints.demo.drivers.woocommerce import WooCommerceDriver
from omnihub.entrypoints.demo.native import DRIVERS, NativeDriver

for _driver in (
    DouyinDriver,
    ElemeDriver,
    JdDriver,
    MeituanDriver,
    MiniappDriver,
    PddDriver,
    PosDriver,
    ShopifyDriver,
    TaobaoDriver,
    TmallDriver,
    WooCommerceDriver,
):
    DRIVERS[_driver.adapter] = _driver

__all__ = ["DRIVERS", "NativeDriver"]
