"""美团闪购 (Meituan): one shop's callbacks and the open platform's calls."""

from omnihub.simulators.channels.meituan.platform import (
    DEMO_FOODS,
    Food,
    MeituanSimulator,
    sig,
)

__all__ = ["DEMO_FOODS", "Food", "MeituanSimulator", "sig"]
