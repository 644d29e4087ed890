"""The precomputed working-day index of one region: a sorted list of working days, so lookups are bisects."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, timedelta

from calendars.data_files import CalendarData

#: The holidays whose date never moves, used for a provisional year (one with no published schedule).
FIXED_DATE_HOLIDAYS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "元旦"),
    (5, 1, "劳动节"),
    (10, 1, "国庆节"),
    (10, 2, "国庆节"),
    (10, 3, "国庆节"),
)
_ONE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WorkdayIndex:
    """Working days of the years first_year..last_year; `known` are the years with published data."""

    first_year: int
    last_year: int
    known: frozenset[int]
    days: list[date]
    workset: frozenset[date]
    days_off: dict[date, str]
    # The largest run of known years: inside it no year check is needed (the fast path of every lookup).
    safe_lo: date  # the day before the run starts: a count may start there
    safe_hi: date  # the run's last day
    safe_first: int  # position in `days` of the run's first working day
    safe_end: int  # position in `days` just after the run's last working day


def _longest_run(years: frozenset[int]) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    for y in sorted(years):
        if y - 1 in years:
            continue
        end = y
        while end + 1 in years:
            end += 1
        if best is None or end - y >= best[1] - best[0]:
            best = (y, end)
    return best


def build_index(data: CalendarData, region: str, first_year: int, last_year: int) -> WorkdayIndex:
    """Classifies every day of first_year..last_year: declared entries win, then weekends, then (in a year
    without data) the fixed-date holidays."""
    known = data.years(region)
    declared: dict[date, tuple[str, str]] = {}
    for entry in data.entries(region):
        declared[entry.day] = (entry.kind, entry.label)
    days: list[date] = []
    days_off: dict[date, str] = {}
    for year in range(first_year, last_year + 1):
        fixed = {} if year in known else {date(year, m, d): label for m, d, label in FIXED_DATE_HOLIDAYS}
        day = date(year, 1, 1)
        end = date(year, 12, 31)
        while day <= end:
            kind_label = declared.get(day)
            if kind_label is not None:
                if kind_label[0] == "work":
                    days.append(day)
                else:
                    days_off[day] = kind_label[1]
            elif day in fixed:
                days_off[day] = fixed[day]
            elif day.weekday() < 5:
                days.append(day)
            day += _ONE
    run = _longest_run(frozenset(y for y in known if first_year <= y <= last_year))
    if run is None:  # nothing known: the fast path never applies
        safe_lo, safe_hi, safe_first, safe_end = date.max, date.min, 0, 0
    else:
        safe_lo, safe_hi = date(run[0], 1, 1) - _ONE, date(run[1], 12, 31)
        safe_first, safe_end = bisect_left(days, safe_lo + _ONE), bisect_right(days, safe_hi)
    return WorkdayIndex(
        first_year=first_year,
        last_year=last_year,
        known=known,
        days=days,
        workset=frozenset(days),
        days_off=days_off,
        safe_lo=safe_lo,
        safe_hi=safe_hi,
        safe_first=safe_first,
        safe_end=safe_end,
    )
