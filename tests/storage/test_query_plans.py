"""The clock listings read their partial indexes and an instance's history reads its range of keys, never a whole
table: SQLite's plans of the statements the store runs, caught as it runs them (a term written otherwise than an
index's WHERE, or a join on anything but the key, would make SQLite scan every clock or step ever written)."""

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


def plans(store: SqlInstanceStore, read: Any, table: str = "sla_clock") -> list[str]:
    """The plan lines of every statement naming `table` that `read()` runs."""
    caught: list[tuple[str, Any]] = []

    def catch(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if f" {table}" in statement:
            caught.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", catch)
    try:
        read()
    finally:
        event.remove(store.engine, "before_cursor_execute", catch)
    assert caught, f"the read ran no statement on {table}"
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


def test_an_instance_history_reads_its_range_of_keys(store: SqlInstanceStore) -> None:
    lines = plans(store, lambda: store.history("0" * 32), "history")
    assert "SEARCH instance USING PRIMARY KEY (id=?)" in lines, lines
    assert "SEARCH history USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in lines, lines


def test_the_audit_reads_each_page_of_instances_with_their_ranges_of_keys(store: SqlInstanceStore) -> None:
    lines = plans(store, lambda: list(store.histories(batch=50)), "history")
    assert any(line.startswith("SEARCH history USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") for line in lines)
    assert not any(line.startswith(("SCAN history", "SCAN TABLE history")) for line in lines), lines
