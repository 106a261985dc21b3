"""The store tills and the small server they talk through."""

from omnihub.simulators.channels.pos.platform import (
    PosSimulator,
)

__all__ = ["PosSimulator"]
