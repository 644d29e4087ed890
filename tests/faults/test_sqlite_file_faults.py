"""The SQLite file cannot be written for a while (made immutable, as a filesystem fault or a mistaken change of
its attributes would), then can again. Meanwhile commands and ticks fail with StorageUnavailable and change
nothing; afterwards the worker's ticks carry on without a restart.

A connection that met the fault, or was opened during it, keeps answering "attempt to write a readonly
database" after the file is well again. The commands replace such a connection when it fails; the claims and
reads, which run through SQLAlchemy, now do too, instead of handing it back to the pool for the next tick.
Only the database file and its log are made immutable: an immutable `-shm` file makes the kernel fault SQLite's
writes to its shared memory map, which no program can answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine import Engine, ManualClock, StorageUnavailable
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from storage import open_store
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, DIRECTORY, FLOW, flow_vars
from tests.unwritable import require_unwritable, unwritable

WF = "common.test_flow"
START = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # Monday: each task is due at 24:00 on Monday 9 March
LATE = datetime(2026, 3, 11, 9, 0, tzinfo=SHANGHAI)  # Wednesday: every task's due time has passed


@pytest.fixture
def frozen_files(tmp_path: Path) -> list[Path]:
    """The database file and its log, to be made unwritable while the engine has them open."""
    require_unwritable(tmp_path, while_open=True)
    db = tmp_path / "shixian.db"
    return [db, Path(f"{db}-wal")]


def test_the_worker_ticks_again_once_the_file_can_be_written(frozen_files: list[Path]) -> None:
    """A worker process: its ticks fail during the fault and work again after it, without a restart."""
    db = frozen_files[0]
    engine = Engine(open_store(str(db)), DefinitionSet(), clock=ManualClock(START), directory=DIRECTORY)
    engine.add_definition(FLOW, "test_flow.yaml")
    engine.register_hook("count_users", lambda variables: {"users": 0})
    try:
        ids = [engine.start(WF, f"F-{n}", flow_vars(), CONSUMER_ADMIN).id for n in range(3)]

        with unwritable(frozen_files):
            for minute in range(3):
                with pytest.raises(StorageUnavailable, match="nothing was changed"):
                    engine.tick(LATE + timedelta(minutes=minute))
                assert engine.get(ids[1]).state == "review"  # reading still works

        report = engine.tick(LATE + timedelta(minutes=5))
        assert report.fired > 0 and report.failed == 0
        assert engine.tick(LATE + timedelta(minutes=6)).fired == 0  # each moment once
        assert all(clock.breached for i in ids for clock in engine.clocks(i) if clock.scope == "task")
        assert engine.fire(ids[0], "approve", AUDITOR).state == "publicity"
    finally:
        engine.close()
