"""Taobao and Tmall: the Taobao Open Platform (TOP) router and its message pushes."""

from omnihub.simulators.channels.taobao.platform import (
    Listing,
    TopError,
    TopSimulator,
)

__all__ = ["Listing", "TopError", "TopSimulator"]
