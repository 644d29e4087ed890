"""The Chinese working-day calendars on workalendar's `Calendar` API, fed from the YAML data through an index.

Every workalendar method that looks at working days is overridden to go through the precomputed index, so
"add N working days", "between", "is working" and "next" are bisects or a set lookup, never a walk over days.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta
from typing import Any, ClassVar

from workalendar.core import SAT, SUN, Calendar, cleaned_date
from workalendar.exceptions import UnsupportedDateType
from workalendar.registry_tools import iso_register

from calendars import store
from calendars.data_files import CalendarData
from calendars.deadlines import SHANGHAI
from calendars.errors import CalendarInputError, CalendarYearMissing
from calendars.index import WorkdayIndex, build_index

_ONE = timedelta(days=1)


def _as_date(value: object, argument: str = "day") -> date:
    """The calendar day of `value`: a date as is; an aware datetime's day in Shanghai, whatever its own zone; a
    naive datetime's own day (its wall-clock time is taken as Shanghai's, as workalendar callers pass it)."""
    return _local(value, argument).date() if isinstance(value, datetime) else _checked(value, argument)


def _local(value: datetime, argument: str) -> datetime:
    """An aware datetime moved to Shanghai; a naive one unchanged."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value
    try:
        return value.astimezone(SHANGHAI)
    except OverflowError:  # e.g. datetime.max in UTC+14: its Shanghai day does not exist
        raise CalendarInputError(argument, "a datetime between year 1 and 9999 in Asia/Shanghai", value) from None


def _checked(value: object, argument: str) -> date:
    try:
        return cleaned_date(value)  # type: ignore[no-any-return]
    except UnsupportedDateType:
        raise CalendarInputError(argument, "a date or datetime", value) from None


def _as_count(value: object, argument: str = "delta") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalendarInputError(argument, "an integer number of working days", value)
    return value


class ChinaWorkingCalendar(Calendar):  # type: ignore[misc]
    """China (national working-day schedule of the State Council notices)"""

    region: ClassVar[str] = "CN"
    WEEKEND_DAYS = (SAT, SUN)
    include_new_years_day = False  # every day off comes from the data, none from workalendar's rules

    def __init__(self, allow_provisional: bool = False, data: CalendarData | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_provisional = allow_provisional
        self._pinned = data is not None  # a calendar built on explicit data does not follow reloads
        self._grow_lock = threading.Lock()
        self._refresh(data if data is not None else store.current_data())
        if not self._pinned:
            store.follow(self)

    # -- index management ----------------------------------------------------------------------------------

    def _refresh(self, data: CalendarData) -> None:
        years = data.years(self.region) | data.partial_years(self.region).keys()
        # With no year at all the index starts empty (first > last) and grows only for provisional calendars.
        first, last = (min(years), max(years)) if years else (1, 0)
        with self._grow_lock:  # a provisional growth in another thread must not install an index of the old data
            self._data = data
            self._install(build_index(data, self.region, first, last))
            self._holidays: dict[int, list[tuple[date, str]]] = {}

    def _install(self, index: WorkdayIndex) -> None:
        # One tuple, replaced whole: a fast path running in another thread sees either the old or the new index,
        # never a mix of the two.
        self._fast = (
            index.days,
            index.workset,
            index.safe_lo,
            index.safe_hi,
            index.safe_first,
            index.safe_end,
            index.safe_hi + _ONE if index.safe_hi < date.max else date.max,
        )
        self._index = index

    def _cover(self, first_year: int, last_year: int) -> WorkdayIndex:
        """Makes the index span first_year..last_year: a missing year raises, or is added provisionally."""
        index = self._index
        if index.first_year <= first_year and last_year <= index.last_year:
            return index
        if not self.allow_provisional:
            # The index spans the known years, so the year just beyond it on the asked side has no data.
            if index.first_year > index.last_year:
                raise self._missing(first_year)
            beyond = index.first_year - 1 if first_year < index.first_year else index.last_year + 1
            raise self._missing(beyond)
        if first_year <= MINYEAR or last_year >= MAXYEAR:
            raise CalendarInputError("date", f"a date between {MINYEAR + 1} and {MAXYEAR - 1}",
                                     first_year if first_year <= MINYEAR else last_year)
        with self._grow_lock:
            index = self._index
            if index.first_year > index.last_year:  # empty: nothing to keep
                lo, hi = first_year, last_year
            else:
                lo, hi = min(first_year, index.first_year), max(last_year, index.last_year)
            if (lo, hi) != (index.first_year, index.last_year):
                self._install(build_index(self._data, self.region, lo, hi))
        return self._index

    def _require(self, first: date, last: date) -> None:
        """Raises CalendarYearMissing if a day of first..last has no data (strict calendars)."""
        if self.allow_provisional or first > last:
            return
        year = self._unknown_year(first, last)
        if year is not None:
            raise self._missing(year)

    def _unknown_year(self, first: date, last: date) -> int | None:
        """The first year of first..last (first <= last) holding a day of that span without data, else None."""
        index = self._index
        for year in range(first.year, last.year + 1):
            since = index.unknown_from(year)
            if since is not None and since <= last:  # the unknown days run from `since` to the end of the year
                return year
        return None

    def _missing(self, year: int) -> CalendarYearMissing:
        """The error for a day of `year` without data, naming exactly the files to add."""
        data = self._data
        return CalendarYearMissing(
            year,
            self.region,
            missing=data.missing_files(self.region, year),
            since=data.partial_years(self.region).get(year),
        )

    # -- the project's API ---------------------------------------------------------------------------------

    @property
    def covered_years(self) -> tuple[int, ...]:
        """The years with a published schedule loaded for this region, whole (see `partial_years`)."""
        return tuple(sorted(self._index.known))

    @property
    def partial_years(self) -> dict[int, date]:
        """The years known only in part (for CN-GX: the national file is loaded, the overlay is not): year -> the
        first day without data. Days before it are answered and final; days from it on are as in a missing year."""
        return dict(sorted(self._index.partial.items()))

    def unknown_from(self, year: int) -> date | None:
        """The first day of `year` without data for this region: None when the whole year is covered."""
        return self._index.unknown_from(year)

    def is_provisional(self, day: date) -> bool:
        """True when `day` has no data and this calendar allows provisional results."""
        if not self.allow_provisional:
            return False
        day = _as_date(day)
        since = self._index.unknown_from(day.year)
        return since is not None and since <= day

    def touches_provisional(self, first: date, last: date) -> bool:
        """True when any day of first..last (either order) is provisional."""
        if not self.allow_provisional:
            return False
        a, b = _as_date(first, "first"), _as_date(last, "last")
        return self._unknown_year(*((a, b) if a <= b else (b, a))) is not None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        return self.add_working_days(day, 1)

    def working_days_between(self, a: date, b: date) -> int:
        """The number of working days in (a, b]; negative (minus those in (b, a]) when b < a."""
        days, _, lo, hi, _, _, _ = self._fast
        if a.__class__ is date and b.__class__ is date and lo <= a <= hi and lo <= b <= hi:
            return bisect_right(days, b) - bisect_right(days, a)
        a, b = _as_date(a, "a"), _as_date(b, "b")
        lo, hi = (a, b) if a <= b else (b, a)
        if lo == hi:
            return 0
        self._require(lo + _ONE, hi)
        days = self._cover((lo + _ONE).year, hi.year).days
        count = bisect_right(days, hi) - bisect_right(days, lo)
        return count if a <= b else -count

    # -- workalendar's API, through the index --------------------------------------------------------------

    def is_working_day(
        self, day: date, extra_working_days: Iterable[date] | None = None, extra_holidays: Iterable[date] | None = None
    ) -> bool:
        _, workset, lo, hi, _, _, _ = self._fast
        if day.__class__ is date and extra_working_days is None and extra_holidays is None and lo < day <= hi:
            return day in workset
        day = _as_date(day)
        if extra_working_days and day in {_as_date(d) for d in extra_working_days}:
            return True
        if extra_holidays and day in {_as_date(d) for d in extra_holidays}:
            return False
        self._require(day, day)
        return day in self._cover(day.year, day.year).workset

    def is_holiday(self, day: date, extra_holidays: Iterable[date] | None = None) -> bool:
        """True for a declared day off (weekend days inside a holiday span included) or a fixed-date holiday of a
        provisional year; a plain weekend is not a holiday, as in workalendar."""
        day = _as_date(day)
        if extra_holidays and day in {_as_date(d) for d in extra_holidays}:
            return True
        self._require(day, day)
        return day in self._cover(day.year, day.year).days_off

    def get_calendar_holidays(self, year: int) -> list[tuple[date, str]]:
        self._require(date(year, 1, 1), date(year, 12, 31))
        index = self._cover(year, year)
        return sorted((d, label) for d, label in index.days_off.items() if d.year == year)

    def add_working_days(
        self,
        day: date,
        delta: int,
        extra_working_days: Iterable[date] | None = None,
        extra_holidays: Iterable[date] | None = None,
        keep_datetime: bool = False,
    ) -> date:
        """The `delta`-th working day after `day` (`day` itself never counted); a negative delta counts back."""
        try:
            if day.__class__ is date and delta > 0 and extra_working_days is None and extra_holidays is None:
                days, _, lo, _, _, end, _ = self._fast
                i = bisect_right(days, day) + delta - 1
                if i < end and lo <= day:
                    return days[i]
        except TypeError:
            pass  # a wrong type: the general path says what is wrong
        return self._shift(day, delta, extra_working_days, extra_holidays, keep_datetime)

    def sub_working_days(
        self,
        day: date,
        delta: int,
        extra_working_days: Iterable[date] | None = None,
        extra_holidays: Iterable[date] | None = None,
        keep_datetime: bool = False,
    ) -> date:
        """The `delta`-th working day before `day` (the sign of delta is ignored, as in workalendar)."""
        try:
            if day.__class__ is date and delta > 0 and extra_working_days is None and extra_holidays is None:
                days, _, _, _, first, _, hi_next = self._fast
                i = bisect_left(days, day) - delta
                if i >= first and day <= hi_next:
                    return days[i]
        except TypeError:
            pass
        return self._shift(day, -abs(_as_count(delta)), extra_working_days, extra_holidays, keep_datetime)

    def get_working_days_delta(
        self,
        start: date,
        end: date,
        include_start: bool = False,
        extra_working_days: Iterable[date] | None = None,
        extra_holidays: Iterable[date] | None = None,
    ) -> int:
        """workalendar's count: working days in (min, max], plus the first day if `include_start` and working."""
        start, end = _as_date(start, "start"), _as_date(end, "end")
        if extra_working_days or extra_holidays:
            return int(super().get_working_days_delta(start, end, include_start, extra_working_days, extra_holidays))
        if start == end:
            return 0
        lo, hi = min(start, end), max(start, end)
        count = abs(self.working_days_between(lo, hi))
        if include_start and self.is_working_day(lo):
            count += 1
        return count

    def find_following_working_day(self, day: date) -> date:
        """`day` if it is a working day, else the next one (workalendar's version ignores holidays; this one not)."""
        day = _as_date(day)
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    # -- the general path ----------------------------------------------------------------------------------

    def _shift(
        self,
        day: date,
        delta: int,
        extra_working_days: Iterable[date] | None,
        extra_holidays: Iterable[date] | None,
        keep_datetime: bool,
    ) -> date:
        delta = _as_count(delta)
        original = day
        if not isinstance(day, date):
            raise CalendarInputError("day", "a date or datetime", day)
        plain = _as_date(day)
        if extra_working_days or extra_holidays:
            result: date = super().add_working_days(plain, delta, extra_working_days, extra_holidays)
        elif delta == 0:
            result = plain
        elif delta > 0:
            result = self._forward(plain, delta)
        else:
            result = self._backward(plain, -delta)
        if keep_datetime and isinstance(original, datetime):
            # the time of day the day was read at: Shanghai's for an aware datetime, so the result is Shanghai's too
            return datetime.combine(result, _local(original, "day").timetz())
        return result

    def _forward(self, day: date, n: int) -> date:
        first = day + _ONE
        self._require(first, first)
        index = self._cover(first.year, first.year)
        while True:
            i = bisect_right(index.days, day) + n - 1
            if i < len(index.days):
                result = index.days[i]
                self._require(first, result)
                return result
            index = self._cover(first.year, index.last_year + 1)

    def _backward(self, day: date, n: int) -> date:
        last = day - _ONE
        self._require(last, last)
        index = self._cover(last.year, last.year)
        while True:
            i = bisect_left(index.days, day) - n
            if i >= 0:
                result = index.days[i]
                self._require(result, last)
                return result
            index = self._cover(index.first_year - 1, last.year)


@iso_register("CN-GX")
class GuangxiWorkingCalendar(ChinaWorkingCalendar):
    """China, Guangxi (national schedule plus the regional 壮族三月三 days off)"""

    region: ClassVar[str] = "CN-GX"


# Not registered in workalendar's own registry: see calendars/registry.py for why and how CN is exposed.
iso_register("CN")(ChinaWorkingCalendar)
