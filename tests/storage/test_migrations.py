"""The Alembic migrations build exactly the schema the table classes describe, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from engine.history import GENESIS, step_hash
from storage import open_store
from storage.migrate import downgrade, upgrade
from storage.sql import database_url
from storage.tables import METADATA, clock_t, history_t, instance_t
from storage.tx import clock_list

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
        old_instance, old_clock, old_timer = (sa.Table(name, sa.MetaData(), autoload_with=conn)
                                              for name in ("instance", "sla_clock", "timer"))
        conn.execute(sa.insert(old_instance), [dict(
            id="i1", workflow_id="w", version="v1", business_key="k1", state="review", variables="{}",
            status="running", outcome=None, row_version=1, history_seq=0, history_hash="", last_error=None,
            created_at=early, updated_at=early)])
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
    downgrade(engine, revision)
    engine.dispose()


DEFS = [WORKFLOWS / "gx" / "data_request.yaml"]
CONSUMER, PROVIDER = make_credit_code(1), make_credit_code(2)
ADMIN = Actor("consumer-admin", frozenset({"data_admin"}), CONSUMER)
REVIEWER = Actor("bureau-reviewer", frozenset({"bureau_reviewer"}))
FORM = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "GX-RES-000123",
        "resource_name": "人口基础信息", "purpose": "用于新生儿出生医学证明办理核验", "sharing_type": "conditional",
        "control_params": True}


def _as_written_before_0006(url: str) -> None:
    """Rewrite every history as revision 0005 wrote it: no actor role or department, each step hashed over the
    nine-element body (pinned to the chain's definition by tests/engine/test_history.py), the instances' last
    hashes following."""
    engine = sa.create_engine(database_url(url))
    with engine.begin() as conn:
        rows = conn.execute(sa.select(history_t).order_by(history_t.c.instance_id, history_t.c.seq)).all()
        prev: dict[str, str] = {}
        for r in rows:
            at = r.at if r.at.tzinfo is not None else r.at.replace(tzinfo=UTC)  # SQLite's text comes back naive
            before = prev.get(r.instance_id, GENESIS)
            digest = step_hash(before, r.instance_id, r.seq, at, r.actor, r.event, r.from_state, r.to_state,
                               json.loads(r.payload))
            conn.execute(sa.update(history_t).where((history_t.c.instance_id == r.instance_id)
                                                    & (history_t.c.seq == r.seq))
                         .values(prev_hash=before, hash=digest, actor_role=None, actor_department=None))
            prev[r.instance_id] = digest
        for instance_id, digest in prev.items():
            conn.execute(sa.update(instance_t).where(instance_t.c.id == instance_id).values(history_hash=digest))
    engine.dispose()


def test_migration_0004_keeps_every_instance_history_and_clock_both_ways(db_url: str) -> None:
    """Rebuilding the instance and history tables (and back) keeps every row: the hash chains still verify, the
    clocks still belong to their instances, and the cases go on where they were."""
    defs = DefinitionSet.load(DEFS)
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    engine = Engine(open_store(db_url), defs, clock=clock)
    ids = [engine.start("gx.data_request", f"MIG-{i}", FORM, ADMIN).id for i in range(3)]
    engine.fire(ids[0], "pass", REVIEWER, {})
    engine.close()
    _as_written_before_0006(db_url)  # what revision 0003 can hold
    engine = Engine(open_store(db_url), defs, clock=clock)
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
    moved = engine.fire(ids[1], "pass", REVIEWER, {})
    engine.close()
    assert after == before
    assert checks == [True, True, True]
    assert moved.state == before[ids[0]][0].state  # the second case takes the step the first took before


def test_migration_0006_keeps_histories_written_before_it_verifying(db_url: str) -> None:
    """A database of revision 0005 migrates with its histories intact: the old steps carry no role or department
    and still verify, and a step taken after the upgrade records both and chains onto them."""
    defs = DefinitionSet.load(DEFS)
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    engine = Engine(open_store(db_url), defs, clock=clock)
    inst = engine.start("gx.data_request", "MIG-6", FORM, ADMIN)
    engine.close()
    _as_written_before_0006(db_url)
    _downgrade(db_url, "0005")
    with sa.create_engine(database_url(db_url)).connect() as conn:
        old_columns = {c["name"] for c in sa.inspect(conn).get_columns("history")}
        # on SQLite the history stays in its key's B-tree both ways (no batch rebuild of the table)
        kept_shape = conn.dialect.name != "sqlite" or conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'history'").scalar_one().rstrip().endswith("WITHOUT ROWID")

    engine = Engine(open_store(db_url), defs, clock=clock)  # opening migrates to the head again
    migrated = engine.history(inst.id)
    migrated_check = engine.verify_history(inst.id)
    engine.fire(inst.id, "pass", REVIEWER, {})
    after = engine.history(inst.id)
    after_check = engine.verify_history(inst.id)
    engine.close()
    assert "actor_role" not in old_columns and "actor_department" not in old_columns
    assert kept_shape
    assert [(h.actor_role, h.actor_department) for h in migrated] == [(None, None)] * len(migrated)
    assert migrated_check.ok
    assert (after[-1].actor, after[-1].actor_role, after[-1].actor_department) == \
        (REVIEWER.id, "bureau.reviewer", None)
    assert after_check.ok and after_check.steps == len(migrated) + 1


def test_migration_0006_refuses_to_downgrade_a_history_recording_roles(db_url: str) -> None:
    """Going back below 0006 would drop recorded roles and break their chains: refused, and nothing dropped."""
    engine = Engine(open_store(db_url), DefinitionSet.load(DEFS),
                    clock=ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))
    inst = engine.start("gx.data_request", "MIG-6D", FORM, ADMIN)
    engine.close()
    with pytest.raises(RuntimeError) as refused:
        _downgrade(db_url, "0005")
    engine = Engine(open_store(db_url), DefinitionSet.load(DEFS))
    kept = engine.history(inst.id)[0]
    check = engine.verify_history(inst.id)
    engine.close()
    assert "break those instances' hash chains" in str(refused.value)
    assert (kept.actor_role, kept.actor_department, check.ok) == ("consumer.data_admin", CONSUMER, True)


def test_migration_0007_refuses_to_downgrade_sealed_history_and_keeps_the_schema_whole(db_url: str) -> None:
    """Below 0007 a sealed step could not say it is sealed: refused, and a downgrade of several revisions that one
    of them refuses leaves every revision in place (one transaction on both databases)."""
    from engine.history_keys import HistoryKeyring

    keyring = HistoryKeyring.of(bytes(range(32)))
    engine = Engine(open_store(db_url), DefinitionSet.load(DEFS), history_keys=keyring,
                    clock=ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))
    inst = engine.start("gx.data_request", "MIG-7", FORM, ADMIN)
    engine.close()
    with pytest.raises(RuntimeError) as refused:
        _downgrade(db_url, "0006")
    engine = Engine(open_store(db_url), DefinitionSet.load(DEFS), history_keys=keyring)
    check = engine.verify_history(inst.id)
    engine.close()
    assert "sealed with a history key" in str(refused.value)
    assert (check.ok, check.sealed) == (True, check.steps)


def test_migration_0008_gives_clocks_their_failed_tries_both_ways(db_url: str) -> None:
    """Clocks written before 0008 read with no failed tries and no error; going back below it drops only a
    failing moment's tries and error, and the moment is still due, claimed by nobody."""
    engine = Engine(open_store(db_url), DefinitionSet.load(DEFS),
                    clock=ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))
    inst = engine.start("gx.data_request", "MIG-8", FORM, ADMIN)
    before = engine.clocks(inst.id)
    failing = next(c for c in before if c.next_fire_at is not None)
    assert failing.next_fire_at is not None
    engine.store.release_clock(failing.id, failing.next_fire_at, None, 2, "LDAP: no answer")
    engine.close()

    _downgrade(db_url, "0007")
    with sa.create_engine(database_url(db_url)).connect() as conn:
        old_columns = {c["name"] for c in sa.inspect(conn).get_columns("sla_clock")}
    store = open_store(db_url)  # opening migrates to the head again
    after = store.clocks(inst.id)
    due = store.claim_clocks(failing.next_fire_at, "w1", 120, 10)
    store.close()
    assert "fire_attempts" not in old_columns and "last_error" not in old_columns
    assert after == before
    assert [c.id for c in due] == [failing.id]


def test_sqlite_keeps_instances_and_history_in_their_keys_b_trees(tmp_path: Path) -> None:
    """On SQLite the migrations make instance a WITHOUT ROWID table, history a table keyed by its rowid alone (no
    index beside it), the clock indexes partial, over open clocks only, and the clock table keeps its rule (what
    keeps a command to a few pages; autogenerate does not compare these)."""
    open_store(str(tmp_path / "shape.db")).close()
    with sa.create_engine(database_url(str(tmp_path / "shape.db"))).connect() as conn:
        tables = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())
        indexes = dict(conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sla_clock'").all())
        history_indexes = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'history'").all()
        conn.exec_driver_sql("INSERT INTO history (hid, instance_id, seq, at, actor, event, to_state, payload, "
                             "prev_hash, hash) VALUES (1048577, 'i', 1, '', '', '', '', '{}', '', '')")
        rowid = conn.exec_driver_sql("SELECT rowid FROM history WHERE hid = 1048577").scalar()
    assert tables["instance"].rstrip().endswith("WITHOUT ROWID")
    assert "hid INTEGER NOT NULL" in tables["history"] and "PRIMARY KEY (hid)" in tables["history"]
    assert history_indexes == [] and rowid == 1048577  # the key is the rowid: one B-tree
    assert indexes["ix_sla_clock_next"].endswith("WHERE next_fire_at IS NOT NULL")
    assert indexes["ix_sla_clock_breached"].endswith("WHERE stopped_at IS NULL AND breached = 1")
    assert indexes["ix_sla_clock_provisional"].endswith("WHERE stopped_at IS NULL AND provisional = 1")
    # none by instance (its row lists them), none of every open clock (the rule below stands for it)
    assert set(indexes) == {"ix_sla_clock_next", "ix_sla_clock_breached", "ix_sla_clock_provisional"}
    assert "CONSTRAINT ck_sla_clock_next_by_due CHECK" in tables["sla_clock"]


def test_migration_0010_a_database_from_before_records_the_policy_at_its_first_open(db_url: str) -> None:
    """A database of revision 0009 has no record of its deadline policy: the first engine after the upgrade records
    its own and keeps the cases as they were, and an engine given another is refused from then on."""
    from calendars import DeadlinePolicy
    from engine import DeadlinePolicyMismatch
    from engine.policy_check import SETTING, policy_text

    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    engine = Engine(open_store(db_url), DefinitionSet.load(DEFS), clock=clock)
    inst = engine.start("gx.data_request", "MIG-10", FORM, ADMIN)
    engine.close()
    _downgrade(db_url, "0009")
    with sa.create_engine(database_url(db_url)).connect() as conn:
        old_tables = set(sa.inspect(conn).get_table_names())

    hours = DeadlinePolicy(business_hours=(time(9), time(17, 30)))
    engine = Engine(open_store(db_url), DefinitionSet.load(DEFS), clock=clock, deadline_policy=hours)
    recorded = engine.store.setting(SETTING)
    kept = engine.get(inst.id)
    engine.close()
    store = open_store(db_url)
    with pytest.raises(DeadlinePolicyMismatch):
        Engine(store, DefinitionSet.load(DEFS), clock=clock)
    store.close()
    assert "deployment_setting" not in old_tables and "instance" in old_tables
    assert recorded is not None and recorded.value == policy_text(hours)
    assert kept.state == inst.state


def _three_requests(db_url: str, tag: str, passed: int) -> tuple[Engine, DefinitionSet, ManualClock, list[str]]:
    """An engine on the database with three data requests started, the one at `passed` past its review."""
    defs = DefinitionSet.load(DEFS)
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    engine = Engine(open_store(db_url), defs, clock=clock)
    ids = [engine.start("gx.data_request", f"{tag}-{i}", FORM, ADMIN).id for i in range(3)]
    engine.fire(ids[passed], "pass", REVIEWER, {})
    return engine, defs, clock, ids


def test_migration_0012_lists_each_instance_clocks_on_its_row_both_ways(db_url: str) -> None:
    """Downgraded to 0011 the clocks are found by the index on their instance again; upgraded, each instance's row
    lists its clocks (filled from that index, oldest first), and the cases go on: a step stops the task's clock
    and starts the next one's."""
    engine, defs, clock, ids = _three_requests(db_url, "MIG-12", passed=0)
    before = {i: engine.clocks(i) for i in ids}
    engine.close()

    _downgrade(db_url, "0011")
    with sa.create_engine(database_url(db_url)).connect() as conn:
        old_columns = {c["name"] for c in sa.inspect(conn).get_columns("instance")}
        old_indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("sla_clock")}

    engine = Engine(open_store(db_url), defs, clock=clock)  # opening migrates to the head again
    after = {i: engine.clocks(i) for i in ids}
    with engine.store.engine.connect() as conn:
        listed = dict(conn.execute(sa.select(instance_t.c.id, instance_t.c.clock_ids)).all())
    engine.fire(ids[1], "pass", REVIEWER, {})
    moved = engine.clocks(ids[1])
    engine.close()
    assert "clock_ids" not in old_columns and "ix_sla_clock_instance" in old_indexes
    assert after == before and [len(c) for c in after.values()] == [2, 1, 1]
    assert listed == {i: clock_list([c.id for c in before[i]]) for i in ids}
    assert [(c.state, c.status) for c in moved] == [("normative_review", "met"), ("provider_approval", "running")]


def test_migration_0013_arms_every_open_clock_by_its_due_time_both_ways(db_url: str) -> None:
    """Downgraded to 0012, a running clock with no next moment (what no path writes, but an older database may
    hold) is accepted and the index of all open clocks is back. Upgraded, that clock is armed at its due time:
    the overdue list finds it, unticked, beside a breached one, and the next tick records its breach. From then
    on the database refuses a clock armed after its due time."""
    defs = DefinitionSet.load(DEFS)
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    engine = Engine(open_store(db_url), defs, clock=clock)
    breached = engine.start("gx.data_request", "MIG-13-A", FORM, ADMIN).id
    clock.advance(timedelta(days=30))
    engine.tick()
    unarmed = engine.start("gx.data_request", "MIG-13-B", FORM, ADMIN).id
    engine.close()

    _downgrade(db_url, "0012")
    db = sa.create_engine(database_url(db_url))
    with db.begin() as conn:
        conn.execute(sa.update(clock_t).where(clock_t.c.instance_id == unarmed)
                     .values(next_fire_at=None, next_kind=None, next_level=0))
        old_indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("sla_clock")}
        old_checks = {ck["name"] for ck in sa.inspect(conn).get_check_constraints("sla_clock")}
    db.dispose()

    engine = Engine(open_store(db_url), defs, clock=clock)  # opening migrates to the head again
    [armed] = engine.clocks(unarmed)
    clock.advance(timedelta(days=30))
    listed = [(item.instance.id, item.clock.breached) for item in engine.overdue()]
    engine.tick()
    [after_tick] = engine.clocks(unarmed)
    with pytest.raises(sa.exc.IntegrityError), engine.store.engine.begin() as conn:
        conn.execute(sa.update(clock_t).where(clock_t.c.id == after_tick.id)
                     .values(breached=False, status="running", next_fire_at=after_tick.due_at + timedelta(days=1)))
    engine.close()
    assert "ix_sla_clock_open_due" in old_indexes and "ix_sla_clock_breached" not in old_indexes
    assert "ck_sla_clock_next_by_due" not in old_checks
    assert (armed.next_fire_at, armed.next_kind, armed.breached) == (armed.due_at, "due", False)
    assert listed == [(breached, True), (unarmed, False)]  # most overdue first
    assert after_tick.breached and after_tick.next_fire_at != armed.due_at


def test_migration_0014_keys_each_step_by_its_instance_number_both_ways(db_url: str) -> None:
    """Downgraded to 0013 the history is keyed by (instance, step) and instances have no number; upgraded, each
    instance is numbered in the order of its id, each step keyed by that number and its step number, every
    history reads and verifies as before, and the next case takes the next number."""
    engine, defs, clock, ids = _three_requests(db_url, "MIG-14", passed=1)
    before = {i: engine.history(i) for i in ids}
    engine.close()

    _downgrade(db_url, "0013")
    with sa.create_engine(database_url(db_url)).connect() as conn:
        old_columns = {c["name"] for c in sa.inspect(conn).get_columns("history")}
        old_key = sa.inspect(conn).get_pk_constraint("history")["constrained_columns"]

    engine = Engine(open_store(db_url), defs, clock=clock)  # opening migrates to the head again
    after = {i: engine.history(i) for i in ids}
    verified = [engine.verify_history(i).ok for i in ids]
    engine.fire(ids[0], "pass", REVIEWER, {})
    later = engine.start("gx.data_request", "MIG-14-later", FORM, ADMIN).id
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        numbers = dict(conn.execute(sa.select(instance_t.c.id, instance_t.c.ordinal)).all())
        keys = conn.execute(sa.select(history_t.c.hid, history_t.c.instance_id, history_t.c.seq)).all()
    moved = engine.history(ids[0])
    engine.close()
    assert "hid" not in old_columns and old_key == ["instance_id", "seq"]
    assert after == before and verified == [True, True, True]
    assert [numbers[i] for i in sorted(ids)] == [1, 2, 3] and numbers[later] == 4
    assert all(hid == (numbers[iid] << 20) | seq for hid, iid, seq in keys)
    assert [step.seq for step in moved] == list(range(1, len(before[ids[0]]) + 2))


def test_migration_0014_refuses_a_step_of_no_instance_and_changes_nothing(db_url: str) -> None:
    """A history step whose instance is gone cannot be numbered: the upgrade stops, naming the count and what to
    do, and the database stays at 0013 with every step in place."""
    engine = Engine(open_store(db_url), DefinitionSet.load(DEFS),
                    clock=ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))
    engine.start("gx.data_request", "MIG-14-ORPHAN", FORM, ADMIN)
    engine.close()
    _downgrade(db_url, "0013")
    db = sa.create_engine(database_url(db_url))
    with db.begin() as conn:
        conn.execute(sa.text("INSERT INTO history (instance_id, seq, at, actor, event, to_state, payload, prev_hash, "
                             "hash) VALUES ('0' , 1, :at, 'a', 'start', 'route', '{}', '', '')"),
                     {"at": datetime(2026, 3, 2, 2, 0, tzinfo=UTC)})
    with pytest.raises(RuntimeError, match="1 history steps belong to no instance"):
        upgrade(db)
    with db.connect() as conn:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        steps = conn.execute(sa.text("SELECT count(*) FROM history")).scalar_one()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("instance")}
    db.dispose()
    assert revision == "0013" and "ordinal" not in columns
    assert steps == 3  # the instance's two steps (start, the first decision) and the orphan
