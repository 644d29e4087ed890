"""Suspension (中止) stops an instance's time: clocks pause with a ledger row and move their due time on by the
working days suspended; timer rows are held, not polled. Nothing stays armed for a finished instance."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine import CalendarYearMissing, Engine, ManualClock
from engine.clock import SHANGHAI
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


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def armed(engine: Engine, instance_id: str) -> list[str]:
    """What could still fire for the instance: clocks with a next moment, timer rows pending or held."""
    out = [f"clock {c.id} {c.next_kind}" for c in engine.clocks(instance_id) if c.next_fire_at is not None]
    out += [f"timer {t.id} {t.kind} {t.status}" for t in engine.timers(instance_id) if t.status in ("pending", "held")]
    return out


def test_suspension_pauses_the_clocks_and_resuming_extends_them(engine: Engine, clock: ManualClock) -> None:
    """Suspended Tue 3 to Thu 5 March (2 WD): no breach while suspended; both due times move on by 2 WD."""
    inst = engine.start(WF, "SU-1", flow_vars(), CONSUMER_ADMIN)
    before = {c.scope: c for c in engine.clocks(inst.id)}
    clock.set(at(2026, 3, 3, 10, 0))
    engine.suspend(inst.id, SUPERVISOR, "材料待补")
    paused = {c.scope: c for c in engine.clocks(inst.id)}
    assert [(c.status, c.next_fire_at) for c in paused.values()] == [("paused", None), ("paused", None)]
    assert engine.tick(at(2026, 4, 30, 0, 0)).fired == 0  # far past both due times: nothing fires

    clock.set(at(2026, 3, 5, 10, 0))
    engine.resume(inst.id, SUPERVISOR)
    after = {c.scope: c for c in engine.clocks(inst.id)}
    assert [c.status for c in after.values()] == ["running", "running"]
    # task 5 WD: end of Mon 9 March + 2 WD -> end of Wed 11 March; procedure end of Mon 16 + 2 WD -> Wed 18
    assert (after["task"].due_at, after["procedure"].due_at) == (at(2026, 3, 12, 0, 0), at(2026, 3, 19, 0, 0))
    assert after["task"].due_at > before["task"].due_at
    assert (after["task"].next_kind, after["task"].paused_working_days) == ("warn", 2)
    ledger = engine.pauses(after["task"].id)
    assert [(p.state, p.working_days, p.ended_at) for p in ledger] == [(SUSPENDED_PAUSE, 2, at(2026, 3, 5, 10, 0))]


def test_a_suspended_timer_wait_is_held_and_moves_on_after_resuming(engine: Engine, clock: ManualClock) -> None:
    """The publicity timer of a suspended instance is held: a tick after its moment leaves the instance where it is;
    once resumed, the next tick moves it on."""
    inst = engine.start(WF, "SU-2", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "approve", AUDITOR)  # publicity until the end of Monday 16 March
    engine.suspend(inst.id, SUPERVISOR)
    assert [t.status for t in engine.timers(inst.id) if t.kind == "timer"] == ["held"]
    report = engine.tick(at(2026, 3, 20, 0, 0))
    assert (report.fired, engine.get(inst.id).state) == (0, "publicity")

    clock.set(at(2026, 3, 20, 9, 0))
    engine.resume(inst.id, SUPERVISOR)
    engine.tick(at(2026, 3, 20, 9, 1))
    assert (engine.get(inst.id).state, engine.get(inst.id).status) == ("done", "completed")


def test_a_procedure_clock_paused_by_its_state_stays_paused_over_a_suspension(make_engine: MakeEngine,
                                                                              clock: ManualClock) -> None:
    """Suspended and resumed inside a pausing state, the procedure clock is still paused by that state."""
    engine = make_engine()
    engine.register_hook("count_users", lambda variables: {"users": 2})
    inst = engine.start(WF, "SU-3", flow_vars(), CONSUMER_ADMIN)
    assert engine.fire(inst.id, "approve", AUDITOR).state == "meeting"
    engine.suspend(inst.id, SUPERVISOR)
    clock.set(at(2026, 3, 4, 10, 0))
    engine.resume(inst.id, SUPERVISOR)
    proc = next(c for c in engine.clocks(inst.id) if c.scope == "procedure")
    assert (proc.status, proc.next_fire_at) == ("paused", None)
    assert [p.state for p in engine.pauses(proc.id)] == ["meeting"]


def test_leaving_the_last_pausing_state_straight_to_the_end_leaves_nothing_armed(make_engine: MakeEngine,
                                                                                 clock: ManualClock) -> None:
    """A meeting that closes the case at once: the resumed procedure clock stops in the same command, and no
    clock or timer is left to fire."""
    closing = FLOW.replace("transitions:\n", "transitions:\n  - {event: close, from: meeting, to: done, "
                           "role: bureau.reviewer}\n")
    engine = make_engine(flow=closing)
    engine.register_hook("count_users", lambda variables: {"users": 2})
    inst = engine.start(WF, "SU-4", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "approve", AUDITOR)
    clock.set(at(2026, 3, 4, 10, 0))
    done = engine.fire(inst.id, "close", REVIEWER)
    assert done.status == "completed"
    assert armed(engine, inst.id) == []
    assert [c.stopped_at is not None for c in engine.clocks(inst.id)] == [True, True]
    assert engine.tick(at(2026, 6, 1, 0, 0)).fired == 0


def test_cancelling_a_suspended_instance_leaves_nothing_armed(engine: Engine) -> None:
    """Cancelled while suspended at the timer wait: its held timer and paused clock are both gone."""
    inst = engine.start(WF, "SU-5", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "approve", AUDITOR)
    engine.suspend(inst.id, SUPERVISOR)
    engine.cancel(inst.id, SUPERVISOR, "撤回")
    assert engine.get(inst.id).status == "cancelled"
    assert armed(engine, inst.id) == []


def test_a_clock_suspended_past_its_due_time_unseen_breaches_at_the_suspension(engine: Engine,
                                                                                 clock: ManualClock) -> None:
    """No tick ran (the worker was down): the review fell due at 24:00 on Mon 9 March 2026, its level 2 at 24:00
    on Wed 11 March. Suspended on Thu 12 March, the task clock breaches and escalates then, in the suspension,
    once each. Resumed on Mon 16 March and ticked daily to the end of the month, it is told nothing twice; the
    procedure clock (10 WD to 24:00 on Mon 16 March, moved on 2 WD to Wed 18 March) breaches on its own."""
    told = sla_told(engine)
    inst = engine.start(WF, "SU-6", flow_vars(), CONSUMER_ADMIN)
    clocks = {c.scope: c.id for c in engine.clocks(inst.id)}
    clock.set(at(2026, 3, 12, 10, 0))
    engine.suspend(inst.id, SUPERVISOR)
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    assert (task.status, task.breached, task.next_fire_at) == ("paused", True, None)
    assert told == [(clocks["task"], "breach", 0), (clocks["task"], "escalation", 1),
                    (clocks["task"], "escalation", 2)]

    clock.set(at(2026, 3, 16, 10, 0))
    engine.resume(inst.id, SUPERVISOR)
    for day in range(16, 31):
        engine.tick(at(2026, 3, day, 12, 0))
    after = {c.scope: c for c in engine.clocks(inst.id)}
    assert (after["task"].status, after["task"].due_at, after["task"].next_fire_at) == (
        "breached", at(2026, 3, 12, 0, 0), None)
    assert after["procedure"].due_at == at(2026, 3, 19, 0, 0)
    assert told[3:] == [(clocks["procedure"], "breach", 0), (clocks["procedure"], "escalation", 1)]


def test_a_procedure_clock_entering_its_pausing_state_past_due_unseen_breaches_then(make_engine: MakeEngine,
                                                                                    clock: ManualClock) -> None:
    """No tick ran: the procedure (10 WD) fell due at 24:00 on Mon 16 March 2026. The case reaches the meeting,
    where the procedure clock pauses, on Wed 18 March: the breach and level 1 are recorded in that command."""
    engine = make_engine()
    engine.register_hook("count_users", lambda variables: {"users": 2})
    told = sla_told(engine)
    inst = engine.start(WF, "SU-7", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 3, 18, 10, 0))
    assert engine.fire(inst.id, "approve", AUDITOR).state == "meeting"
    proc = next(c for c in engine.clocks(inst.id) if c.scope == "procedure")
    assert (proc.status, proc.breached, proc.next_fire_at) == ("paused", True, None)
    # the review's clock, stopped late, and the procedure's
    assert [(kind, level) for _, kind, level in told].count(("breach", 0)) == 2


def test_a_clock_resumed_past_its_due_time_after_days_off_breaches_at_the_resumption(engine: Engine,
                                                                                       clock: ManualClock) -> None:
    """Started on Fri 6 March 2026, the review (5 WD) is due at 24:00 on Fri 13 March. Suspended at 22:00 that
    Friday and resumed on Saturday morning, the pause took no working day, so the due time stays and is past:
    the breach and level 1 happen in the resumption, once each; level 2 (2 WD on, 24:00 on Tue 17 March) stays
    armed."""
    told = sla_told(engine)
    clock.set(at(2026, 3, 6, 10, 0))
    inst = engine.start(WF, "SU-8", flow_vars(), CONSUMER_ADMIN)
    task_id = next(c.id for c in engine.clocks(inst.id) if c.scope == "task")
    clock.set(at(2026, 3, 13, 22, 0))
    engine.suspend(inst.id, SUPERVISOR)
    assert told == []
    clock.set(at(2026, 3, 14, 9, 30))
    engine.resume(inst.id, SUPERVISOR)
    task = next(c for c in engine.clocks(inst.id) if c.id == task_id)
    assert (task.status, task.due_at, task.paused_working_days) == ("breached", at(2026, 3, 14, 0, 0), 0)
    assert (task.next_kind, task.next_level, task.next_fire_at) == ("escalate", 2, at(2026, 3, 18, 0, 0))
    assert told == [(task_id, "breach", 0), (task_id, "escalation", 1)]
    engine.tick(at(2026, 3, 16, 12, 0))
    assert told == [(task_id, "breach", 0), (task_id, "escalation", 1)]


def test_a_suspension_into_a_year_without_data_can_be_cancelled_but_not_resumed(engine: Engine,
                                                                                  clock: ManualClock) -> None:
    """Suspended on Tue 22 December 2026, with no 2027 schedule published: resuming on 6 January 2027 would move
    the due times by days no one can count yet, so a strict engine refuses it; cancelling moves no deadline, so
    it is done, the ledger counting the pause as the ladder does (weekends and New Year's Day off): 23-31 December
    7 WD, 4-6 January 3 WD."""
    clock.set(at(2026, 12, 15, 10, 0))  # task due at the end of 22 December, the procedure of 29 December
    inst = engine.start(WF, "SU-Y", flow_vars(), CONSUMER_ADMIN)
    clock.set(at(2026, 12, 22, 10, 0))
    engine.suspend(inst.id, SUPERVISOR, "材料待补")
    clock.set(at(2027, 1, 6, 10, 0))
    with pytest.raises(CalendarYearMissing):
        engine.resume(inst.id, SUPERVISOR)
    assert engine.get(inst.id).status == "suspended"
    done = engine.cancel(inst.id, SUPERVISOR, "撤回")
    assert done.status == "cancelled" and armed(engine, inst.id) == []
    ledgers = [engine.pauses(c.id) for c in engine.clocks(inst.id)]
    assert [[(p.working_days, p.ended_at) for p in ledger] for ledger in ledgers] == \
        [[(10, at(2027, 1, 6, 10, 0))]] * 2
