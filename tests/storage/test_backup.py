"""`cli.py backup` copies the engine's SQLite database while it is written, checks the copy, and puts it under the
target's name only then: the copy restores to the same cases, histories and clocks; a refusal or a failure leaves
no file behind, neither under the target's name nor a partial one; the source is never written."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli import main
from engine import DiskFull, Engine, ManualClock, SchemaTooNew
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from storage import open_store
from storage.backup import BackupFailed, BackupRefused, backup_database
from storage.cli_backup import _terminate_as_interrupt
from storage.migrate import downgrade
from storage.sql import database_url
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, DIRECTORY, FLOW, flow_vars
from tests.storage.conftest import SmallDisk
from tests.unwritable import require_unwritable, unwritable

WF = "common.test_flow"
START = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)


def _engine(db: Path, clock: ManualClock) -> Engine:
    engine = Engine(open_store(str(db)), DefinitionSet(), clock=clock, directory=DIRECTORY)
    engine.add_definition(FLOW, "test_flow.yaml")
    engine.register_hook("count_users", lambda variables: {"users": 0})
    return engine


def _cases(engine: Engine, count: int, prefix: str = "BK") -> list[str]:
    """`count` cases at review; the first approved (now in its publicity timer), the second refused, and a tick a
    week later that records the breaches and escalations of the rest."""
    ids = [engine.start(WF, f"{prefix}-{n}", flow_vars(), CONSUMER_ADMIN).id for n in range(count)]
    engine.fire(ids[0], "approve", AUDITOR)
    engine.fire(ids[1], "refuse", AUDITOR, {"reason": "不予共享"})
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(days=9))
    engine.tick()
    return ids


def _snapshot(engine: Engine, ids: list[str]) -> dict[str, object]:
    """Everything a restore must give back of each case: the instance, its history, its clocks and timers."""
    return {i: (engine.get(i), engine.history(i), engine.clocks(i), engine.timers(i)) for i in ids}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["backup", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A database of the test flow with five cases in different states, closed as a backend leaves it."""
    db = tmp_path / "live" / "shixian.db"
    db.parent.mkdir()
    engine = _engine(db, ManualClock(START))
    _cases(engine, 5)
    engine.close()
    return db


def test_a_backup_restores_to_the_same_cases_histories_and_clocks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A copy taken while a backend has the database open opens in the engine with every case, step and clock of
    the source, each history chain verifying; the command says what it copied."""
    db = tmp_path / "shixian.db"
    clock = ManualClock(START)
    live = _engine(db, clock)
    ids = _cases(live, 6)
    copy = tmp_path / "backups" / "shixian-2026-03-11.db"
    copy.parent.mkdir()
    try:
        code, out, err = _run(capsys, "--db", str(db), "--to", str(copy), "--json")
        expected = _snapshot(live, ids)
    finally:
        live.close()
    assert (code, err) == (0, "")
    told = json.loads(out)
    assert told["path"] == str(copy) and told["bytes"] == copy.stat().st_size
    assert told["instances"] == len(ids) and told["revision"] == _revision(db) and told["seconds"] >= 0
    restored = _engine(copy, clock)
    try:
        assert _snapshot(restored, ids) == expected
        assert all(restored.verify_history(i).ok for i in ids)
        assert any(c.breached for i in ids for c in restored.clocks(i))  # the tick's work came along
    finally:
        restored.close()
    assert _names(copy.parent) == [copy.name]  # no partial file, no -wal or -shm of the check


def test_the_text_output_names_path_size_revision_instances_and_time(
        source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json, one line says what was copied, where, how big, at which revision, in how long."""
    copy = tmp_path / "copy.db"
    code, out, _ = _run(capsys, "--db", str(source), "--to", str(copy))
    assert code == 0
    assert f"to {copy}: {copy.stat().st_size:,} bytes, schema revision {_revision(source)}, 5 instance(s), in " in out


def test_a_backup_taken_while_commands_commit_is_one_consistent_moment(tmp_path: Path) -> None:
    """A backend keeps starting and moving cases on another thread, committing between the copy's steps; the copy
    holds the cases of one moment, each whole (its history verifies), and the writer was never held up."""
    db = tmp_path / "shixian.db"
    clock = ManualClock(START)
    _engine(db, clock).close()
    writer = _engine(db, clock)
    committed = threading.Semaphore(0)
    stop = threading.Event()
    started: list[str] = []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            n = 0
            while not stop.is_set():
                inst = writer.start(WF, f"W-{n}", flow_vars(), CONSUMER_ADMIN)
                started.append(inst.id)
                if n % 2:
                    writer.fire(inst.id, "approve", AUDITOR)
                n += 1
                committed.release()
        except BaseException as err:
            failures.append(err)
            committed.release()

    for _ in range(40):  # a database of a few dozen pages, so the copy takes several steps
        writer.start(WF, f"PRE-{_}", flow_vars(), CONSUMER_ADMIN)
    thread = threading.Thread(target=write)
    thread.start()
    steps: list[int] = []

    def between_steps(remaining: int, total: int) -> None:
        steps.append(remaining)
        assert len(steps) < 1000, "the copy starts over at every commit and never ends"
        for _ in range(3):  # the writer commits three more commands before the next step
            assert committed.acquire(timeout=30), "the writer was held up by the copy"

    try:
        for _ in range(3):
            assert committed.acquire(timeout=30)
        result = backup_database(str(db), tmp_path / "copy.db", pages=4, progress=between_steps)
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert len(steps) > 3 and steps[-1] == 0
    total = len(writer.list_instances(limit=10_000))
    writer.close()
    assert result.instances < total  # the writer went on past the copy's moment
    restored = _engine(tmp_path / "copy.db", clock)
    try:
        copied = restored.list_instances(limit=10_000)
        assert len(copied) == result.instances > 40
        assert all(restored.verify_history(i.id).ok for i in copied)
        of_writer = {i.id for i in copied} & set(started)
        assert of_writer == set(started[:len(of_writer)])  # the cases of one moment: none without those before it
    finally:
        restored.close()
    assert _integrity(tmp_path / "copy.db") == ["ok"]


def test_an_existing_copy_is_replaced_only_with_force(
        source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file at the target is refused (exit 2, kept as it was, nothing else left there) unless --force; the
    database itself is refused even then."""
    copy = tmp_path / "copy.db"
    copy.write_text("last week's backup", encoding="utf-8")
    code, out, err = _run(capsys, "--db", str(source), "--to", str(copy))
    assert (code, out) == (2, "")
    assert f"--to {copy}: a file is there already" in err and "--force" in err
    assert copy.read_text(encoding="utf-8") == "last week's backup"
    assert sorted(_names(tmp_path)) == ["copy.db", "live"]
    code, _, _ = _run(capsys, "--db", str(source), "--to", str(copy), "--force")
    assert code == 0
    assert _revision(copy) == _revision(source)
    before = _digest(source)
    code, _, err = _run(capsys, "--db", str(source), "--to", str(source), "--force")
    assert code == 2 and "the database being copied" in err
    assert _digest(source) == before


def test_a_postgresql_url_is_told_to_use_pg_dump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A server's URL is refused before any connection, with a pg_dump command line for that database that does
    not repeat the password."""
    code, out, err = _run(capsys, "--db", "postgresql+psycopg://shixian:s3cret@db.example/shixian",
                          "--to", str(tmp_path / "copy.db"))
    assert (code, out) == (2, "")
    assert "pg_dump --format=custom" in err and "'postgresql://shixian@db.example/shixian'" in err
    assert "s3cret" not in err
    assert _names(tmp_path) == []


def test_a_missing_source_is_refused_and_nothing_is_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped --db says there is no file there and which file to give; neither it nor the copy is created."""
    code, _, err = _run(capsys, "--db", str(tmp_path / "shixan.db"), "--to", str(tmp_path / "copy.db"))
    assert code == 2
    assert f"--db {tmp_path / 'shixan.db'}: there is no file there" in err and "$SHIXIAN_DB" in err
    assert _names(tmp_path) == []


def test_a_target_in_a_missing_folder_is_refused(source: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The folder is not created: a mistyped folder is named, with what to do."""
    copy = tmp_path / "backpus" / "copy.db"
    code, _, err = _run(capsys, "--db", str(source), "--to", str(copy))
    assert code == 2
    assert f"there is no folder {copy.parent}; create it first" in err
    assert not copy.parent.exists()


def test_a_target_folder_that_cannot_be_written_is_refused(source: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    require_unwritable(tmp_path)
    folder = tmp_path / "backups"
    folder.mkdir()
    with unwritable([folder]):
        code, _, err = _run(capsys, "--db", str(source), "--to", str(folder / "copy.db"))
    assert code == 2
    assert f"the folder {folder} cannot be written" in err
    assert _names(folder) == []


@pytest.mark.parametrize("content", ["not the engine's", "not sqlite"])
def test_a_source_that_is_not_the_engines_database_leaves_no_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    """Another application's SQLite file, or a file that is no database, is refused naming what to give, and the
    partial copy begun beside the target is gone."""
    other = tmp_path / "other.db"
    if content == "not sqlite":
        other.write_text("id,name\n1,a\n", encoding="utf-8")
    else:
        conn = sqlite3.connect(other)
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        conn.commit()
        conn.close()
    backups = tmp_path / "backups"
    backups.mkdir()
    code, _, err = _run(capsys, "--db", str(other), "--to", str(backups / "copy.db"))
    assert code == 2
    assert ("not the engine's database: it holds only other tables (orders)" if content != "not sqlite"
            else "not a SQLite database") in err
    assert _names(backups) == []


def test_a_damaged_source_fails_the_check_and_leaves_no_file(
        source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A database with a damaged index page copies, but the copy fails the integrity check: exit 1, nothing under
    the target's name and no partial file."""
    _damage_an_index(source)
    backups = tmp_path / "backups"
    backups.mkdir()
    code, _, err = _run(capsys, "--db", str(source), "--to", str(backups / "copy.db"))
    assert code == 1
    assert "fails SQLite's integrity check" in err and f"nothing was written to {backups / 'copy.db'}" in err
    assert _names(backups) == []


def test_an_interrupted_copy_leaves_no_file(source: Path, tmp_path: Path) -> None:
    """SIGTERM between two steps ends the copy as Ctrl-C does, and its partial file is removed."""
    backups = tmp_path / "backups"
    backups.mkdir()

    def terminate(remaining: int, total: int) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt), _terminate_as_interrupt():
        backup_database(str(source), backups / "copy.db", pages=2, progress=terminate)
    assert _names(backups) == []


def test_a_full_disk_is_disk_full_and_leaves_no_file(source: Path, small_disk: SmallDisk) -> None:
    """A target folder whose disk fills up during the copy is DiskFull, naming it; nothing is left there."""
    small_disk.fill(leave=32768)
    with pytest.raises(DiskFull) as err:
        backup_database(str(source), small_disk.folder / "copy.db")
    assert err.value.folder == str(small_disk.folder)
    assert _names(small_disk.folder) == ["filler"]


def test_a_source_a_later_release_migrated_is_refused(source: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """SchemaTooNew, exit 1, the source's stamp untouched and no copy."""
    _stamp(source, "0099_from_a_later_release")
    code, _, err = _run(capsys, "--db", str(source), "--to", str(tmp_path / "copy.db"))
    assert code == 1
    assert "revision '0099_from_a_later_release'" in err and "run that newer release" in err
    assert _revision(source) == "0099_from_a_later_release"
    assert not (tmp_path / "copy.db").exists()
    with pytest.raises(SchemaTooNew):
        backup_database(str(source), tmp_path / "copy.db")


def test_the_source_is_neither_migrated_nor_written(source: Path, tmp_path: Path) -> None:
    """A database at an older revision is copied at that revision, and its file is the same byte for byte."""
    engine = sa.create_engine(database_url(str(source)))
    downgrade(engine, "0008")
    engine.dispose()
    before = _digest(source)
    result = backup_database(str(source), tmp_path / "copy.db")
    assert result.revision == "0008" == _revision(tmp_path / "copy.db") == _revision(source)
    assert _digest(source) == before


def test_a_read_only_source_is_copied_as_it_stands(source: Path, tmp_path: Path) -> None:
    """A database on a read-only mount (or a copy handed over) is read immutable, as the reading commands read it,
    and copied whole."""
    require_unwritable(tmp_path)
    for side in ("-wal", "-shm"):  # left by the fixture's engine, as a copy taken after it stopped has none
        Path(f"{source}{side}").unlink(missing_ok=True)
    with unwritable([source, source.parent]):
        result = backup_database(str(source), tmp_path / "copy.db")
    assert result.instances == 5
    assert _names(source.parent) == [source.name]


def test_refusals_are_typed(source: Path, tmp_path: Path) -> None:
    """A backend calling the library gets BackupRefused with the option at fault, and BackupFailed's fields."""
    with pytest.raises(BackupRefused) as refused:
        backup_database("postgresql://u@h/d", tmp_path / "copy.db")
    assert (refused.value.option, refused.value.value) == ("--db", "postgresql://u@h/d")
    failed = BackupFailed(str(tmp_path / "copy.db"), "the copy fails SQLite's integrity check")
    assert failed.target == str(tmp_path / "copy.db") and "nothing was written to" in str(failed)


def _revision(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        conn.close()


def _stamp(db: Path, revision: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.commit()
    conn.close()


def _integrity(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def _damage_an_index(db: Path) -> None:
    """Zero the root page of an index of the instance table, as a failing disk might: the rows stay readable by
    their table, and SQLite's integrity check finds the index broken."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            ("ix_instance_status_workflow",)).fetchone()[0]
    finally:
        conn.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\0" * page_size)
