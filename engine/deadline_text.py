"""How a deadline is written for people: Beijing time, and a deadline at the end of a day as 24:00 of that day,
the way the regulations count whole days (the arithmetic stores "24:00 of D" as 00:00 of D+1, docs/calendar.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from engine.clock import SHANGHAI


def deadline_day_and_time(moment: datetime) -> tuple[date, str]:
    """(day, "HH:MM") of a deadline in Beijing time; midnight is ("the day before", "24:00").

    A naive moment is read as Beijing time."""
    local = moment.astimezone(SHANGHAI) if moment.tzinfo is not None else moment
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return local.date() - timedelta(days=1), "24:00"
    return local.date(), f"{local:%H:%M}"


def deadline_text(moment: datetime) -> str:
    """`2026年10月9日 24:00`: a deadline as notices write it."""
    day, clock = deadline_day_and_time(moment)
    return f"{day.year}年{day.month}月{day.day}日 {clock}"


def deadline_plain(moment: datetime) -> str:
    """`2026-10-09 24:00`: the same deadline in ISO date form, for command-line and report tables."""
    day, clock = deadline_day_and_time(moment)
    return f"{day.isoformat()} {clock}"


__all__ = ["deadline_day_and_time", "deadline_plain", "deadline_text"]
