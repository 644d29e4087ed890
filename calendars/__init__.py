"""The Chinese working-day calendar: regions CN (national) and CN-GX (Guangxi), deadlines, and their data.

    cal = get_calendar("CN-GX")            # cached per (region, allow_provisional)
    cal.add_working_days(date(2026, 9, 30), 2)
"""

from __future__ import annotations

import threading

from calendars.china import ChinaWorkingCalendar, GuangxiWorkingCalendar
from calendars.deadlines import Deadline, DeadlinePolicy
from calendars.errors import CalendarDataError, CalendarError, CalendarInputError, CalendarYearMissing, UnknownRegion
from calendars.store import reload_data

#: region code -> calendar class; Chongqing and every other region without its own days use CN.
REGIONS: dict[str, type[ChinaWorkingCalendar]] = {"CN": ChinaWorkingCalendar, "CN-GX": GuangxiWorkingCalendar}

_cache: dict[tuple[str, bool], ChinaWorkingCalendar] = {}
_cache_lock = threading.Lock()


def get_calendar(region: str = "CN", allow_provisional: bool = False) -> ChinaWorkingCalendar:
    """The calendar of `region`, built once per (region, allow_provisional) and kept current by reload_data()."""
    try:
        return _cache[region, allow_provisional]
    except KeyError:
        pass
    cls = REGIONS.get(region)
    if cls is None:
        raise UnknownRegion(region, tuple(REGIONS))
    with _cache_lock:
        calendar = _cache.get((region, allow_provisional))
        if calendar is None:
            calendar = _cache[region, allow_provisional] = cls(allow_provisional=allow_provisional)
    return calendar


__all__ = [
    "REGIONS",
    "CalendarDataError",
    "CalendarError",
    "CalendarInputError",
    "CalendarYearMissing",
    "ChinaWorkingCalendar",
    "Deadline",
    "DeadlinePolicy",
    "GuangxiWorkingCalendar",
    "UnknownRegion",
    "get_calendar",
    "reload_data",
]
