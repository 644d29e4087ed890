"""`cli.py audit` on a database of shipped-workflow cases (SQLite and PostgreSQL): counts, the broken instance
named with its step, the workflow filter, the keyring, and the exit codes 0, 3 and 4 as `history` has them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli import main
from engine import Engine, HistoryKeyring, ManualClock
from engine.definitions import DefinitionSet
from engine.history_keys import add_new_key
from engine.ports import Directory
from storage import open_store
from tests.engine.conftest import OpenEngine
from tests.engine.test_audit import REQUEST, all_steps, quality_cases, request_cases, run_sql
from tests.unwritable import require_unwritable, unwritable
from tests.workflows.conftest import at


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_intact_then_one_step_edited(open_engine: OpenEngine, db_url: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """All intact: exit 0 with the counts, nothing on stderr. One step edited: exit 3, that instance alone named
    with its workflow, business key and the step as `history` prints it; --json says the same."""
    engine = open_engine()
    ids = request_cases(engine, 4) + quality_cases(engine, 2)
    steps = all_steps(engine, ids)
    code, out, err = run(capsys, "audit", "--db", db_url)
    assert code == 0 and err == ""
    assert out.strip() == f"checked 6 instance(s), {steps} step(s): 6 intact, 0 altered, 0 not checked (history " \
                          "key not given)"

    target = ids[1]
    run_sql(engine, "UPDATE history SET actor = 'mallory' WHERE instance_id = :i AND seq = 3", i=target)
    code, out, _ = run(capsys, "audit", "--db", db_url)
    lines = out.splitlines()
    assert code == 3
    assert lines[0] == f"{target}  {REQUEST}  GX-REQ-1: HISTORY ALTERED at step 3: its content was changed after it " \
                       "was written"
    assert lines[1].split()[:2] == ["3", "2026-10-08T09:14:00+08:00"] and "mallory" in lines[1]
    assert [i for i in ids if i in out] == [target]
    assert "6 instance(s)" in lines[-1] and "5 intact, 1 altered" in lines[-1]

    code, out, _ = run(capsys, "audit", "--db", db_url, "--json")
    data = json.loads(out)
    assert code == 3 and (data["instances"], data["steps"], data["intact"], data["ok"]) == (6, steps, 5, False)
    [found] = data["findings"]
    assert data["altered"] == 1 and found["kind"] == "altered"
    assert (found["instance_id"], found["business_key"], found["seq"]) == (target, "GX-REQ-1", 3)
    assert found["step"]["actor"] == "mallory" and found["verdict"].startswith("HISTORY ALTERED at step 3")


def test_the_workflow_filter(open_engine: OpenEngine, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--workflow audits that workflow's instances only; one no workflow has is refused, exit 2."""
    engine = open_engine()
    requests = request_cases(engine, 2)
    quality_cases(engine, 3)
    run_sql(engine, "DELETE FROM history WHERE instance_id = :i AND seq = 2", i=requests[0])
    code, out, _ = run(capsys, "audit", "--db", db_url, "--workflow", "gx.data_quality", "--json")
    data = json.loads(out)
    assert code == 0 and (data["instances"], data["altered"], data["findings"]) == (3, 0, [])
    code, out, _ = run(capsys, "audit", "--db", db_url, "--workflow", REQUEST)
    assert code == 3 and "2 instance(s)" in out and f"{requests[0]}  {REQUEST}  GX-REQ-0: HISTORY ALTERED at step 3: " \
                                                   "step 2 is missing" in out
    code, _, err = run(capsys, "audit", "--db", db_url, "--workflow", "gx.data_qualty")
    assert code == 2 and "did you mean 'gx.data_quality'" in err


def test_sealed_history_with_and_without_the_keyring(open_engine: OpenEngine, db_url: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """With the keyring every sealed chain verifies (exit 0); without it each is not checked, naming the key
    (exit 4, as `history`); a chain also altered makes it 3."""
    keys = tmp_path / "history.keys"
    add_new_key(keys)
    keyring = HistoryKeyring.load(keys)
    engine = open_engine(keyring)
    ids = request_cases(engine, 3)
    code, out, _ = run(capsys, "audit", "--db", db_url, "--history-keys", str(keys))
    assert code == 0 and f"({all_steps(engine, ids)} sealed with a history key): 3 intact" in out
    code, out, _ = run(capsys, "audit", "--db", db_url)
    assert code == 4 and out.count(f"HISTORY NOT CHECKED from step 1: it is sealed with history key "
                                   f"{keyring.sealing_id}, which was not given here") == 3
    assert "0 intact, 0 altered, 3 not checked" in out and f"history key(s) not given: {keyring.sealing_id}" in out
    run_sql(engine, "UPDATE history SET event = 'refuse' WHERE instance_id = :i AND seq = 3", i=ids[2])
    code, out, _ = run(capsys, "audit", "--db", db_url, "--history-keys", str(keys), "--json")
    data = json.loads(out)
    assert code == 3 and [(f["kind"], f["instance_id"]) for f in data["findings"]] == [("altered", ids[2])]


def test_progress_and_errors(open_engine: OpenEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """--progress writes its lines on stderr only; a database that is not there is exit 2, a keyring others
    may read exit 1, each one line without a traceback."""
    from engine import cli_audit

    engine = open_engine()
    first_two = sorted(request_cases(engine, 3))[:2]
    db = engine.store.url  # type: ignore[attr-defined]
    monkeypatch.setattr(cli_audit, "PROGRESS_EVERY", 2)
    code, out, err = run(capsys, "audit", "--db", db, "--progress")
    assert code == 0 and "..." not in out
    assert err == f"... 2 instance(s), {all_steps(engine, first_two)} step(s) checked so far, 0 altered\n"
    code, _, err = run(capsys, "audit", "--db", str(tmp_path / "no.db"))
    assert code == 2 and "no database at" in err
    keys = tmp_path / "keys"
    add_new_key(keys)
    keys.chmod(0o644)
    code, _, err = run(capsys, "audit", "--db", db, "--history-keys", str(keys))
    assert code == 1 and "chmod 600" in err and "Traceback" not in err


def test_a_copy_that_cannot_be_written_is_audited_as_it_stands(tmp_path: Path, shipped: DefinitionSet,
                                                                staff: Directory,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A supervisor's SQLite copy that cannot be written is read as it stands: its counts, and the file unchanged."""
    require_unwritable(tmp_path)
    (tmp_path / "live").mkdir()
    db = tmp_path / "live" / "shixian.db"
    engine = Engine(open_store(str(db)), shipped, clock=ManualClock(at(2026, 10, 8, 9)), directory=staff)
    ids = request_cases(engine, 3)
    steps = all_steps(engine, ids)
    engine.close()
    (tmp_path / "copy").mkdir()
    copy = Path(shutil.copy2(db, tmp_path / "copy" / db.name))
    before = copy.read_bytes()
    with unwritable([copy, copy.parent]):
        code, out, err = run(capsys, "audit", "--db", str(copy))
    assert code == 0 and f"checked 3 instance(s), {steps} step(s): 3 intact" in out and "as it stands" in err
    assert copy.read_bytes() == before and sorted(p.name for p in copy.parent.iterdir()) == [copy.name]
