"""The Alembic migrations build exactly the schema the table classes describe, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage import open_store
from storage.migrate import upgrade
from storage.sql import database_url
from storage.tables import METADATA


def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    """After the migrations, autogenerate finds nothing to add, drop or change (a table changed without a
    migration fails here)."""
    store = open_store(db_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    store.close()
    assert diff == []


def test_migration_0003_turns_pending_sla_timers_into_the_clocks_next_moment(db_url: str) -> None:
    """An open clock's earliest pending SLA timer becomes its next moment and the SLA timer rows are retired;
    a stopped clock gets none, and timer waits stay pending."""
    engine = sa.create_engine(database_url(db_url))
    upgrade(engine, "0002")
    early, late = datetime(2026, 3, 6, 16, 0, tzinfo=UTC), datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    clock = dict(instance_id="i1", scope="task", state="review", calendar="CN", started_at=early, base_due_at=late,
                 due_at=late, last_day="2026-03-09", paused_working_days=0, status="running", breached=False,
                 provisional=False)
    timer = dict(instance_id="i1", state=None, status="pending", attempts=0)
    with engine.begin() as conn:
        # the tables as revision 0002 left them, read from the database
        old_clock, old_timer = (sa.Table(name, sa.MetaData(), autoload_with=conn) for name in ("sla_clock", "timer"))
        conn.execute(sa.insert(old_clock), [{**clock, "id": 1, "stopped_at": None},
                                            {**clock, "id": 2, "status": "met", "stopped_at": early}])
        conn.execute(sa.insert(old_timer), [
            {**timer, "clock_id": 1, "kind": "due", "level": 0, "fire_at": late},
            {**timer, "clock_id": 1, "kind": "warn", "level": 1, "fire_at": early},
            {**timer, "clock_id": 2, "kind": "due", "level": 0, "fire_at": late},
            {**timer, "clock_id": None, "kind": "timer", "level": 0, "fire_at": late, "state": "publicity"},
        ])
    upgrade(engine, "head")
    engine.dispose()
    store = open_store(db_url)
    open_clock, stopped = store.clocks("i1")
    timers = {(t.kind, t.clock_id): t.status for t in store.timers("i1")}
    store.close()
    assert (open_clock.next_fire_at, open_clock.next_kind, open_clock.next_level) == (early, "warn", 1)
    assert stopped.next_fire_at is None
    assert timers == {("due", 1): "cancelled", ("warn", 1): "cancelled", ("due", 2): "cancelled",
                      ("timer", None): "pending"}
