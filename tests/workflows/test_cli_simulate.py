"""`cli.py simulate`: a dry run on the real Engine that reports each step's due time against the calendar."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from cli import main
from engine import authz
from engine.definitions import DefinitionSet
from tests.workflows.conftest import ROOT


def simulate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["simulate", *argv, "--workflows", str(ROOT / "workflows")])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv and out else out), err


def test_json_lists_each_steps_due_time(capsys: pytest.CaptureFixture[str]) -> None:
    """The Guangxi request of 2026-09-30: review due end of 10-09, approval end of 10-15, push end of 10-14."""
    code, result, _ = simulate(capsys, "gx.data_request", "--start", "2026-09-30T10:00", "--var",
                               "sharing_type=conditional", "--events", "pass@2026-10-09T10:00",
                               "approve@2026-10-12T09:00", "push@2026-10-13T16:00", "subscribe", "--json")
    assert code == 0
    due = {s["state"]: s.get("due") for s in result["steps"]}
    assert due["normative_review"] == "2026-10-10T00:00+08:00"
    assert due["provider_approval"] == "2026-10-16T00:00+08:00"
    assert due["reply_push"] == "2026-10-15T00:00+08:00"
    approval = next(s for s in result["steps"] if s["state"] == "provider_approval")
    assert approval["warnings"] == ["2026-10-15T00:00+08:00"]
    assert approval["escalations"] == [{"level": 1, "at": "2026-10-16T00:00+08:00"},
                                       {"level": 2, "at": "2026-10-20T00:00+08:00"}]
    assert result["final"]["outcome"] == "granted"
    assert result["steps"][-1]["entered_at"] == "2026-10-13T16:00+08:00"


def test_text_reads_deadlines_as_the_end_of_their_last_day(capsys: pytest.CaptureFixture[str]) -> None:
    """The plain output writes 24:00 of the last day, as the regulations count."""
    code, out, _ = simulate(capsys, "gx.data_request", "--start", "2026-09-30T10:00", "--var",
                            "sharing_type=conditional")
    assert code == 0
    assert "normative_review" in out
    assert "due 2026-10-09 24:00 (running)" in out


#: A data-resource offlining (dispatch art. 21) with its reason and legal basis, straight to the bureau.
DATA_RESOURCE = ("--var", "resource_kind=data_resource", "--var", "reason=系统停用", "--var", "legal_basis=整合方案")


def test_timers_move_on_by_themselves_until_the_given_moment(capsys: pytest.CaptureFixture[str]) -> None:
    """Offlining publicity approved 09-18 ends at the end of 10-09; --until follows the timer to the offline step."""
    code, result, _ = simulate(capsys, "lz.resource_offlining", "--start", "2026-09-15T10:00", *DATA_RESOURCE,
                               "--events", "approve@2026-09-18T10:00", "--until", "2026-10-12T09:00", "--json")
    assert code == 0
    approval = next(s for s in result["steps"] if s["state"] == "approval")
    assert approval["due"] == "2026-09-19T00:00+08:00"
    publicity = next(s for s in result["steps"] if s["state"] == "publicity")
    assert publicity["moves_on_at"] == "2026-10-10T00:00+08:00"
    assert result["final"]["state"] == "offline"


def test_a_timer_state_entered_again_reports_its_own_timer(capsys: pytest.CaptureFixture[str]) -> None:
    """Publicity from 09-30 (ends 10-20) is left for an objection; re-entered 10-12 10:00 it moves on at the end
    of 10-26 (10 WD from 10-13), not at the first, cancelled, timer's 10-20."""
    code, result, _ = simulate(capsys, "lz.resource_offlining", "--start", "2026-09-28T09:00", *DATA_RESOURCE,
                               "--events", "approve@2026-09-30T10:00", "object@2026-10-09T10:00",
                               "proceed@2026-10-12T10:00", "--until", "2026-11-10T09:00", "--json")
    assert code == 0
    publicity = [s for s in result["steps"] if s["state"] == "publicity"]
    assert [s["moves_on_at"] for s in publicity] == ["2026-10-21T00:00+08:00", "2026-10-27T00:00+08:00"]
    assert publicity[1]["left_at"] == "2026-10-27T00:00+08:00"


def test_hook_result_can_be_given(capsys: pytest.CaptureFixture[str]) -> None:
    """--hook sets what a backend hook answers: a catalog in use goes to coordination."""
    code, result, _ = simulate(capsys, "lz.resource_offlining", "--start", "2026-09-14T10:00",
                               "--var", "resource_kind=catalog", "--var", "sealed_form=柳X目下〔2026〕7号",
                               "--hook", 'resource_users={"users": ["x"]}', "--events", "accept", "--json")
    assert code == 0
    assert result["final"]["state"] == "coordination"
    assert result["final"]["variables"]["users"] == ["x"]


def test_paused_review_clock_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """The dispatch review's task clock, paused by a meeting covering 4 WD, is due at the end of 10-15; it is
    one clock, shown on the review step where it started, with the working days it stood still."""
    args = ("lz.dispatch_data_request", "--start", "2026-09-30T10:00", "--var", "sharing_type=conditional",
            "--events", "request_coordination@2026-10-09T09:00", "meeting_held@2026-10-14T15:00")
    code, result, _ = simulate(capsys, *args, "--json")
    assert code == 0
    assert result["procedure_clocks"] == []
    reviews = [s for s in result["steps"] if s["state"] == "provider_review"]
    assert [s.get("due") for s in reviews] == ["2026-10-16T00:00+08:00", None]
    assert reviews[0]["paused_working_days"] == 4
    code, text, _ = simulate(capsys, *args)
    review_line = next(line for line in text.splitlines() if "provider_review" in line and "due" in line)
    assert code == 0 and "paused 4 WD" in review_line


def test_notifications_name_who_would_be_told(capsys: pytest.CaptureFixture[str]) -> None:
    """The run lists the notifications it would send, by role (and department)."""
    code, result, _ = simulate(capsys, "lz.platform_account", "--start", "2026-04-16T15:00", "--until",
                               "2026-04-24T09:00", "--json")
    assert code == 0
    kinds = sorted((n["kind"], n["to"]) for n in result["notifications"] if n["kind"] != "notification")
    assert kinds == [("breach", "center_operator"), ("escalation", "bureau_reviewer"),
                     ("escalation", "data_supervisor"), ("warning", "center_operator")]


def test_a_dry_run_does_not_advise_tagging_a_directory_it_does_not_have(
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run through the bureau's review logs no warning that the directory tags no bureau: a dry run tells roles,
    not organisations, and takes no directory; a real engine afterwards still warns."""
    monkeypatch.setattr(authz, "_untagged", set())
    caplog.set_level(logging.WARNING, logger="engine.authz")
    code, _, err = simulate(capsys, "gx.data_request", "--start", "2026-09-30T10:00", "--var",
                            "sharing_type=conditional", "--events", "pass@2026-10-09T10:00")
    assert code == 0 and err == ""
    assert [r.getMessage() for r in caplog.records if r.name == "engine.authz"] == []
    monkeypatch.setattr(authz, "_untagged", set())
    spec = DefinitionSet.load([ROOT / "workflows"]).get("gx.data_request").spec
    assert authz.organisation_department(None, spec, "bureau") is None
    assert [r.levelno for r in caplog.records if r.name == "engine.authz"] == [logging.WARNING]


def test_a_workflow_file_can_be_simulated(capsys: pytest.CaptureFixture[str]) -> None:
    """A YAML file not yet deployed is simulated by its path."""
    path = ROOT / "workflows" / "lz" / "platform_account.yaml"
    code, result, _ = simulate(capsys, str(path), "--start", "2026-02-13T16:00", "--json")
    assert code == 0
    assert result["steps"][0]["due"] == "2026-02-25T00:00+08:00"


def test_refused_event_exits_1_and_says_what_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    """An event that does not leave the current state is reported with the allowed ones."""
    code, out, _ = simulate(capsys, "gx.data_request", "--start", "2026-09-30T10:00", "--var",
                            "sharing_type=conditional", "--events", "approve")
    assert code == 1
    assert "refused: event 'approve' is not allowed" in out
    assert "pass" in out


def test_an_event_after_the_end_exits_1_after_printing_the_steps(capsys: pytest.CaptureFixture[str]) -> None:
    """An event the ended instance cannot take is a refusal (exit 1), shown after the steps that ended it."""
    code, result, _ = simulate(capsys, "gx.data_request", "--start", "2026-09-30T10:00", "--var",
                               "sharing_type=conditional", "--events", "pass", "approve", "push", "subscribe",
                               "approve", "--json")
    assert code == 1
    assert result["final"]["status"] == "completed"
    assert "already ended" in result["error"]


def test_help_names_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    """`simulate --help` says which status a refused event gives."""
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 when" in out and "1 when the workflow, or an event, could not be applied" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["gx.data_request", "--start", "30/09/2026"], "is not a date-time"),
    (["gx.data_request", "--start", "2026-09-30T10:00", "--var", "colour=red"], "not a variable of gx.data_request"),
    (["gx.data_request", "--start", "2026-09-30T10:00", "--events", "pass@2026-10-09T10:00",
      "push@2026-10-01T10:00"], "earlier than the event before it"),
    (["gx.data_request", "--start", "2026-09-30T10:00", "--events", "pass@2026-09-29T10:00"],
     "earlier than the start (2026-09-30T10:00+08:00)"),
    (["gx.data_request", "--start", "2026-09-30T10:00", "--until", "2026-09-30T09:59"], "--until"),
    (["gx.data_request", "--start", "2026-09-30"], "has no time of day; write e.g. 2026-09-30T09:00"),
    (["gx.data_request", "--start", "2026-09-30T10:00", "--events", "pass@2026-10-09"], "has no time of day"),
    (["gx.data_request", "--start", "2026-09-30T10:00", "--hook", "x=[1]"], "give a JSON object"),
])
def test_bad_input_exits_2_with_the_expected_form(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                  message: str) -> None:
    """Bad command-line values are refused before anything runs, saying what to write."""
    code, _, err = simulate(capsys, *argv)
    assert code == 2
    assert message in err


def test_unknown_workflow_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """An id that is not loaded is named with the loaded ones."""
    code, _, err = simulate(capsys, "gx.nothing", "--start", "2026-09-30T10:00")
    assert code == 1
    assert "gx.nothing" in err


@pytest.mark.parametrize("path", sorted((ROOT / "workflows").rglob("*.yaml")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_workflow_starts_in_a_dry_run(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    """With example values for its required variables, every workflow starts and reports its first step."""
    code, result, _ = simulate(capsys, str(path), "--start", "2026-03-02T10:00", "--json")
    assert (code, result["error"]) == (0, None)
    assert result["steps"][0]["entered_at"] == "2026-03-02T10:00+08:00"
    assert result["final"]["status"] in ("running", "completed")


def test_year_without_a_schedule_is_refused_unless_provisional(capsys: pytest.CaptureFixture[str]) -> None:
    """A provider approval from 2026-12-25 needs 2027, which has no published schedule: refused by default;
    with --allow-provisional it is due at the end of 2027-01-04 (weekends and 1 January off), marked provisional."""
    argv = ("gx.data_request", "--start", "2026-12-24T10:00", "--var", "sharing_type=conditional",
            "--events", "pass@2026-12-25T10:00", "--json")
    code, result, _ = simulate(capsys, *argv)
    assert code == 1
    assert "2027" in result["error"]
    code, result, _ = simulate(capsys, *argv, "--allow-provisional")
    assert code == 0
    approval = next(s for s in result["steps"] if s["state"] == "provider_approval")
    assert (approval["due"], approval["provisional"]) == ("2027-01-05T00:00+08:00", True)
