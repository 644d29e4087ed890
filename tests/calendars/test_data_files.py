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


def national(folder: Path, body: str, head: str = HEAD) -> Path:
    path = folder / "cn" / "2026.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + body, encoding="utf-8")
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
    p = national(tmp_path, "    off: [2025-11-30, 2025-12-31]\n")
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
    gx = guangxi(tmp_path, "off: [2026-10-10]\nwork: [2026-10-03]\n")
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
    p = national(tmp_path, "    off: [2026-02-30]\n", head=HEAD.replace("year: 2026", "year: 2025"))
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
