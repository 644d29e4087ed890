"""The national calendar against chinese-calendar and holidays for every day of 2018-2026, and its API contract."""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta

import chinese_calendar
import holidays
import pytest

from calendars import CalendarInputError, CalendarYearMissing, get_calendar
from calendars.china import ChinaWorkingCalendar

ONE = timedelta(days=1)
FIRST, LAST = date(2018, 1, 1), date(2026, 12, 31)
ALL_DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


@pytest.fixture(scope="module")
def reference_workdays() -> list[date]:
    """Working days of 2018-2026 as chinese-calendar classifies them, built once for the module."""
    return [d for d in ALL_DAYS if chinese_calendar.is_workday(d)]


@pytest.fixture(scope="module")
def holidays_china() -> holidays.HolidayBase:
    return holidays.China(years=range(2017, 2028))


@pytest.fixture(scope="module")
def cn() -> ChinaWorkingCalendar:
    return get_calendar("CN")


def test_is_working_day_agrees_with_chinese_calendar_every_day(cn: ChinaWorkingCalendar) -> None:
    """is_working_day on CN equals chinese-calendar's is_workday on every date 2018-01-01..2026-12-31."""
    disagreements = [d for d in ALL_DAYS if cn.is_working_day(d) != chinese_calendar.is_workday(d)]
    assert disagreements == []


def test_is_working_day_agrees_with_holidays_every_day(
    cn: ChinaWorkingCalendar, holidays_china: holidays.HolidayBase
) -> None:
    """is_working_day on CN equals holidays.China's is_working_day on every date 2018-01-01..2026-12-31."""
    disagreements = [d for d in ALL_DAYS if cn.is_working_day(d) != holidays_china.is_working_day(d)]
    assert disagreements == []


def test_add_working_days_agrees_with_reference_for_n_1_to_30(
    cn: ChinaWorkingCalendar, reference_workdays: list[date]
) -> None:
    """add N working days, N in 1..30, from every start date: chinese-calendar's days give the same date, and a
    result beyond 2026 is CalendarYearMissing (not a guess)."""
    disagreements = []
    beyond = raised_2027 = 0
    for start in [FIRST - ONE, *ALL_DAYS]:
        first_after = bisect.bisect_right(reference_workdays, start)
        for n in range(1, 31):
            i = first_after + n - 1
            if i < len(reference_workdays):
                if cn.add_working_days(start, n) != reference_workdays[i]:
                    disagreements.append((start, n))
                continue
            beyond += 1
            try:
                cn.add_working_days(start, n)
            except CalendarYearMissing as err:
                raised_2027 += err.year == 2027
    assert disagreements == []
    assert beyond > 0 and raised_2027 == beyond


def test_reference_matches_chinese_calendar_api_and_holidays_api(
    cn: ChinaWorkingCalendar, holidays_china: holidays.HolidayBase
) -> None:
    """On a sample of starts, add_working_days equals find_workday(n - 1, d + 1) and get_nth_working_day(d, n)."""
    sample = ALL_DAYS[:-60:7]
    for n in (1, 2, 5, 10, 30):
        for start in sample:
            expected = chinese_calendar.find_workday(n - 1, start + ONE)
            assert cn.add_working_days(start, n) == expected
            assert holidays_china.get_nth_working_day(start, n) == expected


def test_between_and_sub_are_inverse_of_add(cn: ChinaWorkingCalendar, reference_workdays: list[date]) -> None:
    """working_days_between(d, add(d, n)) == n and sub(add(d, n), n) is the last working day <= d, every start."""
    for start in ALL_DAYS[1:-60]:  # 2018-01-01 is a holiday: nothing at or before it in 2018
        for n in (1, 7, 23):
            later = cn.add_working_days(start, n)
            assert cn.working_days_between(start, later) == n
            assert cn.working_days_between(later, start) == -n
            at_or_before = reference_workdays[bisect.bisect_right(reference_workdays, start) - 1]
            assert cn.sub_working_days(later, n) == at_or_before


def test_known_dates() -> None:
    """The 2020 extension and the 2019 amendment are in the data: workalendar's China gets these wrong."""
    cn = get_calendar("CN")
    assert not cn.is_working_day(date(2020, 1, 31))
    assert not cn.is_working_day(date(2020, 2, 1))  # the cancelled make-up Saturday
    assert cn.is_working_day(date(2020, 2, 3))
    assert not cn.is_working_day(date(2019, 5, 2))
    assert cn.is_working_day(date(2019, 5, 5))  # make-up Sunday of the amendment
    assert cn.is_working_day(date(2018, 12, 29))  # declared by the 2019 notice
    assert cn.is_working_day(date(2026, 10, 10))


def test_workalendar_api_shapes() -> None:
    """The workalendar methods keep their contracts: zero, negative deltas, datetimes, extras, delta counts."""
    cn = get_calendar("CN")
    d = date(2026, 9, 30)
    assert cn.add_working_days(d, 0) == d
    assert cn.add_working_days(date(2026, 10, 8), -1) == d
    assert cn.sub_working_days(date(2026, 10, 8), -1) == d
    assert cn.add_working_days(datetime(2026, 9, 30, 15, 30), 1, keep_datetime=True) == datetime(2026, 10, 8, 15, 30)
    assert cn.add_working_days(datetime(2026, 9, 30, 15, 30), 1) == date(2026, 10, 8)
    assert cn.add_working_days(d, 1, extra_holidays=[date(2026, 10, 8)]) == date(2026, 10, 9)
    assert cn.is_working_day(date(2026, 10, 3), extra_working_days=[date(2026, 10, 3)])
    assert cn.get_working_days_delta(date(2026, 10, 12), d) == 4
    assert cn.get_working_days_delta(d, date(2026, 10, 12), include_start=True) == 5
    assert cn.next_working_day(d) == date(2026, 10, 8)
    assert cn.find_following_working_day(date(2026, 10, 3)) == date(2026, 10, 8)
    assert cn.is_holiday(date(2026, 10, 3)) and not cn.is_holiday(date(2026, 3, 7))
    assert cn.get_holiday_label(date(2026, 10, 1)) == "国庆节"
    assert cn.covered_years == tuple(range(2018, 2027))


def test_bad_arguments_are_typed_errors() -> None:
    """A wrong type or a non-integer count is a CalendarInputError (also a ValueError), never a TypeError."""
    cn = get_calendar("CN")
    with pytest.raises(CalendarInputError) as not_a_date:
        cn.add_working_days("2026-09-30", 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError) as not_a_count:
        cn.add_working_days(date(2026, 9, 30), 2.5)  # type: ignore[arg-type]
    assert not_a_date.value.argument == "day"
    assert "integer" in str(not_a_count.value)


def test_missing_year_is_explicit_and_provisional_is_flagged() -> None:
    """2027 has no data: strict calendars raise CalendarYearMissing(2027), provisional ones compute and flag it."""
    with pytest.raises(CalendarYearMissing) as missing:
        get_calendar("CN").is_working_day(date(2027, 3, 1))
    with pytest.raises(CalendarYearMissing) as before:
        get_calendar("CN").sub_working_days(date(2018, 1, 2), 2)
    assert (missing.value.year, missing.value.region) == (2027, "CN")
    assert before.value.year == 2017
    loose = get_calendar("CN", allow_provisional=True)
    assert loose.add_working_days(date(2026, 12, 30), 2) == date(2027, 1, 4)  # 2027-01-01 fixed holiday
    assert not loose.is_working_day(date(2027, 10, 3)) and loose.is_working_day(date(2027, 10, 4))
    assert loose.is_provisional(date(2027, 1, 4)) and not loose.is_provisional(date(2026, 1, 4))
    assert loose.touches_provisional(date(2026, 12, 30), date(2027, 1, 4))
    assert loose.working_days_between(date(2026, 12, 31), date(2027, 1, 8)) == 5
    assert loose.sub_working_days(date(2018, 1, 2), 2) == date(2017, 12, 28)  # 12-30/31 off by the 2018 notice
    assert not get_calendar("CN").is_provisional(date(2027, 1, 4))


def test_get_calendar_is_cached_per_region_and_mode() -> None:
    """get_calendar returns the same object for the same (region, allow_provisional)."""
    assert get_calendar("CN") is get_calendar("CN")
    assert get_calendar("CN") is not get_calendar("CN", allow_provisional=True)
    assert get_calendar("CN-GX").region == "CN-GX"
