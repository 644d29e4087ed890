"""The calendar reads an aware datetime on Shanghai's day, whatever its own zone; a naive one on its own day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from calendars import CalendarInputError, get_calendar

#: 17:00 UTC on 30 September 2026 is 01:00 on 1 October in Shanghai: National Day, off.
EVENING_UTC = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("region", ["CN", "CN-GX"])
def test_an_aware_datetime_is_read_on_shanghais_day(region: str) -> None:
    """30 September 17:00 UTC falls on 1 October in Shanghai; 15:59 UTC is still 30 September there."""
    cal = get_calendar(region)
    assert not cal.is_working_day(EVENING_UTC) and cal.is_holiday(EVENING_UTC)
    assert cal.is_working_day(datetime(2026, 9, 30, 15, 59, tzinfo=UTC))
    # 13:00 on 7 October in Los Angeles (a day off in China) is 04:00 on 8 October in Shanghai, a working day
    assert cal.is_working_day(datetime(2026, 10, 7, 13, 0, tzinfo=ZoneInfo("America/Los_Angeles")))


def test_counting_from_an_aware_datetime_starts_on_shanghais_day() -> None:
    """Counts, look-ups and extras all take the Shanghai day of an aware datetime."""
    cal = get_calendar("CN-GX")
    assert cal.sub_working_days(EVENING_UTC, 1) == date(2026, 9, 30)
    assert cal.find_following_working_day(EVENING_UTC) == date(2026, 10, 8)
    assert cal.get_working_days_delta(EVENING_UTC, date(2026, 10, 8), include_start=True) == 1
    assert cal.working_days_between(EVENING_UTC, datetime(2026, 10, 8, 15, 59, tzinfo=UTC)) == 1
    assert not cal.is_working_day(date(2026, 10, 9), extra_holidays=[datetime(2026, 10, 8, 16, 30, tzinfo=UTC)])


def test_keep_datetime_answers_at_the_same_shanghai_time() -> None:
    """The result of keep_datetime is the Shanghai time of day the input was read at, on the result day."""
    result = get_calendar("CN").add_working_days(EVENING_UTC, 1, keep_datetime=True)
    assert isinstance(result, datetime)
    assert (result.date(), result.hour, result.utcoffset()) == (date(2026, 10, 8), 1, timedelta(hours=8))


def test_a_naive_datetime_keeps_its_own_day() -> None:
    """A naive datetime is taken as Shanghai wall-clock time: 23:00 on 30 September is a working day."""
    cal = get_calendar("CN")
    assert cal.is_working_day(datetime(2026, 9, 30, 23, 0))
    assert not cal.is_working_day(datetime(2026, 10, 1, 0, 30))


def test_a_moment_without_a_shanghai_day_is_refused() -> None:
    """The last representable moment west of Greenwich has no day in Shanghai: a typed error, not OverflowError."""
    with pytest.raises(CalendarInputError) as err:
        get_calendar("CN").is_working_day(datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))))
    assert err.value.argument == "day"
