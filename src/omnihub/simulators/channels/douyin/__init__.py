"""抖店 (Douyin shop): the open platform's calls and its message pushes."""

from omnihub.simulators.channels.douyin.platform import (
    DouyinSimulator,
    Item,
    call_sign,
    event_sign,
)

__all__ = ["DouyinSimulator", "Item", "call_sign", "event_sign"]
