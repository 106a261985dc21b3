"""The platforms' clocks: Chinese platforms write Asia/Shanghai times without an offset."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_text(moment: datetime, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time as Chinese systems write it: local (Asia/Shanghai) and without an offset
    (``2026-11-11 08:00:01``)."""
    return moment.astimezone(SHANGHAI).strftime(fmt)
