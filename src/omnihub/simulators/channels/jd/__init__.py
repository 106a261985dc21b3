"""JD: the JOS router (``/routerjson``) of one vender."""

from omnihub.simulators.channels.jd.platform import (
    JdSimulator,
)

__all__ = ["JdSimulator"]
