"""The clock listings read their partial indexes, never the whole clock table: SQLite's plans of the statements
the store runs, caught as it runs them (a term written otherwise than the index's WHERE would make SQLite
scan every clock ever started)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from engine.clock import SHANGHAI
from storage import open_store
from storage.sql import SqlInstanceStore

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlInstanceStore]:
    opened = open_store(str(tmp_path / "plans.db"))
    assert isinstance(opened, SqlInstanceStore)
    yield opened
    opened.close()


def plans(store: SqlInstanceStore, read: Any) -> list[str]:
    """The plan lines of every statement on `sla_clock` that `read()` runs."""
    caught: list[tuple[str, Any]] = []

    def catch(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM sla_clock" in statement:
            caught.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", catch)
    try:
        read()
    finally:
        event.remove(store.engine, "before_cursor_execute", catch)
    assert caught, "the read ran no statement on sla_clock"
    with store.engine.connect() as conn:
        return [row[-1] for statement, parameters in caught
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]


def scans_every_clock(line: str) -> bool:
    return line.startswith(("SCAN sla_clock", "SCAN TABLE sla_clock")) and "INDEX" not in line


@pytest.mark.parametrize("workflow_id", [None, "gx.data_request"])
def test_the_overdue_list_reads_the_breached_and_the_next_moment_indexes(store: SqlInstanceStore,
                                                                         workflow_id: str | None) -> None:
    lines = plans(store, lambda: store.overdue_clocks(NOW + timedelta(days=30), 50, workflow_id, offset=10))
    assert any("sla_clock USING INDEX ix_sla_clock_breached (due_at<?)" in line for line in lines), lines
    assert any("sla_clock USING INDEX ix_sla_clock_next (next_fire_at<?)" in line for line in lines), lines
    assert not any(scans_every_clock(line) for line in lines), lines


def test_the_recomputation_reads_the_provisional_index(store: SqlInstanceStore) -> None:
    lines = plans(store, lambda: list(store.provisional_clocks()))
    assert any("sla_clock USING INDEX ix_sla_clock_provisional" in line for line in lines), lines
    assert not any(scans_every_clock(line) for line in lines), lines
