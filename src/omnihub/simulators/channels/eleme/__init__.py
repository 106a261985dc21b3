"""饿了么 (Eleme): one shop's message pushes and the open platform's JSON API."""

from omnihub.simulators.channels.eleme.platform import (
    DEMO_ITEMS,
    ElemeSimulator,
    Item,
    api_signature,
    push_signature,
)

__all__ = ["DEMO_ITEMS", "ElemeSimulator", "Item", "api_signature", "push_signature"]
