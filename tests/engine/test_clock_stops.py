"""How clocks stop, stand still and are judged late, the same on every path: a cancel, a suspension inside a
pausing state, a step at the due moment itself, the overdue list, a warning whose moment passed before the clock
started; and the tick's own arguments. Real dates of March 2026, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.errors import PayloadInvalid
from engine.runtime import SUSPENDED_PAUSE
from tests.engine.conftest import (
    AUDITOR,
    CONSUMER_ADMIN,
    FLOW,
    REVIEWER,
    SUPERVISOR,
    MakeEngine,
    flow_vars,
    sla_told,
)

WF = "common.test_flow"

#: The test flow with the review's own clock standing still in `meeting`, and a way there and back.
PAUSE_FLOW = (
    FLOW.replace("id: common.test_flow", "id: common.task_pause_flow")
    .replace("""        - {level: 2, after: 2 WD, notify: [bureau.data_supervisor]}
    on_enter""", """        - {level: 2, after: 2 WD, notify: [bureau.data_supervisor]}
      pause_in: [meeting]
    on_enter""")
    .replace("  - {event: settle, from: meeting", """\
  - {event: consult, from: review, to: meeting, role: consumer.data_admin}
  - {event: back, from: meeting, to: review, role: bureau.reviewer}
  - {event: settle, from: meeting""")
)
assert "pause_in: [meeting]\n    on_enter" in PAUSE_FLOW and "event: consult" in PAUSE_FLOW

#: The test flow with a one-working-day review warned 12 and 2 working hours before its due time.
WARN_FLOW = (FLOW.replace("id: common.test_flow", "id: common.warn_flow")
             .replace("      due: 5 WD\n      warn_before: [1 WD]",
                      "      due: 1 WD\n      warn_before: [12 WH, 2 WH]"))
assert "warn_before: [12 WH, 2 WH]" in WARN_FLOW

#: The review, started Monday 2 March 10:00, is due at 24:00 on Monday 9 March (5 WD); level 2 at 24:00 on
#: Wednesday 11 March. The procedure (10 WD) is due at 24:00 on Monday 16 March.
REVIEW_DUE = datetime(2026, 3, 10, 0, 0, tzinfo=SHANGHAI)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def by_scope(engine: Engine, instance_id: str) -> dict[str, object]:
    return {c.scope: c for c in engine.clocks(instance_id)}


def test_resuming_leaves_a_task_clock_its_state_holds_paused(make_engine: MakeEngine, clock: ManualClock) -> None:
    """Suspended and resumed in the meeting its review's clock stands still in, the clock stays paused: three
    weeks of meeting bring no warning, breach or escalation, and back in the review it counts on, the meeting's
    19 working days added (4 March to 30 March)."""
    engine = make_engine(flow=PAUSE_FLOW)
    told = sla_told(engine)
    inst = engine.start("common.task_pause_flow", "TP-1", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 3, 10, 0))
    assert engine.fire(inst.id, "consult", CONSUMER_ADMIN).state == "meeting"
    clock.set(at(2026, 3, 4, 10, 0))
    engine.suspend(inst.id, SUPERVISOR)
    clock.set(at(2026, 3, 5, 10, 0))
    engine.resume(inst.id, SUPERVISOR)
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    assert (task.status, task.next_fire_at) == ("paused", None)
    for day in range(6, 31):
        engine.tick(at(2026, 3, day, 12, 0))
    assert told == []

    clock.set(at(2026, 3, 30, 10, 0))
    assert engine.fire(inst.id, "back", REVIEWER).state == "review"
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    assert (task.status, task.paused_working_days) == ("running", 19)
    assert task.due_at == at(2026, 4, 4, 0, 0)  # 9 March + 19 WD: 24:00 on Friday 3 April
    assert [(p.state, p.working_days) for p in engine.pauses(task.id)] == [("meeting", 19)]


def test_a_cancel_after_the_due_time_records_the_breach_no_tick_saw(engine: Engine, clock: ManualClock) -> None:
    """Cancelled on Friday 13 March with the worker down since the start: the review's breach and both levels
    are recorded and told once, as a late step would have them; the procedure, not yet due, is cancelled."""
    told = sla_told(engine)
    inst = engine.start(WF, "CB-1", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 13, 10, 0))
    engine.cancel(inst.id, SUPERVISOR, "申请撤回")
    clocks = by_scope(engine, inst.id)
    task, proc = clocks["task"], clocks["procedure"]
    assert [(c.status, c.breached, c.stopped_at) for c in (task, proc)] == [  # type: ignore[attr-defined]
        ("breached", True, at(2026, 3, 13, 10, 0)), ("cancelled", False, at(2026, 3, 13, 10, 0))]
    assert told == [(task.id, "breach", 0), (task.id, "escalation", 1), (task.id, "escalation", 2)]  # type: ignore[attr-defined]
    assert engine.tick(at(2026, 3, 20, 10, 0)).fired == 0
    assert len(told) == 3


def test_a_cancel_in_time_leaves_no_breach(engine: Engine, clock: ManualClock) -> None:
    told = sla_told(engine)
    inst = engine.start(WF, "CB-2", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 9, 23, 59))
    engine.cancel(inst.id, SUPERVISOR)
    assert {c.status for c in engine.clocks(inst.id)} == {"cancelled"}
    assert told == []


def test_cancelling_a_suspended_instance_ends_its_pauses_in_the_ledger(engine: Engine, clock: ManualClock) -> None:
    """Suspended Tuesday 3 March, cancelled Thursday 5 March: each clock's pause ends then, 2 WD counted."""
    inst = engine.start(WF, "CS-1", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 3, 10, 0))
    engine.suspend(inst.id, SUPERVISOR)
    clock.set(at(2026, 3, 5, 10, 0))
    engine.cancel(inst.id, SUPERVISOR)
    for c in engine.clocks(inst.id):
        assert (c.status, c.stopped_at, c.paused_since) == ("cancelled", at(2026, 3, 5, 10, 0), None)
        assert [(p.state, p.ended_at, p.working_days) for p in engine.pauses(c.id)] == [
            (SUSPENDED_PAUSE, at(2026, 3, 5, 10, 0), 2)]


def test_a_cancel_from_a_clock_behind_stops_the_clocks_at_the_last_step(engine: Engine, clock: ManualClock) -> None:
    """A node whose clock is a day behind the suspension cancels: the clocks stop, and the pause ends, at the
    time the cancel is recorded (the last step's), never before the pause began."""
    inst = engine.start(WF, "CS-2", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 4, 10, 0))
    engine.suspend(inst.id, SUPERVISOR)
    clock.set(at(2026, 3, 3, 10, 0))
    engine.cancel(inst.id, SUPERVISOR)
    recorded = engine.history(inst.id)[-1].at
    assert recorded == at(2026, 3, 4, 10, 0)
    for c in engine.clocks(inst.id):
        assert c.stopped_at == recorded
        assert [(p.ended_at, p.working_days) for p in engine.pauses(c.id)] == [(recorded, 0)]


def test_a_step_at_the_due_moment_is_late_on_every_path(make_engine: MakeEngine, clock: ManualClock) -> None:
    """The due time is the first late moment: a review approved at 24:00 on 9 March exactly is breached (and
    told), as the tick would have it; one microsecond earlier it is met."""
    engine = make_engine()
    told = sla_told(engine)
    late = engine.start(WF, "DM-1", flow_vars(), CONSUMER_ADMIN)
    in_time = engine.start(WF, "DM-2", flow_vars(), CONSUMER_ADMIN)
    clock.set(REVIEW_DUE - timedelta(microseconds=1))
    engine.fire(in_time.id, "approve", AUDITOR)
    clock.set(REVIEW_DUE)
    engine.fire(late.id, "approve", AUDITOR)
    late_task = by_scope(engine, late.id)["task"]
    assert (late_task.status, late_task.breached) == ("breached", True)  # type: ignore[attr-defined]
    assert (late_task.id, "breach", 0) in told  # type: ignore[attr-defined]
    assert by_scope(engine, in_time.id)["task"].status == "met"  # type: ignore[attr-defined]


def test_the_overdue_list_leaves_out_clocks_standing_still(engine: Engine, clock: ManualClock) -> None:
    """On Friday 13 March, with no tick since the start: the running case's review is overdue; the case suspended
    on 3 March is not (its due times will move on), unless its review was late before it was suspended."""
    engine.start(WF, "OD-1", flow_vars(), CONSUMER_ADMIN)
    suspended = engine.start(WF, "OD-2", flow_vars(), CONSUMER_ADMIN)
    late_then_suspended = engine.start(WF, "OD-3", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 3, 10, 0))
    engine.suspend(suspended.id, SUPERVISOR)
    clock.set(at(2026, 3, 11, 10, 0))
    engine.suspend(late_then_suspended.id, SUPERVISOR)  # past the review's due time: its breach happens first
    listed = [(item.instance.business_key, item.clock.scope) for item in engine.overdue(at(2026, 3, 13, 10, 0))]
    assert listed == [("OD-1", "task"), ("OD-3", "task")]
    at_due = engine.overdue(REVIEW_DUE)  # the due moment itself is late, 0 working days
    assert [(item.instance.business_key, item.late_working_days) for item in at_due] == [("OD-1", 0), ("OD-3", 0)]


def test_a_warning_already_past_when_the_clock_started_is_never_sent(make_engine: MakeEngine,
                                                                      clock: ManualClock) -> None:
    """A 1 WD review started at 14:00 on Monday 2 March is due at 24:00 on Tuesday: its 12 WH warning was due
    before it started, so only the 2 WH warning (15:00 on Tuesday) is sent, as the schedule shows."""
    engine = make_engine(flow=WARN_FLOW)
    warned: list[int] = []
    engine.subscribe("warning", lambda e: warned.append(e.data["level"]))
    clock.set(at(2026, 3, 2, 14, 0))
    inst = engine.start("common.warn_flow", "WN-1", flow_vars(), CONSUMER_ADMIN)
    scheduled = [m.level for m in engine.schedule(inst.id) if m.kind == "warn"]
    engine.tick(at(2026, 3, 3, 15, 0))
    assert warned == scheduled == [2]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"batch": 0}, "batch"), ({"batch": -1}, "batch"), ({"batch": "10"}, "batch"), ({"batch": True}, "batch"),
    ({"max_batches": 0}, "max_batches"), ({"max_batches": 1.5}, "max_batches"),
])
def test_a_tick_refuses_a_batch_it_could_not_finish(engine: Engine, kwargs: dict[str, object], field: str) -> None:
    """A batch of 0 would never come back short of full, so the sweep would never end."""
    with pytest.raises(PayloadInvalid) as caught:
        engine.tick(at(2026, 3, 2, 12, 0), **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize("moment", [datetime(9999, 12, 31, 23, 0, tzinfo=SHANGHAI),
                                    datetime(1, 1, 2, 0, 0, tzinfo=SHANGHAI)])
def test_a_moment_at_the_ends_of_time_is_refused_by_name(engine: Engine, moment: datetime) -> None:
    engine.start(WF, "ET-1", flow_vars(), CONSUMER_ADMIN)
    for call in (engine.overdue, engine.tick):
        with pytest.raises(PayloadInvalid) as caught:
            call(moment)
        assert caught.value.field == "now"
