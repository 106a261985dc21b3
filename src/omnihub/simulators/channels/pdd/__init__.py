"""Pinduoduo: the open platform's router (``/api/router``) of one shop."""

from omnihub.simulators.channels.pdd.platform import (
    ROUTER,
    PddSimulator,
    pdd_time,
    pop_sign,
)

__all__ = ["ROUTER", "PddSimulator", "pdd_time", "pop_sign"]
