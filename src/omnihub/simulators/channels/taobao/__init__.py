"""Taobao and Tmall: the Taobao Open Platform (TOP) router and its message pushes."""

from omnihub.simulators.channels.taobao.platform import (
    LOGISTICS_COMPANIES,
    ROUTER_PATH,
    Listing,
    TopError,
    TopSimulator,
    top_sign,
    top_time,
)

__all__ = [
    "LOGISTICS_COMPANIES",
    "ROUTER_PATH",
    "Listing",
    "TopError",
    "TopSimulator",
    "top_sign",
    "top_time",
]
