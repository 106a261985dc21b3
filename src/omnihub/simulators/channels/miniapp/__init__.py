"""Our WeChat mini-program's back end."""

from omnihub.simulators.channels.miniapp.platform import (
    MiniappSimulator,
)

__all__ = ["MiniappSimulator"]
