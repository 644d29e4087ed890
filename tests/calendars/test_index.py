"""The index outside its fast path: gap years, empty data, provisional growth, checked against a day-by-day walk."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars import CalendarYearMissing, get_calendar, reload_data
from calendars.china import ChinaWorkingCalendar
from calendars.data_files import load_data

ONE = timedelta(days=1)


def walk_add(cal: ChinaWorkingCalendar, day: date, n: int) -> date:
    """The definition, one day at a time: the n-th working day after `day`."""
    while n:
        day += ONE
        n -= cal.is_working_day(day)
    return day


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=date(2012, 1, 1), max_value=date(2032, 12, 31)),
    n=st.integers(min_value=0, max_value=400),
    region=st.sampled_from(["CN", "CN-GX"]),
)
def test_provisional_calendar_matches_the_day_by_day_definition(start: date, n: int, region: str) -> None:
    """Across known and provisional years, add/sub/between agree with walking day by day."""
    cal = get_calendar(region, allow_provisional=True)
    result = cal.add_working_days(start, n)
    assert result == walk_add(cal, start, n)
    assert cal.working_days_between(start, result) == n
    assert cal.working_days_between(result, start) == -n
    if n:
        back = cal.sub_working_days(result, n)
        assert back <= start and cal.working_days_between(back, start) == 0 and cal.is_working_day(back)


def test_a_gap_year_is_missing_for_strict_and_provisional_for_loose(data_copy: Path) -> None:
    """Without cn/2019.yaml, 2019 raises on a strict calendar, is flagged on a loose one; 2020-2026 stay exact."""
    (data_copy / "cn" / "2019.yaml").unlink()
    reload_data(data_copy)
    strict, loose = get_calendar("CN"), get_calendar("CN", allow_provisional=True)
    with pytest.raises(CalendarYearMissing) as err:
        strict.add_working_days(date(2018, 12, 27), 5)
    assert err.value.year == 2019
    assert strict.covered_years == (2018, *range(2020, 2027))
    assert strict.add_working_days(date(2026, 9, 30), 2) == date(2026, 10, 9)
    assert strict.add_working_days(date(2018, 3, 1), 5) == date(2018, 3, 8)
    assert loose.is_provisional(date(2019, 5, 6)) and loose.is_working_day(date(2019, 5, 6))
    assert loose.touches_provisional(date(2018, 12, 27), loose.add_working_days(date(2018, 12, 27), 5))


def test_no_data_at_all(tmp_path: Path) -> None:
    """With an empty data folder every year is missing; a provisional calendar still answers from weekends and
    fixed-date holidays."""
    (tmp_path / "cn").mkdir()
    data = load_data(tmp_path)
    strict = ChinaWorkingCalendar(data=data)
    loose = ChinaWorkingCalendar(allow_provisional=True, data=data)
    with pytest.raises(CalendarYearMissing) as err:
        strict.is_working_day(date(2026, 10, 1))
    assert err.value.year == 2026 and strict.covered_years == ()
    assert loose.add_working_days(date(2026, 9, 30), 2) == date(2026, 10, 6)
    assert loose.sub_working_days(date(2026, 10, 6), 2) == date(2026, 9, 30)


@pytest.mark.parametrize("region", ["CN", "CN-GX"])
def test_provisional_labour_day_is_two_days(region: str) -> None:
    """In a year without data 1 and 2 May (劳动节, two statutory days since 2025) are guessed off."""
    cal = get_calendar(region, allow_provisional=True)
    assert cal.is_provisional(date(2028, 5, 2))
    assert not cal.is_working_day(date(2028, 5, 2)) and cal.is_holiday(date(2028, 5, 2))
    assert cal.get_holiday_label(date(2028, 5, 2)) == "劳动节"
    assert cal.add_working_days(date(2028, 4, 28), 1) == date(2028, 5, 3)  # Fri 28 April -> Wed 3 May
