"""SLA clocks on real dates: warnings, breach and each escalation level exactly once; pauses; timer waits."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from storage.tables import outbox_t, sla_event_t, timer_t
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, REVIEWER, MakeEngine, flow_vars

WF = "common.test_flow"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def outbox(engine: Engine, instance_id: str) -> list[tuple[str, str]]:
    """(kind, dedupe key) of the instance's outbox rows."""
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(sa.select(outbox_t.c.kind, outbox_t.c.dedupe_key)
                            .where(outbox_t.c.instance_id == instance_id)).all()
    return sorted((r.kind, r.dedupe_key) for r in rows)


def sla_events(engine: Engine, instance_id: str) -> list[tuple[int, str, int]]:
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(sa.select(sla_event_t.c.clock_id, sla_event_t.c.kind, sla_event_t.c.level)
                            .where(sla_event_t.c.instance_id == instance_id)).all()
    return sorted((r.clock_id, r.kind, r.level) for r in rows)


def test_task_due_counts_working_days_after_the_start_day(engine: Engine) -> None:
    """Started Monday 2 March 2026: 5 WD end at 24:00 of Monday 9 March; the procedure's 10 WD on 16 March."""
    inst = engine.start(WF, "S-1", flow_vars(), CONSUMER_ADMIN)
    clocks = {c.scope: c for c in engine.clocks(inst.id)}
    assert clocks["task"].due_at == at(2026, 3, 10, 0, 0)
    assert clocks["task"].last_day == "2026-03-09"
    assert clocks["procedure"].due_at == at(2026, 3, 17, 0, 0)


def test_warning_breach_and_each_level_fire_once(engine: Engine, clock: ManualClock) -> None:
    """Ticks before, at and after each moment, repeated, yield one warning, one breach and one row per level."""
    inst = engine.start(WF, "S-2", flow_vars(), CONSUMER_ADMIN)
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    seen: list[str] = []
    engine.subscribe("*", lambda ev: seen.append(f"{ev.kind}:{ev.data.get('level', '')}"))

    engine.tick(at(2026, 3, 5, 12, 0))
    assert sla_events(engine, inst.id) == []
    for _ in range(2):
        engine.tick(at(2026, 3, 9, 12, 0))  # after the 1 WD warning, before the due time
    assert sla_events(engine, inst.id) == [(task.id, "warning", 1)]
    for _ in range(2):
        engine.tick(at(2026, 3, 10, 0, 1))  # just past the due time: breach and level 1 (after 0 WD)
    assert sla_events(engine, inst.id) == [(task.id, "breach", 0), (task.id, "escalation", 1), (task.id, "warning", 1)]
    engine.tick(at(2026, 3, 11, 23, 59))  # level 2 comes 2 WD after the due time: end of Wednesday 11 March
    assert (task.id, "escalation", 2) not in sla_events(engine, inst.id)
    for _ in range(2):
        engine.tick(at(2026, 3, 12, 0, 1))
    assert sla_events(engine, inst.id).count((task.id, "escalation", 2)) == 1
    assert seen == ["warning:1", "breach:0", "escalation:1", "escalation:2"]

    keys = outbox(engine, inst.id)
    assert ("warning", f"sla:{task.id}:warning:1:bob:email") in keys
    assert ("breach", f"sla:{task.id}:breach:0:bob:webhook") in keys
    assert ("escalation", f"sla:{task.id}:escalation:1:bob:email") in keys
    assert ("escalation", f"sla:{task.id}:escalation:2:erin:email") in keys
    assert len([k for k in keys if k[1].startswith(f"sla:{task.id}:")]) == 7  # bob 2 channels x 3, erin 1
    # SLA moments write no step and leave the instance's state and time as they were; each firing (the warning,
    # the due time with level 1, level 2) moves only its row version, so a command that read the clocks before
    # it fails rather than write them back (tests/engine/test_clock_races.py)
    after = engine.get(inst.id)
    assert (after.state, after.updated_at, after.history_seq) == (inst.state, inst.updated_at, inst.history_seq)
    assert after.row_version == inst.row_version + 3
    assert [o.clock.id for o in engine.overdue(at(2026, 3, 12, 0, 1))] == [task.id]
    assert engine.overdue(at(2026, 3, 12, 0, 1))[0].late_working_days == 2


def test_a_duplicate_escalation_timer_is_stopped_by_the_unique_key(engine: Engine) -> None:
    """Even a second pending timer for the same (clock, level) escalates once: the database refuses the repeat."""
    inst = engine.start(WF, "S-3", flow_vars(), CONSUMER_ADMIN)
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    engine.tick(at(2026, 3, 10, 0, 1))
    before = outbox(engine, inst.id)
    with engine.store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.insert(timer_t).values(instance_id=inst.id, clock_id=task.id, kind="escalate", level=1,
                                               fire_at=at(2026, 3, 10, 0, 0), status="pending", attempts=0))
    report = engine.tick(at(2026, 3, 10, 0, 2))
    assert report.skipped == 1
    assert outbox(engine, inst.id) == before


def test_leaving_the_task_in_time_meets_the_clock_and_cancels_its_timers(engine: Engine, clock: ManualClock) -> None:
    """A task done before its due time is met; no breach follows later."""
    inst = engine.start(WF, "S-4", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 9, 23, 0))
    engine.fire(inst.id, "refuse", AUDITOR, {"reason": "不符合条件"})
    engine.tick(at(2026, 3, 20, 0, 0))
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    assert (task.status, task.breached) == ("met", False)
    assert sla_events(engine, inst.id) == []


def test_a_late_task_is_breached_when_it_is_done(engine: Engine, clock: ManualClock) -> None:
    """Done after the due time without a tick in between: the clock closes as breached, its breach (and the level
    due with it) recorded and told in the same command, and nothing of it fires later."""
    inst = engine.start(WF, "S-5", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 10, 9, 0))
    engine.fire(inst.id, "refuse", AUDITOR, {"reason": "迟到"})
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    assert (task.status, task.breached, task.next_fire_at) == ("breached", True, None)
    assert sla_events(engine, inst.id) == [(task.id, "breach", 0), (task.id, "escalation", 1)]
    assert ("breach", f"sla:{task.id}:breach:0:bob:email") in outbox(engine, inst.id)
    engine.tick(at(2026, 4, 1, 0, 0))
    assert sla_events(engine, inst.id) == [(task.id, "breach", 0), (task.id, "escalation", 1)]


def test_schedule_gives_each_clock_its_ladder(engine: Engine) -> None:
    """The task's warning 1 WD before its due time, the due time, levels 0 and 2 WD after; the procedure's due
    time and level; all pending while the clocks run."""
    inst = engine.start(WF, "S-6", flow_vars(), CONSUMER_ADMIN)
    clocks = {c.scope: c for c in engine.clocks(inst.id)}
    ladder = [(m.scope, m.kind, m.level, m.at, m.pending) for m in engine.schedule(inst.id)]
    assert ladder == [
        # 1 WD before the end of Mon 9: the start of Mon 9, not midnight at the weekend after Fri 6
        ("task", "warn", 1, at(2026, 3, 9, 0, 0), True),
        ("task", "due", 0, clocks["task"].due_at, True),
        ("task", "escalate", 1, clocks["task"].due_at, True),
        ("task", "escalate", 2, at(2026, 3, 12, 0, 0), True),
        ("procedure", "due", 0, clocks["procedure"].due_at, True),
        ("procedure", "escalate", 1, clocks["procedure"].due_at, True),
    ]


def test_pause_extends_the_procedure_due_by_the_working_days_it_covered(make_engine: MakeEngine,
                                                                        clock: ManualClock) -> None:
    """Paused from Wed 29 April to Mon 11 May 2026 (Labour Day 1-5 May off, Sat 9 May worked): 6 WD added."""
    engine = make_engine()
    engine.register_hook("count_users", lambda variables: {"users": 2})
    clock.set(at(2026, 4, 29, 10, 0))
    inst = engine.start(WF, "P-1", flow_vars(), CONSUMER_ADMIN)
    proc = next(c for c in engine.clocks(inst.id) if c.scope == "procedure")
    # 10 WD from 29 April: 30 Apr, 6-9 May (9 May a make-up day), 11-15 May -> end of Friday 15 May
    assert proc.due_at == at(2026, 5, 16, 0, 0)
    clock.set(at(2026, 4, 29, 10, 5))
    assert engine.fire(inst.id, "approve", AUDITOR).state == "meeting"
    paused = next(c for c in engine.clocks(inst.id) if c.scope == "procedure")
    assert paused.status == "paused"
    assert engine.tick(at(2026, 5, 20, 0, 0)).fired == 0  # a paused clock does not breach
    clock.set(at(2026, 5, 11, 9, 0))
    engine.fire(inst.id, "settle", REVIEWER)
    resumed = next(c for c in engine.clocks(inst.id) if c.scope == "procedure")
    assert (resumed.status, resumed.paused_working_days) == ("running", 6)
    # 15 May + 6 WD: 18-22 May, 25 May -> end of Monday 25 May
    assert resumed.due_at == at(2026, 5, 26, 0, 0)
    ledger = engine.pauses(resumed.id)
    assert [(p.state, p.working_days) for p in ledger] == [("meeting", 6)]
    assert ledger[0].started_at == at(2026, 4, 29, 10, 5) and ledger[0].ended_at == at(2026, 5, 11, 9, 0)


def test_timer_transition_ends_publicity_by_itself(engine: Engine, clock: ManualClock) -> None:
    """The 10 WD publicity moves on when its time comes, not before, and only once."""
    inst = engine.start(WF, "T-1", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "approve", AUDITOR)  # Monday 2 March: publicity until the end of Monday 16 March
    assert engine.tick(at(2026, 3, 16, 23, 59)).fired == 0 or engine.get(inst.id).state == "publicity"
    assert engine.get(inst.id).state == "publicity"
    engine.tick(at(2026, 3, 17, 0, 0))
    done = engine.get(inst.id)
    assert (done.state, done.status, done.outcome) == ("done", "completed", "done")
    assert engine.history(inst.id)[-1].event == "_timer"
    assert engine.tick(at(2026, 3, 18, 0, 0)).fired == 0


def test_an_event_during_the_timer_wait_cancels_it(engine: Engine) -> None:
    """An objection during publicity leaves it; the publicity timer no longer fires."""
    inst = engine.start(WF, "T-2", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "approve", AUDITOR)
    engine.fire(inst.id, "object", CONSUMER_ADMIN)
    engine.tick(at(2026, 3, 17, 0, 0))
    assert engine.get(inst.id).state == "meeting"


def test_a_failing_hook_is_kept_and_retried_by_the_worker(make_engine: MakeEngine, clock: ManualClock) -> None:
    """The instance stays at the automatic step with the error; a later tick retries it and moves on."""
    engine = make_engine()
    calls: list[int] = []

    def flaky(variables: object) -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("resource registry unreachable")
        return {"users": 0}

    engine.register_hook("count_users", flaky)
    inst = engine.start(WF, "H-1", flow_vars(), CONSUMER_ADMIN)
    stuck = engine.fire(inst.id, "approve", AUDITOR)
    assert stuck.state == "check"
    assert "resource registry unreachable" in (stuck.last_error or "")
    hook_timer = next(t for t in engine.timers(inst.id) if t.kind == "hook")
    assert hook_timer.fire_at > clock.now()
    engine.tick(clock.now() + timedelta(seconds=1))
    assert engine.get(inst.id).state == "check"
    engine.tick(hook_timer.fire_at)
    moved = engine.get(inst.id)
    assert (moved.state, moved.last_error) == ("publicity", None)
    assert len(calls) == 2


def test_state_notifications_go_to_each_channel_of_each_person(engine: Engine) -> None:
    """on_enter of the review writes one row per channel of the provider's auditor, keyed by the history step."""
    inst = engine.start(WF, "N-1", flow_vars(), CONSUMER_ADMIN)
    seq = engine.history(inst.id)[-1].seq
    assert outbox(engine, inst.id) == [
        ("notification", f"state:{inst.id}:{seq}:task_assigned:bob:email"),
        ("notification", f"state:{inst.id}:{seq}:task_assigned:bob:webhook"),
    ]
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        data = conn.execute(sa.select(outbox_t.c.data).where(outbox_t.c.instance_id == inst.id)).scalars().first()
    import json

    fields = json.loads(data)
    for key in ("workflow_id", "workflow_name", "business_key", "instance_id", "state", "state_title", "department",
                "department_name", "assignee_role", "due", "late_by", "level", "what_to_do", "outcome", "kind"):
        assert key in fields, key
    assert (fields["state_title"], fields["department_name"]) == ("审查", "提供局")


def test_without_a_directory_no_outbox_rows_are_written(make_engine: MakeEngine) -> None:
    """A deployment without a directory still runs; it writes no notifications."""
    engine = make_engine(directory=None)
    inst = engine.start(WF, "N-2", flow_vars(), CONSUMER_ADMIN)
    assert outbox(engine, inst.id) == []


class CountingDispatcher:
    """Stands for the notifier's outbox dispatcher: records the moments it was asked to send at."""

    def __init__(self) -> None:
        self.calls: list[datetime] = []

    def dispatch(self, now: datetime) -> int:
        self.calls.append(now)
        return 3

    def request_stop(self) -> None:
        """Nothing is being sent between calls."""


def test_tick_dispatches_the_outbox_after_the_timers(make_engine: MakeEngine) -> None:
    """A configured dispatcher is called once per tick with the tick's moment, and its count is reported."""
    dispatcher = CountingDispatcher()
    engine = make_engine(dispatcher=dispatcher)
    report = engine.tick(at(2026, 3, 3, 9, 0))
    assert (report.dispatched, dispatcher.calls) == (3, [at(2026, 3, 3, 9, 0)])


def test_messages_carry_the_due_time_and_the_outcome(engine: Engine) -> None:
    """The assignment names the task's due time; the message of an end state names the outcome."""
    import json

    inst = engine.start(WF, "N-3", flow_vars(fast=True), CONSUMER_ADMIN)
    task = engine.start(WF, "N-4", flow_vars(), CONSUMER_ADMIN)
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        done = json.loads(conn.execute(sa.select(outbox_t.c.data).where(outbox_t.c.instance_id == inst.id))
                          .scalars().first())
        assigned = json.loads(conn.execute(sa.select(outbox_t.c.data).where(outbox_t.c.instance_id == task.id))
                              .scalars().first())
    assert (done["outcome"], done["state"]) == ("done", "done")
    assert assigned["due"] == "2026-03-10T00:00:00+08:00"


def test_a_task_done_after_its_recorded_breach_closes_breached_once(engine: Engine, clock: ManualClock) -> None:
    """Breached by the worker, then done: the clock closes as breached, with no second breach or level."""
    inst = engine.start(WF, "S-7", flow_vars(), CONSUMER_ADMIN)
    engine.tick(at(2026, 3, 10, 0, 1))
    before = sla_events(engine, inst.id)
    clock.set(at(2026, 3, 10, 9, 0))
    engine.fire(inst.id, "refuse", AUDITOR, {"reason": "迟到"})
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    assert (task.status, task.breached, task.stopped_at, task.next_fire_at) == ("breached", True, at(2026, 3, 10, 9, 0),
                                                                                None)
    assert sla_events(engine, inst.id) == before
