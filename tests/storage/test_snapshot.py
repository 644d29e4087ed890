"""A SQLite file that cannot be written here (a copy given to a supervisor, a read-only mount) is read as it
stands by the commands that only read: nothing is written beside it or into it. A copy whose write-ahead log
still holds changes, or whose schema is older than this version's, is refused with what to do."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import Actor, Engine, ManualClock, StorageUnavailable
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from storage import open_for_reading, open_store, snapshot_path
from storage.migrate import upgrade
from storage.sql import database_url
from tests.engine.conftest import CONSUMER_ADMIN, DIRECTORY, FLOW, PROVIDER, flow_vars
from tests.unwritable import require_unwritable, unwritable

REPO = Path(__file__).resolve().parents[2]
WF = "common.test_flow"
SYSTEM = Actor.system()
START = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
LATE = datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI)  # every task of START is past due


def _live_database(folder: Path) -> tuple[Path, list[str]]:
    """A database with three cases waiting at review, written and closed as a backend leaves it."""
    folder.mkdir()
    db = folder / "shixian.db"
    engine = Engine(open_store(str(db)), DefinitionSet(), clock=ManualClock(START), directory=DIRECTORY)
    engine.add_definition(FLOW, "test_flow.yaml")
    ids = [engine.start(WF, f"RO-{n}", flow_vars(), CONSUMER_ADMIN).id for n in range(3)]
    engine.close()
    return db, ids


def _copy(db: Path, folder: Path) -> Path:
    folder.mkdir()
    shutil.copy2(db, folder / db.name)
    return folder / db.name


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_copy_that_cannot_be_written_is_read_as_it_stands(tmp_path: Path) -> None:
    require_unwritable(tmp_path)
    db, ids = _live_database(tmp_path / "live")
    copy = _copy(db, tmp_path / "copy")
    before = _digest(copy)
    with unwritable([copy, copy.parent]):
        assert snapshot_path(str(copy)) == copy
        store = open_for_reading(str(copy))
        engine = Engine(store, DefinitionSet(), clock=ManualClock(LATE), directory=DIRECTORY)
        engine.add_definition(FLOW, "test_flow.yaml")
        try:
            assert [engine.get(i).state for i in ids] == ["review"] * 3
            assert engine.verify_history(ids[0]).ok
            assert {o.instance.id for o in engine.overdue()} == set(ids)
            with pytest.raises(StorageUnavailable):  # a write is refused, not half done
                engine.cancel(ids[0], SYSTEM)
        finally:
            engine.close()
        assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]  # no -wal, no -shm beside it
    assert _digest(copy) == before
    assert snapshot_path(str(db)) is None  # the live database is opened as always


def test_a_copy_whose_log_holds_changes_is_refused(tmp_path: Path) -> None:
    require_unwritable(tmp_path)
    db, _ = _live_database(tmp_path / "live")
    copy = _copy(db, tmp_path / "copy")
    Path(f"{copy}-wal").write_bytes(b"\0" * 4096)  # copied while a process had changes in its log
    with unwritable([copy, copy.parent]), pytest.raises(StorageUnavailable, match="write-ahead log"):
        open_for_reading(str(copy))


def test_a_copy_with_an_older_schema_is_refused(tmp_path: Path) -> None:
    require_unwritable(tmp_path)
    (tmp_path / "old").mkdir()
    old = tmp_path / "old" / "shixian.db"
    engine = sa.create_engine(database_url(str(old)))
    upgrade(engine, "0005")
    engine.dispose()
    with unwritable([old, old.parent]), pytest.raises(StorageUnavailable, match="older schema"):
        open_for_reading(str(old))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_the_supervisors_commands_read_a_copy_and_the_writing_ones_are_refused(tmp_path: Path) -> None:
    require_unwritable(tmp_path)
    db, ids = _live_database(tmp_path / "live")
    copy = _copy(db, tmp_path / "copy")
    flow = tmp_path / "test_flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    directory = tmp_path / "directory.yaml"
    directory.write_text(f"""\
departments: [{{code: {PROVIDER}, name: 提供局}}]
people: [{{id: bob, name: Bob, department: {PROVIDER}, roles: [data_auditor]}}]
""", encoding="utf-8")
    with unwritable([copy, copy.parent]):
        overdue = _cli("overdue", "--db", str(copy), "--workflows", str(flow), "--json")
        assert overdue.returncode == 0, overdue.stderr
        assert "cannot be written here: reading it as it stands" in overdue.stderr
        history = _cli("history", ids[0], "--db", str(copy), "--workflows", str(flow))
        assert history.returncode == 0, history.stderr
        report = _cli("report", "--month", "2026-03", "--as-of", "2026-04-01", "--format", "csv", "--db", str(copy),
                      "--workflows", str(flow))
        assert report.returncode == 0, report.stderr
        assert "RO-0" in report.stdout
        fire = _cli("fire", ids[0], "approve", "--db", str(copy), "--workflows", str(flow), "--directory",
                    str(directory), "--actor", "bob", "--role", "data_auditor", "--department", PROVIDER)
        assert fire.returncode == 1, fire.stderr
        assert "database is unavailable, nothing was changed" in fire.stderr and "Traceback" not in fire.stderr
        assert f"{copy} cannot be written here (a read-only copy or mount)" in fire.stderr
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]
