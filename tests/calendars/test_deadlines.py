"""Legal deadlines on real dates around holidays: working days, calendar days, working hours, receipt policy."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from calendars import CalendarYearMissing, Deadline, DeadlinePolicy, get_calendar
from calendars.deadlines import SHANGHAI, due_after, end_of_day, extend, moment_after, moment_before

DEFAULT = DeadlinePolicy()
OFFICE = DeadlinePolicy(business_hours=(time(9), time(17)))
NEXT_DAY = DeadlinePolicy(receipt="next_working_day")
OFFICE_NEXT_DAY = DeadlinePolicy(business_hours=(time(9), time(17)), receipt="next_working_day")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def test_received_before_national_day_two_working_days() -> None:
    """Received 2026-09-30 15:00, 2 WD: day 1 is 10-08 (after the 10-01..07 break), due 24:00 of 10-09."""
    deadline = due_after(get_calendar("CN"), at(2026, 9, 30, 15), 2, "WD", DEFAULT)
    assert deadline == Deadline(due=at(2026, 10, 10), last_day=date(2026, 10, 9), provisional=False)


def test_five_working_days_cross_the_makeup_saturday() -> None:
    """From 2026-10-08, 5 WD count the make-up Saturday 10-10: 10-09, 10-10, 10-12, 10-13, 10-14."""
    deadline = due_after(get_calendar("CN"), at(2026, 10, 8, 10), 5, "WD", OFFICE)
    assert (deadline.last_day, deadline.due) == (date(2026, 10, 14), at(2026, 10, 14, 17))


def test_guangxi_period_crosses_sanyuesan() -> None:
    """From 2026-04-16, 3 WD end 04-21 nationally but 04-23 in Guangxi (04-17..20 off there)."""
    start = at(2026, 4, 16, 11)
    assert due_after(get_calendar("CN"), start, 3, "WD", DEFAULT).last_day == date(2026, 4, 21)
    assert due_after(get_calendar("CN-GX"), start, 3, "WD", DEFAULT).last_day == date(2026, 4, 23)


def test_calendar_days_ending_on_a_holiday_move_to_the_day_after() -> None:
    """7 CD from 2026-09-24 end on 10-01 (National Day): the period ends 10-08, the day after the break."""
    deadline = due_after(get_calendar("CN"), at(2026, 9, 24, 9), 7, "CD", DEFAULT)
    assert (deadline.last_day, deadline.due) == (date(2026, 10, 8), at(2026, 10, 9))


def test_calendar_days_ending_on_a_holiday_can_end_on_a_makeup_sunday() -> None:
    """7 CD from 2025-12-25 end on 2026-01-01; the break ends 01-03, so the last day is the make-up Sunday 01-04."""
    deadline = due_after(get_calendar("CN"), at(2025, 12, 25, 9), 7, "CD", DEFAULT)
    assert deadline.last_day == date(2026, 1, 4)


def test_calendar_days_ending_on_a_working_day_stay() -> None:
    """10 CD from 2026-03-02 end on 03-12, a Thursday: no move."""
    assert due_after(get_calendar("CN"), at(2026, 3, 2, 9), 10, "CD", DEFAULT).last_day == date(2026, 3, 12)


def test_working_hours_across_a_holiday() -> None:
    """4 WH from 2026-09-30 16:00 (9-17): 1 h that day, 3 h from 10-08 09:00: due 10-08 12:00."""
    deadline = due_after(get_calendar("CN"), at(2026, 9, 30, 16), 4, "WH", DEFAULT)
    assert (deadline.due, deadline.last_day) == (at(2026, 10, 8, 12), date(2026, 10, 8))


def test_working_hours_spanning_several_days_and_exact_close() -> None:
    """16 WH from a holiday start at 9-17 end at close of the second working day; 17 WH at 10:00 of the third."""
    cal = get_calendar("CN")
    assert due_after(cal, at(2026, 10, 3, 10), 16, "WH", DEFAULT).due == at(2026, 10, 9, 17)
    assert due_after(cal, at(2026, 10, 3, 10), 17, "WH", OFFICE).due == at(2026, 10, 10, 10)


def test_receipt_on_a_day_off_default_and_next_working_day() -> None:
    """Received on holiday 10-03, 1 WD: by default day 1 is 10-08; under next_working_day receipt is 10-08, day 1
    is 10-09."""
    cal = get_calendar("CN")
    assert due_after(cal, at(2026, 10, 3, 10), 1, "WD", DEFAULT).last_day == date(2026, 10, 8)
    assert due_after(cal, at(2026, 10, 3, 10), 1, "WD", NEXT_DAY).last_day == date(2026, 10, 9)


def test_receipt_after_close_of_business() -> None:
    """Received 2026-10-09 18:00 with 9-17 business hours, 1 WD: default 10-10 17:00; next_working_day 10-12 17:00;
    received 16:59 the policy changes nothing."""
    cal = get_calendar("CN")
    assert due_after(cal, at(2026, 10, 9, 18), 1, "WD", OFFICE).due == at(2026, 10, 10, 17)
    assert due_after(cal, at(2026, 10, 9, 18), 1, "WD", OFFICE_NEXT_DAY).due == at(2026, 10, 12, 17)
    assert due_after(cal, at(2026, 10, 9, 16, 59), 1, "WD", OFFICE_NEXT_DAY).due == at(2026, 10, 10, 17)


def test_other_timezone_input_is_converted_to_shanghai() -> None:
    """2026-09-30 20:00 UTC is 10-01 04:00 in Shanghai: the receipt day is the holiday 10-01."""
    start = datetime(2026, 9, 30, 20, tzinfo=UTC)
    assert due_after(get_calendar("CN"), start, 1, "WD", NEXT_DAY).last_day == date(2026, 10, 9)


def test_year_missing_and_provisional() -> None:
    """A period into 2027 raises CalendarYearMissing(2027) on a strict calendar and is provisional otherwise."""
    with pytest.raises(CalendarYearMissing) as missing:
        due_after(get_calendar("CN-GX"), at(2026, 12, 28, 9), 5, "WD", DEFAULT)
    provisional = due_after(get_calendar("CN", allow_provisional=True), at(2026, 12, 28, 9), 5, "WD", DEFAULT)
    settled = due_after(get_calendar("CN", allow_provisional=True), at(2026, 12, 1, 9), 5, "WD", DEFAULT)
    assert (missing.value.year, missing.value.region) == (2027, "CN-GX")
    assert "calendars/data/cn-gx/2027.yaml" in str(missing.value)
    assert provisional == Deadline(due=at(2027, 1, 6), last_day=date(2027, 1, 5), provisional=True)
    assert not settled.provisional


def test_naive_datetime_and_bad_unit_are_refused() -> None:
    """A naive start, an unknown unit or a negative amount is a ValueError naming the argument."""
    cal = get_calendar("CN")
    with pytest.raises(ValueError) as naive:
        due_after(cal, datetime(2026, 9, 30, 15), 2, "WD", DEFAULT)
    with pytest.raises(ValueError) as unit:
        due_after(cal, at(2026, 9, 30), 2, "WK", DEFAULT)
    with pytest.raises(ValueError) as negative:
        due_after(cal, at(2026, 9, 30), -1, "WD", DEFAULT)
    with pytest.raises(ValueError) as hours:
        DeadlinePolicy(business_hours=(time(17), time(9)))
    assert "start" in str(naive.value) and "aware" in str(naive.value)
    assert "WD" in str(unit.value)
    assert "amount" in str(negative.value)
    assert "open before close" in str(hours.value)


def test_moment_before_in_working_days_and_hours() -> None:
    """Due 24:00 of 2026-10-09: 1 WD before is the start of 10-09 (00:00), or 10-08 17:00 with business hours;
    4 WH before is 10-09 13:00; 10 WH before is 10-08 15:00; 9 WH before (9-17) crosses the break to 09-30 16:00."""
    cal = get_calendar("CN")
    deadline = due_after(cal, at(2026, 9, 30, 15), 2, "WD", DEFAULT)
    assert moment_before(cal, deadline, 1, "WD", DEFAULT) == at(2026, 10, 9)
    assert moment_before(cal, deadline, 1, "WD", OFFICE) == at(2026, 10, 8, 17)
    assert moment_before(cal, deadline, 0, "WD", DEFAULT) == deadline.due
    assert moment_before(cal, deadline, 4, "WH", DEFAULT) == at(2026, 10, 9, 13)
    assert moment_before(cal, deadline, 10, "WH", DEFAULT) == at(2026, 10, 8, 15)
    assert moment_before(cal, deadline, 17, "WH", DEFAULT) == at(2026, 9, 30, 16)
    assert moment_before(cal, deadline, 16, "WH", DEFAULT) == at(2026, 10, 8, 9)


def test_warnings_before_a_fixed_date_on_a_sunday_count_from_the_friday() -> None:
    """A completion date of Sunday 2019-06-30 (not moved: a fixed date) is due at 24:00 that Sunday. Its last
    working day is Friday 06-28, so 1 WD before is 00:00 of that Friday (17:00 of Thursday 06-27 with business
    hours) and 10 WD before is 00:00 of 06-17; before, the 1 WD warning fell on Monday 07-01, after the due
    time, and was dropped. A date on a working day is unchanged: Friday 06-28 is warned at 00:00 of 06-28."""
    cal = get_calendar("CN")
    sunday = Deadline(due=at(2019, 7, 1), last_day=date(2019, 6, 30), provisional=False)
    friday = Deadline(due=at(2019, 6, 29), last_day=date(2019, 6, 28), provisional=False)
    assert moment_before(cal, sunday, 1, "WD", DEFAULT) == at(2019, 6, 28)
    assert moment_before(cal, sunday, 1, "WD", OFFICE) == at(2019, 6, 27, 17)
    assert moment_before(cal, sunday, 10, "WD", DEFAULT) == at(2019, 6, 17)
    assert moment_before(cal, sunday, 0, "WD", DEFAULT) == sunday.due
    assert moment_before(cal, friday, 1, "WD", DEFAULT) == at(2019, 6, 28)
    assert moment_before(cal, friday, 10, "WD", DEFAULT) == at(2019, 6, 17)


def test_a_warning_in_working_days_lands_on_a_working_day() -> None:
    """Last day Thu 2026-10-08, after National Day: 1 WD before is 00:00 of 10-08, not midnight of the holiday
    10-01; 2 WD before is 00:00 of 09-30. A 1 WD task received on Saturday 10-17 (last day Mon 10-19) is warned at
    00:00 of 10-19, after its receipt; before, the warning fell on Saturday midnight and was never armed."""
    cal = get_calendar("CN")
    national_day = due_after(cal, at(2026, 9, 29, 10), 2, "WD", DEFAULT)
    assert national_day.last_day == date(2026, 10, 8)
    assert moment_before(cal, national_day, 1, "WD", DEFAULT) == at(2026, 10, 8)
    assert moment_before(cal, national_day, 2, "WD", DEFAULT) == at(2026, 9, 30)
    assert moment_before(cal, national_day, 1, "WD", OFFICE) == at(2026, 9, 30, 17)  # close of business
    weekend = due_after(cal, at(2026, 10, 17, 10), 1, "WD", DEFAULT)
    assert weekend.last_day == date(2026, 10, 19)
    assert moment_before(cal, weekend, 1, "WD", DEFAULT) == at(2026, 10, 19)


def test_moment_after_for_escalation() -> None:
    """0 WD after is the due moment; 1 WD after last day 10-09 is the end of the make-up Saturday 10-10;
    3 WH after 24:00 of 10-09 is 10-10 12:00."""
    cal = get_calendar("CN")
    deadline = due_after(cal, at(2026, 9, 30, 15), 2, "WD", DEFAULT)
    assert moment_after(cal, deadline, 0, "WD", DEFAULT) == deadline.due
    assert moment_after(cal, deadline, 1, "WD", DEFAULT) == at(2026, 10, 11)
    assert moment_after(cal, deadline, 2, "WD", OFFICE) == at(2026, 10, 12, 17)
    assert moment_after(cal, deadline, 3, "WH", DEFAULT) == at(2026, 10, 10, 12)
    assert moment_after(cal, deadline, 2, "CD", DEFAULT) == at(2026, 10, 12)


def test_extend_by_paused_working_days() -> None:
    """A pause of 2 WD moves last day 10-09 to 10-12 (over the make-up Saturday); a WH deadline keeps its hour."""
    cal = get_calendar("CN")
    deadline = due_after(cal, at(2026, 9, 30, 15), 2, "WD", OFFICE)
    assert extend(cal, deadline, 2, OFFICE) == Deadline(at(2026, 10, 12, 17), date(2026, 10, 12), False)
    hourly = due_after(cal, at(2026, 9, 30, 16), 4, "WH", DEFAULT)
    assert extend(cal, hourly, 1, DEFAULT).due == at(2026, 10, 9, 12)


def test_end_of_day_for_a_date_variable() -> None:
    """A plan date ends at 24:00, or at close of business on a working day; a Sunday date is not moved."""
    cal = get_calendar("CN")
    assert end_of_day(cal, date(2019, 6, 30), OFFICE) == Deadline(at(2019, 7, 1), date(2019, 6, 30), False)
    assert end_of_day(cal, date(2019, 6, 28), OFFICE).due == at(2019, 6, 28, 17)
    assert end_of_day(get_calendar("CN", allow_provisional=True), date(2027, 6, 30), DEFAULT).provisional
