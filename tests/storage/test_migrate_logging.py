"""Migrating a database logs one line of its own, not Alembic's INFO chatter, and keeps Alembic's warnings."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]


def test_a_fresh_process_logs_no_alembic_info_lines(tmp_path: Path) -> None:
    """A new process that migrates a new file (as the worker does on start) shows no "setup plugin" or
    "Context impl" lines at INFO, only its own line saying the schema was upgraded."""
    script = ("import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr, "
              "format='%(levelname)s %(name)s: %(message)s'); import sqlalchemy as sa; "
              "from storage.migrate import upgrade; "
              f"upgrade(sa.create_engine({'sqlite:///' + str(tmp_path / 'm.db')!r}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [line for line in lines if "alembic" in line] == []
    assert [line for line in lines if line.startswith("INFO storage.migrate: database schema upgraded from an empty")]


def test_alembic_warnings_still_pass_and_its_level_is_restored(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """During the upgrade an Alembic warning is logged and its INFO is not; afterwards the level is as it was."""
    import alembic.command

    migrate = alembic.command.upgrade

    def noisy(cfg: Any, revision: str) -> None:
        alembic_log = logging.getLogger("alembic.runtime.migration")
        alembic_log.info("chatter")
        alembic_log.warning("something to see")
        migrate(cfg, revision)

    monkeypatch.setattr(alembic.command, "upgrade", noisy)
    caplog.set_level(logging.INFO)
    upgrade(sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}"))
    alembic_lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("alembic")]
    assert alembic_lines == [("WARNING", "something to see")]
    assert logging.getLogger("alembic").level == logging.NOTSET
