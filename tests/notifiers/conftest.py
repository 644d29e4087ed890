"""Fixtures of the notifier tests: an outbox database (the suite's `db_url` when one exists, else SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from engine.clock import SHANGHAI, ManualClock
from storage.outbox import TABLE


@pytest.fixture
def outbox_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine with a fresh outbox table: on the suite's `db_url` if defined, else a SQLite file."""
    try:
        url = str(request.getfixturevalue("db_url"))
    except pytest.FixtureLookupError:
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
    engine = create_engine(url)
    TABLE.drop(engine, checkfirst=True)
    TABLE.create(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at 09:00 Shanghai time on a working day."""
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
