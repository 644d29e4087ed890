"""A SQLite file removed or replaced under a running engine: commands refuse instead of writing to an inode
nobody can open again, and nothing written before is lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import Engine, ManualClock
from engine.definitions import DefinitionSet
from engine.errors import StorageUnavailable
from storage import open_store
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, FLOW, flow_vars

WF = "common.test_flow"


def sqlite_engine(path: Path, clock: ManualClock) -> Engine:
    engine = Engine(open_store(str(path)), DefinitionSet(), clock=clock)
    engine.add_definition(FLOW, "test_flow.yaml")
    return engine


def test_a_removed_database_file_refuses_commands(tmp_path: Path, clock: ManualClock) -> None:
    """After the file is deleted, start and fire raise StorageUnavailable naming the file and what to do."""
    db = tmp_path / "gone.db"
    engine = sqlite_engine(db, clock)
    inst = engine.start(WF, "R-1", flow_vars(), CONSUMER_ADMIN)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StorageUnavailable) as start_err:
        engine.start(WF, "R-2", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(StorageUnavailable) as fire_err:
        engine.fire(inst.id, "approve", AUDITOR)
    with pytest.raises(StorageUnavailable):
        engine.get(inst.id)
    assert "was removed" in str(start_err.value) and str(db) in str(start_err.value)
    assert "restore it" in str(fire_err.value)
    engine.close()


def test_a_replaced_database_file_refuses_commands(tmp_path: Path, clock: ManualClock) -> None:
    """A file moved over the open one (a restore by `mv` while the engine runs): the engine refuses."""
    db, other = tmp_path / "live.db", tmp_path / "backup.db"
    sqlite_engine(other, clock).close()
    engine = sqlite_engine(db, clock)
    engine.start(WF, "R-3", flow_vars(), CONSUMER_ADMIN)
    os.replace(other, db)
    with pytest.raises(StorageUnavailable) as err:
        engine.start(WF, "R-4", flow_vars(), CONSUMER_ADMIN)
    assert "was replaced" in str(err.value) and "stop every engine" in str(err.value)
    engine.close()


def test_a_database_that_stays_put_keeps_working(tmp_path: Path, clock: ManualClock) -> None:
    """The check passes for the file the store opened, across commands and a reopen."""
    db = tmp_path / "stays.db"
    engine = sqlite_engine(db, clock)
    inst = engine.start(WF, "R-5", flow_vars(), CONSUMER_ADMIN)
    engine.close()
    engine = sqlite_engine(db, clock)
    assert engine.fire(inst.id, "approve", AUDITOR).row_version == inst.row_version + 1
    engine.close()
