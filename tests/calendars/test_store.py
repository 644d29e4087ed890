"""Adding a year: drop one YAML file in, check it, reload; cached calendars and provisional results follow."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from calendars import CalendarDataError, CalendarYearMissing, get_calendar, reload_data
from calendars.data_files import read_data
from calendars.deadlines import SHANGHAI, DeadlinePolicy, due_after

# A made-up 2027 schedule in the project's format (the real notice was not published when this was written).
HYPOTHETICAL_2027 = """region: CN
year: 2027
confidence: low
notices:
  - number: 国办发明电〔2026〕99号
    dated: 2026-11-01
    title: 国务院办公厅关于2027年部分节假日安排的通知 (test data)
holidays:
  - name: 元旦
    notice: 国办发明电〔2026〕99号
    off: [2027-01-01..2027-01-03]
  - name: 春节
    notice: 国办发明电〔2026〕99号
    off: [2027-02-06..2027-02-13]
    work: [2027-02-20]
  - name: 劳动节
    notice: 国办发明电〔2026〕99号
    off: [2027-05-01..2027-05-05]
  - name: 国庆节
    notice: 国办发明电〔2026〕99号
    off: [2027-10-01..2027-10-07]
"""


def test_drop_in_a_year_file_then_reload(data_copy: Path) -> None:
    """After writing cn/2027.yaml and reloading, the cached strict calendar answers 2027 (it raised before)."""
    reload_data(data_copy)
    cn = get_calendar("CN")
    with pytest.raises(CalendarYearMissing) as before:
        cn.is_working_day(date(2027, 2, 8))
    (data_copy / "cn" / "2027.yaml").write_text(HYPOTHETICAL_2027, encoding="utf-8")
    assert read_data(data_copy)[1] == []
    reload_data()
    assert before.value.year == 2027
    assert get_calendar("CN") is cn
    assert 2027 in cn.covered_years
    assert not cn.is_working_day(date(2027, 2, 8)) and cn.is_working_day(date(2027, 2, 20))
    assert 2027 not in get_calendar("CN-GX").covered_years  # the Guangxi overlay for 2027 is still missing


def test_provisional_deadline_is_recomputed_when_the_year_arrives(data_copy: Path) -> None:
    """A provisional deadline into February 2027 becomes final (and later) once the 2027 file is loaded."""
    reload_data(data_copy)
    loose = get_calendar("CN", allow_provisional=True)
    start = datetime(2027, 2, 5, 10, tzinfo=SHANGHAI)
    guess = due_after(loose, start, 2, "WD", DeadlinePolicy())
    (data_copy / "cn" / "2027.yaml").write_text(HYPOTHETICAL_2027, encoding="utf-8")
    reload_data()
    final = due_after(loose, start, 2, "WD", DeadlinePolicy())
    assert (guess.last_day, guess.provisional) == (date(2027, 2, 9), True)
    assert (final.last_day, final.provisional) == (date(2027, 2, 16), False)  # 02-06..13 off: day 1 is 02-15


def test_reload_refuses_broken_data_and_keeps_the_old(data_copy: Path) -> None:
    """A broken file makes reload_data raise CalendarDataError; the calendars keep answering from the last data."""
    reload_data(data_copy)
    (data_copy / "cn" / "2027.yaml").write_text(HYPOTHETICAL_2027.replace("2027-02-20", "2027-02-19"), "utf-8")
    with pytest.raises(CalendarDataError) as err:
        reload_data()
    assert "2027-02-19 is a Friday" in str(err.value)
    assert get_calendar("CN").covered_years == tuple(range(2018, 2027))


def test_missing_overlay_year_is_missing_for_guangxi_only(data_copy: Path) -> None:
    """Without cn-gx/2026.yaml, CN-GX cannot answer for 2026 and says which files to add; CN still can."""
    (data_copy / "cn-gx" / "2026.yaml").unlink()
    reload_data(data_copy)
    with pytest.raises(CalendarYearMissing) as err:
        get_calendar("CN-GX").add_working_days(date(2026, 4, 16), 2)
    assert (err.value.year, err.value.region, err.value.since) == (2026, "CN-GX", date(2026, 3, 1))
    assert str(data_copy / "cn-gx" / "2026.yaml") in str(err.value) and "/cn/2026.yaml" not in str(err.value)
    assert get_calendar("CN").add_working_days(date(2026, 4, 16), 2) == date(2026, 4, 20)
