"""The precomputed working-day index of one region: a sorted list of working days, so lookups are bisects."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, timedelta

from calendars.data_files import STATUTORY_FIXED_DAYS, CalendarData

_ONE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WorkdayIndex:
    """Working days of the years first_year..last_year; `known` are the years with published data, `partial` the
    years known only up to a day (an overlay region's year with the national file alone: year -> first unknown day)."""

    first_year: int
    last_year: int
    known: frozenset[int]
    partial: dict[int, date]
    days: list[date]
    workset: frozenset[date]
    days_off: dict[date, str]
    # The longest stretch of known days: inside it no year check is needed (the fast path of every lookup).
    safe_lo: date  # the day before the stretch starts: a count may start there
    safe_hi: date  # the stretch's last day
    safe_first: int  # position in `days` of the stretch's first working day
    safe_end: int  # position in `days` just after the stretch's last working day

    def unknown_from(self, year: int) -> date | None:
        """The first day of `year` without data: None for a known year, 1 January for a year without any."""
        if year in self.known:
            return None
        return self.partial.get(year, date(year, 1, 1))


def _longest_stretch(known: frozenset[int], partial: dict[int, date]) -> tuple[date, date] | None:
    """The longest run of known days (ties: the later): whole known years, ending early in a partial year."""
    best: tuple[date, date] | None = None
    start: date | None = None
    for y in sorted(known | partial.keys()):
        if start is None or y - 1 not in known:  # a partial year ends a stretch, so the next one starts anew
            start = date(y, 1, 1)
        end = date(y, 12, 31) if y in known else partial[y] - _ONE
        if end >= start and (best is None or end - start >= best[1] - best[0]):
            best = (start, end)
    return best


def build_index(data: CalendarData, region: str, first_year: int, last_year: int) -> WorkdayIndex:
    """Classifies every day of first_year..last_year: declared entries win, then weekends, then (in a year
    without national data) the fixed-date holidays. A partial year has its national file: no guess is added."""
    known = data.years(region)
    partial = data.partial_years(region)
    declared: dict[date, tuple[str, str]] = {}
    for entry in data.entries(region):
        declared[entry.day] = (entry.kind, entry.label)
    days: list[date] = []
    days_off: dict[date, str] = {}
    for year in range(first_year, last_year + 1):
        national = year in known or year in partial
        # a provisional year (no published schedule) has the holidays whose date never moves
        fixed = {} if national else {date(year, m, d): label for m, d, label, since in STATUTORY_FIXED_DAYS
                                     if since <= year}
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
    stretch = _longest_stretch(
        frozenset(y for y in known if first_year <= y <= last_year),
        {y: d for y, d in partial.items() if first_year <= y <= last_year},
    )
    if stretch is None:  # nothing known: the fast path never applies
        safe_lo, safe_hi, safe_first, safe_end = date.max, date.min, 0, 0
    else:
        safe_lo, safe_hi = stretch[0] - _ONE, stretch[1]
        safe_first, safe_end = bisect_left(days, safe_lo + _ONE), bisect_right(days, safe_hi)
    return WorkdayIndex(
        first_year=first_year,
        last_year=last_year,
        known=known,
        partial=partial,
        days=days,
        workset=frozenset(days),
        days_off=days_off,
        safe_lo=safe_lo,
        safe_hi=safe_hi,
        safe_first=safe_first,
        safe_end=safe_end,
    )
