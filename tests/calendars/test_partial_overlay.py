"""A Guangxi year with the national file but no overlay file: known up to 28 February, missing from 1 March."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from calendars import CalendarYearMissing, get_calendar, reload_data
from calendars.data_files import load_data, read_data
from calendars.deadlines import SHANGHAI, DeadlinePolicy, due_after
from calendars.index import build_index
from tests.engine.calendar_2027 import TEST_2027_CN, TEST_2027_GX

POLICY = DeadlinePolicy()
#: the made-up national 2027 file takes 1-5 January and 6-12 February off before March
TEST_2027_OFF = {date(2027, 1, d) for d in range(1, 6)} | {date(2027, 2, d) for d in range(6, 13)}


@pytest.fixture
def national_2027(data_copy: Path) -> Path:
    """The shipped data plus the made-up cn/2027.yaml, loaded; no cn-gx/2027.yaml."""
    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    reload_data(data_copy)
    return data_copy


def at(y: int, m: int, d: int, hour: int = 0) -> datetime:
    return datetime(y, m, d, hour, tzinfo=SHANGHAI)


def test_strict_guangxi_answers_january_and_february(national_2027: Path) -> None:
    """Before 1 March the national file alone answers, on the fast path as on the general one."""
    cal = get_calendar("CN-GX")
    assert not cal.is_working_day(date(2027, 1, 4))  # national data: 1-5 January off
    assert cal.is_working_day(date(2027, 1, 6)) and cal.is_working_day(datetime(2027, 1, 6, 9))
    assert cal.is_working_day(date(2027, 2, 26))  # Friday
    assert cal.add_working_days(date(2026, 12, 31), 3) == date(2027, 1, 8)
    assert cal.sub_working_days(date(2027, 3, 1), 1) == date(2027, 2, 26)
    weekdays = [date(2027, 1, 1) + timedelta(days=i) for i in range(59)]  # 1 January .. 28 February
    expected = sum(1 for d in weekdays if d.weekday() < 5 and d not in TEST_2027_OFF)
    assert cal.working_days_between(date(2026, 12, 31), date(2027, 2, 28)) == expected


def test_strict_guangxi_deadline_before_march_is_final(national_2027: Path) -> None:
    """5 WD from Friday 19 February end on Friday 26 February: a final deadline, not a refusal."""
    deadline = due_after(get_calendar("CN-GX"), at(2027, 2, 19, 10), 5, "WD", POLICY)
    assert (deadline.last_day, deadline.due, deadline.provisional) == (date(2027, 2, 26), at(2027, 2, 27), False)


def test_strict_guangxi_refuses_from_march_naming_the_overlay_file(national_2027: Path) -> None:
    """A day from 1 March, or a count reaching it, is refused with only cn-gx/2027.yaml named."""
    cal = get_calendar("CN-GX")
    with pytest.raises(CalendarYearMissing) as direct:
        cal.is_working_day(date(2027, 3, 1))
    with pytest.raises(CalendarYearMissing) as counted:
        due_after(cal, at(2027, 2, 22, 10), 5, "WD", POLICY)  # 23-26 February, then 1 March
    with pytest.raises(CalendarYearMissing):
        cal.working_days_between(date(2027, 2, 1), date(2027, 3, 1))
    with pytest.raises(CalendarYearMissing):
        cal.holidays(2027)
    for err in (direct.value, counted.value):
        assert (err.year, err.region, err.since) == (2027, "CN-GX", date(2027, 3, 1))
        assert err.missing == (str(national_2027 / "cn-gx" / "2027.yaml"),)
        assert str(national_2027 / "cn-gx" / "2027.yaml") in str(err)
        assert "cn/2027.yaml" not in str(err)
    assert get_calendar("CN").is_working_day(date(2027, 3, 1))


def test_a_year_without_either_file_names_both(national_2027: Path) -> None:
    """2028 has no file at all: the error names the national file and the overlay, and no partial day."""
    with pytest.raises(CalendarYearMissing) as err:
        get_calendar("CN-GX").is_working_day(date(2028, 1, 3))
    assert (err.value.year, err.value.since) == (2028, None)
    assert err.value.missing == (str(national_2027 / "cn" / "2028.yaml"), str(national_2027 / "cn-gx" / "2028.yaml"))


def test_provisional_guangxi_marks_only_march_on(national_2027: Path) -> None:
    """A provisional calendar flags the days from 1 March only, and answers them from national data + weekends."""
    cal = get_calendar("CN-GX", allow_provisional=True)
    assert (cal.covered_years[-1], cal.partial_years) == (2026, {2027: date(2027, 3, 1)})
    assert (cal.unknown_from(2026), cal.unknown_from(2027), cal.unknown_from(2028)) == (
        None, date(2027, 3, 1), date(2028, 1, 1))
    assert not cal.is_provisional(date(2027, 2, 28)) and cal.is_provisional(date(2027, 3, 1))
    assert not cal.touches_provisional(date(2027, 1, 1), date(2027, 2, 28))
    assert cal.touches_provisional(date(2027, 2, 28), date(2027, 3, 1))
    assert cal.touches_provisional(date(2027, 6, 2), date(2027, 6, 1))
    assert not cal.is_working_day(date(2027, 1, 5)) and cal.is_working_day(date(2027, 4, 8))
    before = due_after(cal, at(2027, 2, 19, 10), 5, "WD", POLICY)
    reaching = due_after(cal, at(2027, 2, 22, 10), 5, "WD", POLICY)
    assert (before.last_day, before.provisional) == (date(2027, 2, 26), False)
    assert (reaching.last_day, reaching.provisional) == (date(2027, 3, 1), True)


def test_adding_the_overlay_file_makes_everything_final(national_2027: Path) -> None:
    """With cn-gx/2027.yaml added and reloaded, March on is answered, Guangxi's days included, and nothing is
    provisional."""
    strict, loose = get_calendar("CN-GX"), get_calendar("CN-GX", allow_provisional=True)
    (national_2027 / "cn-gx" / "2027.yaml").write_text(TEST_2027_GX, encoding="utf-8")
    reload_data(national_2027)
    assert due_after(strict, at(2027, 2, 22, 10), 5, "WD", POLICY).last_day == date(2027, 3, 1)
    assert not strict.is_working_day(date(2027, 4, 8)) and strict.is_working_day(date(2027, 4, 7))
    assert strict.add_working_days(date(2027, 4, 7), 1) == date(2027, 4, 12)
    assert (loose.partial_years, loose.covered_years[-1]) == ({}, 2027)
    assert not loose.touches_provisional(date(2027, 1, 1), date(2027, 12, 31))
    assert not due_after(loose, at(2027, 2, 22, 10), 5, "WD", POLICY).provisional


def test_fast_path_stops_the_day_before_the_cutoff(national_2027: Path) -> None:
    """The index's no-check range runs to 28 February 2027 for CN-GX and to the year's end for CN."""
    data = load_data(national_2027)
    assert build_index(data, "CN-GX", 2018, 2027).safe_hi == date(2027, 2, 28)
    assert build_index(data, "CN", 2018, 2027).safe_hi == date(2027, 12, 31)


def test_an_overlay_day_before_the_cutoff_is_a_data_problem(data_copy: Path) -> None:
    """An overlay file declaring a day before 1 March is refused, since such days are answered without it."""
    path = data_copy / "cn-gx" / "2026.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("off: [2026-04-17..2026-04-20]",
                                                             "off: [2026-02-26..2026-02-27, 2026-04-17]"), "utf-8")
    _, problems = read_data(data_copy)
    early = [p for p in problems if "before 03-01" in p]
    assert len(early) == 1 and early[0].startswith(f"{path}:") and "2026-02-26" in early[0]
