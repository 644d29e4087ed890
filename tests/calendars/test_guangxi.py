"""The Guangxi overlay (壮族三月三) for every year 2018-2026, against the regional notices as published."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from calendars import get_calendar

D = date
# Days whose status differs between CN-GX and CN, read from the Guangxi notices (and press reports for 2025-26).
OFF_IN_GUANGXI_ONLY = {
    2018: [D(2018, 4, 18), D(2018, 4, 19), D(2018, 4, 20)],
    2019: [D(2019, 4, 4), D(2019, 4, 8)],
    2020: [],  # cancelled for the epidemic: 3-26 and 3-27 worked
    2021: [D(2021, 4, 14), D(2021, 4, 15), D(2021, 4, 16)],
    2022: [D(2022, 4, 2), D(2022, 4, 6)],  # 4-2 is a national make-up Saturday, off in Guangxi
    2023: [D(2023, 4, 21), D(2023, 4, 23)],  # 4-23 is a national make-up Sunday, inside the Guangxi span
    2024: [D(2024, 4, 11), D(2024, 4, 12)],
    2025: [D(2025, 3, 31), D(2025, 4, 1)],
    2026: [D(2026, 4, 17), D(2026, 4, 20)],
}
WORKING_IN_GUANGXI_ONLY = {2018: [D(2018, 4, 15)], 2021: [D(2021, 4, 18)]}


@pytest.mark.parametrize("year", sorted(OFF_IN_GUANGXI_ONLY))
def test_guangxi_differs_from_national_exactly_on_its_days(year: int) -> None:
    """Over the whole year, CN-GX and CN disagree on exactly the regional days off and make-up days."""
    cn, gx = get_calendar("CN"), get_calendar("CN-GX")
    day, differ = date(year, 1, 1), []
    while day.year == year:
        if cn.is_working_day(day) != gx.is_working_day(day):
            differ.append(day)
        day += timedelta(days=1)
    expected = sorted(OFF_IN_GUANGXI_ONLY[year] + WORKING_IN_GUANGXI_ONLY.get(year, []))
    assert differ == expected
    assert all(cn.is_working_day(d) and not gx.is_working_day(d) for d in OFF_IN_GUANGXI_ONLY[year])
    assert all(gx.is_working_day(d) and not cn.is_working_day(d) for d in WORKING_IN_GUANGXI_ONLY.get(year, []))


def test_2020_cancellation_keeps_the_festival_days_working() -> None:
    """2020-03-26/27 (农历三月初三、初四) are working days in Guangxi: the holiday was cancelled."""
    gx = get_calendar("CN-GX")
    assert gx.is_working_day(date(2020, 3, 26)) and gx.is_working_day(date(2020, 3, 27))


def test_guangxi_arithmetic_skips_regional_days() -> None:
    """A 2-working-day count from 2026-04-16 ends 04-20 nationally but 04-22 in Guangxi (04-17..20 off)."""
    start = date(2026, 4, 16)
    assert get_calendar("CN").add_working_days(start, 2) == date(2026, 4, 20)
    assert get_calendar("CN-GX").add_working_days(start, 2) == date(2026, 4, 22)
    assert get_calendar("CN-GX").working_days_between(start, date(2026, 4, 22)) == 2


def test_guangxi_labels_come_from_the_overlay() -> None:
    """A Guangxi day off carries the regional notice's title as its label."""
    assert "壮族三月三" in (get_calendar("CN-GX").get_holiday_label(date(2026, 4, 17)) or "")
    assert get_calendar("CN").get_holiday_label(date(2026, 4, 17)) is None
