"""`cli.py horizon`: the table of deadlines by the day they run short, the operator's summary, JSON, and the
`--check` exit code for monitoring, on the shipped workflows and the real 2026 schedule."""

from __future__ import annotations

import json

import pytest

from cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["horizon", *args])
    return code, capsys.readouterr().out


def test_the_table_lists_the_soonest_first_and_says_what_to_add(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--today", "2026-11-22")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["refused", "from", "workflow", "deadline", "period", "calendar"]
    assert lines[1].split() == ["2026-12-18", "lz.resource_offlining", "publicity", "(timer)", "10", "WD", "CN-GX"]
    assert "counted to a date a case gives" in out and "gx.network_migration procedure" in out
    summary = lines[-1]
    assert summary.startswith("1 deadline(s) need a year without calendar data within 30 days")
    assert "cn/2027.yaml and " in summary and "cn-gx/2027.yaml are added" in summary


@pytest.mark.parametrize(("today", "within", "code"), [("2026-11-22", "30", 1), ("2026-11-22", "26", 0),
                                                       ("2026-12-20", "1", 1), ("2026-06-01", "30", 0)])
def test_check_exits_1_when_a_refusal_is_near(capsys: pytest.CaptureFixture[str], today: str, within: str,
                                              code: int) -> None:
    assert run(capsys, "--today", today, "--within", within, "--check")[0] == code
    assert run(capsys, "--today", today, "--within", within)[0] == 0  # without --check: a report, exit 0


def test_json_gives_every_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--today", "2026-11-22", "--json")
    data = json.loads(out)
    assert code == 0 and data["today"] == "2026-11-22" and data["refused_within"] == 1
    first = data["deadlines"][0]
    assert (first["workflow_id"], first["state"], first["kind"], first["period"], first["refused_from"]) == (
        "lz.resource_offlining", "publicity", "timer", "10 WD", "2026-12-18")
    days = [d["refused_from"] for d in data["deadlines"]]
    assert days == sorted(days)
    assert {"workflow_id": "gx.network_migration", "where": "procedure"} in data["counted_to_a_date"]


@pytest.mark.parametrize(("option", "value", "says"), [("--today", "22/11/2026", "YYYY-MM-DD"),
                                                       ("--within", "-1", "at least 0")])
def test_a_bad_value_exits_2(capsys: pytest.CaptureFixture[str], option: str, value: str, says: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["horizon", option, value])
    assert exit_.value.code == 2 and says in capsys.readouterr().err
