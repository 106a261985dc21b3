"""The demo's driver for each channel: its platform simulator and native messages."""

from __future__ import annotations

from omnihub.entrypoints.demo.native import DRIVERS, NativeDriver

__all__ = ["DRIVERS", "NativeDriver"]
