"""The Alembic migrations build exactly the schema the table classes describe, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from storage import open_store
from storage.migrate import alembic_config, upgrade
from storage.sql import database_url
from storage.tables import METADATA

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


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


def _downgrade(url: str, revision: str) -> None:
    engine = sa.create_engine(database_url(url))
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def test_migration_0004_keeps_every_instance_history_and_clock_both_ways(db_url: str) -> None:
    """Rebuilding the instance and history tables (and back) keeps every row: the hash chains still verify, the
    clocks still belong to their instances, and the cases go on where they were."""
    defs = DefinitionSet.load([WORKFLOWS / "gx" / "data_request.yaml"])
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    c, p = make_credit_code(1), make_credit_code(2)
    admin = Actor("consumer-admin", frozenset({"data_admin"}), c)
    reviewer = Actor("bureau-reviewer", frozenset({"bureau_reviewer"}))
    form = {"consumer_dept": c, "provider_dept": p, "resource_id": "GX-RES-000123", "resource_name": "人口基础信息",
            "purpose": "用于新生儿出生医学证明办理核验", "sharing_type": "conditional", "control_params": True}
    engine = Engine(open_store(db_url), defs, clock=clock)
    ids = [engine.start("gx.data_request", f"MIG-{i}", form, admin).id for i in range(3)]
    engine.fire(ids[0], "pass", reviewer, {})
    before = {i: (engine.get(i), engine.history(i), engine.clocks(i)) for i in ids}
    engine.close()

    _downgrade(db_url, "0003")
    with sa.create_engine(database_url(db_url)).connect() as conn:
        old = sa.Table("history", sa.MetaData(), autoload_with=conn)
        numbered = conn.execute(sa.select(old.c.id, old.c.instance_id, old.c.seq).order_by(old.c.id)).all()
    assert len({r.id for r in numbered}) == len(numbered) == sum(len(h) for _, h, _ in before.values())

    engine = Engine(open_store(db_url), defs, clock=clock)  # opening migrates to the head again
    after = {i: (engine.get(i), engine.history(i), engine.clocks(i)) for i in ids}
    checks = [engine.verify_history(i).ok for i in ids]
    moved = engine.fire(ids[1], "pass", reviewer, {})
    engine.close()
    assert after == before
    assert checks == [True, True, True]
    assert moved.state == before[ids[0]][0].state  # the second case takes the step the first took before


def test_sqlite_keeps_instances_and_history_in_their_keys_b_trees(tmp_path: Path) -> None:
    """On SQLite the migrations make instance and history WITHOUT ROWID tables and the clock indexes partial,
    over open clocks only (what keeps a command to a few pages; autogenerate does not compare these)."""
    open_store(str(tmp_path / "shape.db")).close()
    with sa.create_engine(database_url(str(tmp_path / "shape.db"))).connect() as conn:
        tables = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())
        indexes = dict(conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sla_clock'").all())
    assert tables["instance"].rstrip().endswith("WITHOUT ROWID")
    assert tables["history"].rstrip().endswith("WITHOUT ROWID")
    assert indexes["ix_sla_clock_open_due"].endswith("WHERE stopped_at IS NULL")
    assert indexes["ix_sla_clock_next"].endswith("WHERE next_fire_at IS NOT NULL")
    assert indexes["ix_sla_clock_instance"].endswith("(instance_id)")
