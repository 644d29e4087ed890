"""The injected clock: the engine never reads the wall clock itself, so tests and simulations never sleep."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def beijing_text(moment: datetime, *, seconds: bool = False) -> str:
    """A moment as Beijing wall time for people to read in a log line or a check: `2026-11-22 10:05`, with
    `seconds` `2026-11-22 10:05:07`."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


class Clock(Protocol):
    """Tells the current moment, timezone-aware."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, in Asia/Shanghai."""

    def now(self) -> datetime:
        return datetime.now(SHANGHAI)


class ManualClock:
    """A clock that moves only when told to: for tests, the demo and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start, e.g. datetime(..., tzinfo=SHANGHAI)")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Move to any moment, backwards included (clock-fault tests use that)."""
        if moment.tzinfo is None:
            raise ValueError("ManualClock.set needs a timezone-aware moment")
        self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        self._now = self._now + delta
        return self._now
