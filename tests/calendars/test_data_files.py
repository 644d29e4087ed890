"""The data-file validator: every broken file is reported as file:line with what to do; the real data is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from calendars.data_files import DEFAULT_DATA_DIR, load_data, read_data
from calendars.errors import CalendarDataError

NOTICE = "国办发明电〔2025〕7号"
HEAD = f"""region: CN
year: 2026
confidence: high
notices:
  - number: {NOTICE}
    dated: 2025-11-04
    title: 国务院办公厅关于2026年部分节假日安排的通知
holidays:
  - name: 国庆节
    notice: {NOTICE}
"""  # the holiday's own lines start at line 11


#: The other holidays of the year, after the one a test writes: every notice gives them, and a file without
#: them is refused (see test_a_year_file_must_give_the_statutory_days_off).
OTHER_HOLIDAYS = f"""  - name: 元旦
    notice: {NOTICE}
    off: [2026-01-01..2026-01-03]
  - name: 春节
    notice: {NOTICE}
    off: [2026-02-15..2026-02-23]
  - name: 劳动节
    notice: {NOTICE}
    off: [2026-05-01..2026-05-05]
"""


def national(folder: Path, body: str, head: str = HEAD, others: str = OTHER_HOLIDAYS) -> Path:
    path = folder / "cn" / "2026.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + body + others, encoding="utf-8")
    return path


def guangxi(folder: Path, body: str) -> Path:
    path = folder / "cn-gx" / "2026.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "region: CN-GX\nyear: 2026\nstatus: observed\nconfidence: low\nsource:\n"
        "  title: 广西壮族自治区人民政府办公厅关于2026年“壮族三月三”放假的通知\n  urls: [http://example.org/notice]\n"
        + body,
        encoding="utf-8",
    )
    return path


def problems(folder: Path) -> list[str]:
    return read_data(folder)[1]


def test_project_data_is_clean() -> None:
    """The shipped data files have no problem and cover 2018-2026 for CN and CN-GX."""
    data, found = read_data(DEFAULT_DATA_DIR)
    assert found == []
    assert sorted(data.years("CN")) == list(range(2018, 2027))
    assert sorted(data.years("CN-GX")) == list(range(2018, 2027))


def test_day_both_off_and_working(tmp_path: Path) -> None:
    """A date in a span of days off and in the make-up list is reported at the second mention."""
    p = national(tmp_path, "    off: [2026-10-01..2026-10-07]\n    work: [2026-10-03]\n")
    assert problems(tmp_path) == [
        f"{p}:12: 2026-10-03 is declared a working day here and a day off at {p}:11; a day is either off or working"
    ]


def test_makeup_day_on_a_weekday(tmp_path: Path) -> None:
    """A make-up working day that is a Friday is refused: only weekend days can be made working days."""
    p = national(tmp_path, "    off: [2026-10-01..2026-10-07]\n    work: [2026-10-09]\n")
    assert problems(tmp_path) == [
        f"{p}:12: make-up working day 2026-10-09 is a Friday, not a weekend day;"
        " only a Saturday or Sunday can be made a working day"
    ]


def test_date_outside_the_notice_span(tmp_path: Path) -> None:
    """The 2026 notice may reach back to December 2025 but not to November."""
    p = national(tmp_path, "    off: [2025-11-30, 2025-12-31, 2026-10-01..2026-10-07]\n")
    assert problems(tmp_path) == [
        f"{p}:11: 2025-11-30 is outside the span of the 2026 notice (2025-12-01..2026-12-31);"
        " put it in the file of the year whose notice declares it"
    ]


def test_missing_source(tmp_path: Path) -> None:
    """A holiday naming an unlisted notice, and a notice without its date, are both reported."""
    head = HEAD.replace("    dated: 2025-11-04\n", "")
    head = head.replace(f"    notice: {NOTICE}", "    notice: 国办发明电〔2025〕8号")
    p = national(tmp_path, "    off: [2026-10-01..2026-10-07]\n", head=head)
    assert problems(tmp_path) == [
        f"{p}:5: missing source: the notice has no date (dated)",
        f"{p}:9: missing source: notice '国办发明电〔2025〕8号' is not listed under notices ({NOTICE})",
    ]


def test_overlay_conflicts(tmp_path: Path) -> None:
    """A regional day off on a national make-up day needs overrides_national_work; a regional working day cannot be
    a national holiday."""
    cn = national(tmp_path, "    off: [2026-10-01..2026-10-07]\n    work: [2026-10-10]\n")
    gx = guangxi(tmp_path, "off: [2026-04-20, 2026-04-21, 2026-10-10]\nwork: [2026-10-03]\n")
    assert problems(tmp_path) == [
        f"{gx}:8: overlay conflict: 2026-10-10 is a national make-up working day ({cn}:12);"
        " list it under overrides_national_work if the region really takes it off",
        f"{gx}:9: overlay conflict: 2026-10-03 is a national day off (国庆节, {cn}:11)"
        " and cannot be a regional working day",
    ]
    gx.write_text(gx.read_text(encoding="utf-8").replace("work: [2026-10-03]", "overrides_national_work: [2026-10-10]"),
                  encoding="utf-8")
    assert problems(tmp_path) == []


def test_bad_date_wrong_year_and_broken_yaml(tmp_path: Path) -> None:
    """An impossible date, a year that does not match the file name, and YAML that does not parse."""
    p = national(tmp_path, "    off: [2026-02-30, 2026-10-01..2026-10-07]\n",
                 head=HEAD.replace("year: 2026", "year: 2025"))
    assert problems(tmp_path) == [
        f"{p}:2: year 2025 does not match the file name 2026.yaml",
        f"{p}:11: '2026-02-30' is not a date (write YYYY-MM-DD, or YYYY-MM-DD..YYYY-MM-DD for a span)",
    ]
    p.write_text("region: CN\nyear: 2026\nholidays: [\n", encoding="utf-8")
    found = problems(tmp_path)
    assert len(found) == 1 and found[0].startswith(f"{p}:4: not valid YAML: ")


def test_load_data_raises_with_every_problem(tmp_path: Path) -> None:
    """load_data refuses a folder with problems and the error keeps each 'file:line: message'."""
    p = national(tmp_path, "    off: [2026-10-01..2026-10-07]\n    work: [2026-10-09, 2026-10-05]\n")
    with pytest.raises(CalendarDataError) as err:
        load_data(tmp_path)
    assert [line.split(": ")[0] for line in err.value.problems] == [f"{p}:12", f"{p}:12"]
    assert str(err.value).count("\n") == 1


def test_cancelled_makeup_day_must_be_made_off(tmp_path: Path) -> None:
    """An amendment's cancels_work must name a day its own span makes off (the 2020 extension's 02-01)."""
    p = national(tmp_path, "    off: [2026-10-01..2026-10-07]\n    cancels_work: [2026-10-10]\n")
    assert problems(tmp_path) == [f"{p}:12: cancels_work names 2026-10-10, which this entry's 'off' does not include"]


def test_a_year_file_must_give_the_statutory_days_off(tmp_path: Path) -> None:
    """A new year's file with only some of the notice copied would count 1 May or the Spring Festival as working
    days: the fixed-date statutory days and a 春节 entry are required (2 May since 2025)."""
    p = national(tmp_path, "    off: [2026-10-01..2026-10-07]\n", others="")
    assert problems(tmp_path) == [
        f"{p}:9: the statutory days off 2026-01-01 (元旦), 2026-05-01 (劳动节), 2026-05-02 (劳动节) are not off: "
        "every year's notice gives them; copy its 放假 lines in full",
        f"{p}:9: no 春节 entry with days off: every year's notice gives the Spring Festival",
    ]


def test_a_notice_must_be_the_years_own(tmp_path: Path) -> None:
    """A file copied from last year with the dates changed but the notice left: the title names another year."""
    p = national(tmp_path, "    off: [2026-10-01..2026-10-07]\n", head=HEAD.replace("2026年", "2025年"))
    assert problems(tmp_path) == [
        f"{p}:7: the notice's title does not name 2026年: is this the notice of another year, left from the file"
        " this one was copied from?"
    ]


def test_an_observed_guangxi_year_lists_its_days_off(tmp_path: Path) -> None:
    """壮族三月三 gives every citizen of Guangxi 2 days off: an observed year without them is unfinished."""
    national(tmp_path, "    off: [2026-10-01..2026-10-07]\n")
    gx = guangxi(tmp_path, "off: []\n")
    assert problems(tmp_path) == [
        f"{gx}:8: status is 'observed' but fewer than 2 days off are listed: every citizen of Guangxi has 2 days off"
        " for 壮族三月三 (write status: cancelled for a year without them)"
    ]
