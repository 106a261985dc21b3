"""JD: the JOS router (``/routerjson``) of one vender."""

from omnihub.simulators.channels.jd.platform import (
    ROUTER,
    JdSimulator,
    jd_time,
    jos_sign,
)

__all__ = ["ROUTER", "JdSimulator", "jd_time", "jos_sign"]
