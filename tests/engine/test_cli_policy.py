"""The command line and the database's deadline policy: an engine command given another exits 2 with the error and
no traceback, and `policy` shows the recorded one and changes it on purpose; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from cli import main
from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from engine.policy_check import SETTING
from engine.store import InstanceQuery
from storage import open_store

REPO = Path(__file__).resolve().parents[2]
C, P = make_credit_code(11), make_credit_code(22)


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The people directory `start` needs (alice of C) as $SHIXIAN_DIRECTORY, and no business hours given by the
    environment unless a test sets them."""
    path = tmp_path / "directory.yaml"
    path.write_text(f"""\
channels:
  file: {{type: file, dir: "{tmp_path / 'mail'}"}}
departments:
  - {{code: {C}, name: 使用局}}
  - {{code: {P}, name: 提供局}}
people:
  - {{id: alice, name: Alice, department: {C}, roles: [data_admin], contacts: {{file: alice@c.example.gov.cn}}}}
""", encoding="utf-8")
    monkeypatch.setenv("SHIXIAN_DIRECTORY", str(path))
    monkeypatch.delenv("SHIXIAN_BUSINESS_HOURS", raising=False)


def _recorded_without_hours(db: str, clock: ManualClock) -> None:
    """A database whose first engine was given no business hours (deadlines at 24:00)."""
    Engine(open_store(db), DefinitionSet(), clock=clock).close()


def _start(db: str, flow_dir: Path, key: str, *extra: str) -> list[str]:
    return ["start", "common.test_flow", key, "--db", db, "--workflows", str(flow_dir), "--allow-provisional",
            "--json", "--actor", "alice", "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}", *extra]


def _instances(db: str) -> list[str]:
    store = open_store(db)
    try:
        return [i.business_key for i in store.list_instances(InstanceQuery())]
    finally:
        store.close()


def test_start_given_business_hours_on_a_database_recorded_without_exits_2_without_a_traceback(
        db_url: str, flow_dir: Path, clock: ManualClock) -> None:
    """The real process prints the one-line error naming both policies and what to do, exits 2, starts nothing."""
    _recorded_without_hours(db_url, clock)
    done = subprocess.run([sys.executable, str(REPO / "cli.py"),
                           *_start(db_url, flow_dir, "HOURS-1", "--business-hours", "09:00-17:30")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: this database's deadline policy, recorded 2026-03-02: deadlines end at "
                                  "24:00 (no business hours); this process was given another: deadlines end at "
                                  "17:30, close of business (business hours 09:00-17:30)")
    assert "no --business-hours and no $SHIXIAN_BUSINESS_HOURS" in done.stderr
    assert "python cli.py policy --db DB --set" in done.stderr
    assert done.stdout == ""
    assert _instances(db_url) == []


@pytest.mark.parametrize("command", [["show"], ["overdue"], ["history", "no-such-instance"]])
def test_reading_commands_given_another_policy_exit_2(
        db_url: str, flow_dir: Path, clock: ManualClock, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    """Business hours from $SHIXIAN_BUSINESS_HOURS that the database does not record stop a reading command too."""
    _recorded_without_hours(db_url, clock)
    monkeypatch.setenv("SHIXIAN_BUSINESS_HOURS", "08:30-17:00")
    code = main([*command, "--db", db_url, "--workflows", str(flow_dir)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("error: this database's deadline policy") and "business hours 08:30-17:00" in err


def test_policy_shows_the_recorded_one_and_whether_the_hours_given_here_match(
        db_url: str, clock: ManualClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`policy` prints the recorded policy with its date and how to give it; it says when the hours given by the
    environment differ, and --json carries both."""
    _recorded_without_hours(db_url, clock)
    assert main(["policy", "--db", db_url]) == 0
    same = capsys.readouterr().out
    monkeypatch.setenv("SHIXIAN_BUSINESS_HOURS", "09:00-17:30")
    assert main(["policy", "--db", db_url]) == 0
    differs = capsys.readouterr().out
    assert main(["policy", "--db", db_url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert "recorded 2026-03-02T10:00:00+08:00: deadlines end at 24:00 (no business hours)" in same
    assert "are the same" in same
    assert "differ (deadlines end at 17:30, close of business" in differs and "are refused" in differs
    assert shown["recorded"]["business_hours"] is None and shown["given_here"]["business_hours"] == "09:00-17:30"


def test_policy_on_a_missing_database_exits_2_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`policy` never creates a database: a mistyped --db says there is none."""
    db = tmp_path / "missing.db"
    code = main(["policy", "--db", str(db), "--set"])
    assert code == 2 and "no database at" in capsys.readouterr().err
    assert not db.exists()


def test_policy_set_changes_it_and_the_other_value_is_then_accepted(
        db_url: str, flow_dir: Path, clock: ManualClock, capsys: pytest.CaptureFixture[str]) -> None:
    """After `policy --set --business-hours`, start with those hours runs and ends its deadlines at close of
    business, a clock computed before keeps its due time, and a command without hours is now the one refused;
    `--set` without hours goes back to 24:00."""
    _recorded_without_hours(db_url, clock)
    code = main(_start(db_url, flow_dir, "BEFORE-1"))
    before = json.loads(capsys.readouterr().out)["id"]
    assert code == 0
    store = open_store(db_url)
    old_dues = [c.due_at for c in store.clocks(before)]
    store.close()

    code = main(["policy", "--db", db_url, "--set", "--business-hours", "09:00-17:30"])
    told = capsys.readouterr().out
    assert code == 0
    assert ("changed from deadlines end at 24:00 (no business hours) to deadlines end at 17:30, close of business "
            "(business hours 09:00-17:30)") in told
    assert "open clocks are not recomputed" in told and "Restart every process" in told

    code = main(_start(db_url, flow_dir, "AFTER-1", "--business-hours", "09:00-17:30"))
    after = json.loads(capsys.readouterr().out)["id"]
    assert code == 0
    refused = main(["show", "--db", db_url, "--workflows", str(flow_dir)])
    assert refused == 2 and "this process was given another" in capsys.readouterr().err
    store = open_store(db_url)
    new_dues = {c.due_at.astimezone(SHANGHAI).time() for c in store.clocks(after)}
    kept_dues = [c.due_at for c in store.clocks(before)]
    store.close()
    assert new_dues == {time(17, 30)}
    assert kept_dues == old_dues

    assert main(["policy", "--db", db_url, "--set"]) == 0
    capsys.readouterr()
    store = open_store(db_url)
    recorded = store.setting(SETTING)
    store.close()
    assert recorded is not None and json.loads(recorded.value)["business_hours"] is None
