"""A warehouse speaking the Qimen (奇门) WMS protocol, written from the protocol's published
interface descriptions (``taobao.qimen.*``) and the TOP signing rule, not from the adapter."""

from omnihub.simulators.backends.wms.qimen.simulator import QimenWmsSimulator, WmsOrder

__all__ = ["QimenWmsSimulator", "WmsOrder"]
