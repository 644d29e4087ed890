"""`cli.py calendar ...`: ISO output, --json, exit 0/1/2, and messages without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["calendar", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_is_workday_add_between(capsys: pytest.CaptureFixture[str]) -> None:
    """The three questions print ISO dates or counts and exit 0."""
    assert run(capsys, "is-workday", "2026-10-10") == (0, "2026-10-10 working day\n", "")
    assert run(capsys, "add", "2026-09-30", "2") == (0, "2026-10-09\n", "")
    assert run(capsys, "add", "2026-04-16", "2", "--region", "CN-GX") == (0, "2026-04-22\n", "")
    assert run(capsys, "add", "2026-10-08", "-1") == (0, "2026-09-30\n", "")
    assert run(capsys, "between", "2026-09-30", "2026-10-12") == (0, "4\n", "")


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object with ISO dates."""
    code, out, _ = run(capsys, "deadline", "2026-09-30T15:00", "2", "--json")
    assert code == 0
    assert json.loads(out) == {
        "region": "CN", "start": "2026-09-30T15:00:00+08:00", "amount": 2, "unit": "WD",
        "due": "2026-10-10T00:00:00+08:00", "last_day": "2026-10-09", "provisional": False,
    }


def test_deadline_text_shows_24_00(capsys: pytest.CaptureFixture[str]) -> None:
    """A day-end deadline prints as 24:00 of its last day; with business hours at the close, to the minute as
    the day-end is."""
    assert run(capsys, "deadline", "2026-09-30T15:00", "2")[1] == "due 2026-10-09T24:00+08:00 (last day 2026-10-09)\n"
    out = run(capsys, "deadline", "2026-09-30T15:00", "2", "--business-hours", "09:00-17:30")[1]
    assert out == "due 2026-10-09T17:30+08:00 (last day 2026-10-09)\n"


def test_show_marks_days_off_and_makeup_days(capsys: pytest.CaptureFixture[str]) -> None:
    """The 2026 grid marks 10-01 as a day off and 10-10 as a make-up day; the JSON lists them."""
    code, out, _ = run(capsys, "show", "2026")
    assert code == 0 and " 1*" in out and "10+" in out
    data = json.loads(run(capsys, "show", "2026", "--json", "--region", "CN-GX")[1])
    assert "2026-04-17" in data["days_off"] and "2026-10-10" in data["makeup_working_days"]


def test_bad_input_exits_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad date, a missing year or a naive-free bad number exits 2 with one line on stderr and no traceback."""
    code, out, err = run(capsys, "add", "2026-13-01", "2")
    assert (code, out) == (2, "") and err == "error: '2026-13-01' is not a date; write YYYY-MM-DD\n"
    code, _, err = run(capsys, "add", "2026-12-30", "5")
    assert code == 2 and err.startswith("error: no holiday schedule for 2027 in region CN") and "Traceback" not in err
    assert "--provisional on `cli.py calendar`" in err  # the option this command takes, among the others
    assert run(capsys, "add", "2026-12-30", "five")[0] == 2
    assert run(capsys, "add", "2026-12-30", "5", "--provisional")[1] == "2027-01-07 (provisional)\n"


def test_check_ok_and_broken(capsys: pytest.CaptureFixture[str], data_copy: Path) -> None:
    """check exits 0 on the shipped data and 1 with file:line lines when a file is broken."""
    code, out, _ = run(capsys, "check", "--data", str(data_copy))
    assert code == 0 and out.startswith("ok: 18 files")
    broken = data_copy / "cn" / "2026.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("2026-10-10", "2026-10-09"), encoding="utf-8")
    code, out, _ = run(capsys, "check", "--data", str(data_copy))
    assert code == 1
    assert out.splitlines()[0].startswith(f"{broken}:")
    assert "make-up working day 2026-10-09 is a Friday" in out


def test_check_and_show_a_guangxi_year_known_in_part(capsys: pytest.CaptureFixture[str], data_copy: Path) -> None:
    """With cn/2027.yaml and no cn-gx/2027.yaml, check says CN-GX 2027 is known before 03-01 and names the file to
    add (and says so in --json); show --provisional marks the year provisional from 2027-03-01 only."""
    from tests.engine.calendar_2027 import TEST_2027_CN

    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    code, out, _ = run(capsys, "check", "--data", str(data_copy))
    assert code == 0
    assert "CN-GX 2018-2026 (2027 before 03-01)" in out
    assert "CN-GX 2027 has the national file only: days from 2027-03-01 on are unknown" in out
    assert str(Path("cn-gx") / "2027.yaml") in out
    code, out, _ = run(capsys, "check", "--data", str(data_copy), "--json")
    assert json.loads(out)["partial"] == {"CN": {}, "CN-GX": {"2027": "2027-03-01"}}
    code, out, _ = run(capsys, "show", "2027", "--region", "CN-GX", "--provisional", "--data", str(data_copy))
    assert code == 0
    assert out.splitlines()[0] == ("2027 CN-GX (provisional from 2027-03-01: the national schedule only, "
                                   "no regional days off)")


def test_business_hours_closing_before_opening_are_refused_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    """`--business-hours 17:00-09:00` exits 2 with the form expected, not a Python repr of two times."""
    assert main(["calendar", "deadline", "2026-09-30T10:00", "2", "--business-hours", "17:00-09:00"]) == 2
    err = capsys.readouterr().err
    assert "opening time must come before the closing time" in err and "datetime" not in err
