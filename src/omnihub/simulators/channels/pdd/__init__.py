"""Pinduoduo: the open platform's router (``/api/router``) of one shop."""

from omnihub.simulators.channels.pdd.platform import (
    PddSimulator,
    pdd_time,
)

__all__ = ["PddSimulator", "pdd_time"]
