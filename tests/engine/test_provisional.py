"""Provisional deadlines: computed from weekends and fixed-date holidays while a year has no data, and
recomputed (with their timers) when the year's file is added."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

import calendars
from engine import CalendarDataInvalid, ManualClock, WorkflowError
from engine.clock import SHANGHAI
from tests.engine.calendar_2027 import TEST_2027_CN, TEST_2027_CN_MAKEUP
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, FLOW, SUPERVISOR, MakeEngine, flow_vars, sla_told

WF = "common.test_flow"


def test_recompute_replaces_provisional_due_times(make_engine: MakeEngine, clock: ManualClock,
                                                  data_copy: Path) -> None:
    """10 WD from 24 Dec 2026 end on 8 Jan 2027 provisionally; with the 2027 file (4-5 Jan off) on 12 Jan."""
    engine = make_engine(allow_provisional=True)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    inst = engine.start(WF, "PV-1", flow_vars(), CONSUMER_ADMIN)
    clocks = {c.scope: c for c in engine.clocks(inst.id)}
    assert (clocks["procedure"].provisional, clocks["procedure"].last_day) == (True, "2027-01-08")
    # 5 WD end on 31 December, but the task's level 2 (2 WD after) lands in 2027: the clock is provisional too
    assert (clocks["task"].provisional, clocks["task"].last_day) == (True, "2026-12-31")

    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    assert engine.recompute_provisional() == 2
    proc = next(c for c in engine.clocks(inst.id) if c.scope == "procedure")
    assert (proc.provisional, proc.last_day) == (False, "2027-01-12")
    assert proc.due_at == datetime(2027, 1, 13, 0, 0, tzinfo=SHANGHAI)
    due = [(m.at, m.pending) for m in engine.schedule(inst.id) if m.clock_id == proc.id and m.kind == "due"]
    assert due == [(proc.due_at, True)]
    assert engine.recompute_provisional() == 0


def test_recompute_moves_a_provisional_publicity(make_engine: MakeEngine, clock: ManualClock,
                                                 data_copy: Path) -> None:
    """The 10 WD publicity armed on Monday 28 Dec 2026 ends provisionally at 24:00 on 12 Jan 2027 (only 1 Jan off);
    once the 2027 file (1-5 Jan off) is added it ends at 24:00 on 14 Jan, and the instance moves on then, not
    two working days early."""
    engine = make_engine(allow_provisional=True)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    inst = engine.start(WF, "PV-3", flow_vars(), CONSUMER_ADMIN)
    clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI))
    assert engine.fire(inst.id, "approve", AUDITOR).state == "publicity"
    [timer] = [t for t in engine.timers(inst.id) if t.status == "pending"]
    assert (timer.fire_at, timer.provisional) == (datetime(2027, 1, 13, 0, 0, tzinfo=SHANGHAI), True)

    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    engine.recompute_provisional()
    [timer] = [t for t in engine.timers(inst.id) if t.status == "pending"]
    assert (timer.fire_at, timer.provisional) == (datetime(2027, 1, 15, 0, 0, tzinfo=SHANGHAI), False)
    engine.tick(datetime(2027, 1, 14, 12, 0, tzinfo=SHANGHAI))
    assert engine.get(inst.id).state == "publicity"
    engine.tick(datetime(2027, 1, 15, 0, 0, tzinfo=SHANGHAI))
    assert engine.get(inst.id).state != "publicity"
    assert engine.recompute_provisional() == 0


def test_without_provisional_deadlines_a_missing_year_is_refused(make_engine: MakeEngine, clock: ManualClock) -> None:
    """A strict deployment refuses to start what it cannot date, naming the year."""
    engine = make_engine(allow_provisional=False)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    with pytest.raises(calendars.CalendarYearMissing) as err:
        engine.start(WF, "PV-2", flow_vars(), CONSUMER_ADMIN)
    assert err.value.year == 2027


def test_a_due_time_recomputed_into_the_past_breaches_at_the_next_tick(make_engine: MakeEngine, clock: ManualClock,
                                                                      data_copy: Path) -> None:
    """10 WD from 24 Dec 2026 end provisionally at 24:00 on Fri 8 Jan 2027. The year's file comes late, on 8 Jan,
    and makes Saturday 2 Jan a working day: the procedure was due at 24:00 on Thu 7 Jan, already past. Its breach
    and level 1, whose moments the recompute left behind, are told at the next tick, once."""
    engine = make_engine(allow_provisional=True)
    told = sla_told(engine)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    inst = engine.start(WF, "PV-4", flow_vars(), CONSUMER_ADMIN)
    proc = next(c for c in engine.clocks(inst.id) if c.scope == "procedure")
    assert proc.due_at == datetime(2027, 1, 9, 0, 0, tzinfo=SHANGHAI)

    clock.set(datetime(2027, 1, 8, 10, 0, tzinfo=SHANGHAI))
    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN_MAKEUP, encoding="utf-8")
    engine.recompute_provisional()
    proc = next(c for c in engine.clocks(inst.id) if c.id == proc.id)
    assert (proc.due_at, proc.provisional) == (datetime(2027, 1, 8, 0, 0, tzinfo=SHANGHAI), False)
    engine.tick(datetime(2027, 1, 8, 10, 1, tzinfo=SHANGHAI))
    engine.tick(datetime(2027, 1, 8, 10, 2, tzinfo=SHANGHAI))
    proc = next(c for c in engine.clocks(inst.id) if c.id == proc.id)
    assert (proc.status, proc.breached) == ("breached", True)
    assert [(kind, level) for clock_id, kind, level in told if clock_id == proc.id] == [("breach", 0),
                                                                                      ("escalation", 1)]


def test_recompute_counts_a_pause_again_on_the_year_that_arrived(make_engine: MakeEngine, clock: ManualClock,
                                                                 data_copy: Path) -> None:
    """Suspended 28 Dec 2026 to 6 Jan 2027 while 2027 had no data, the procedure's pause counted 6 WD on the guess
    (only 1 January off). The 2027 file has 1-5 January off: the pause covered 4 WD (29-31 Dec, 6 Jan), the ledger
    says so, and the due time is the base due time (end of 12 Jan) moved on by 4 WD, not 6: end of 18 Jan. The
    base due time stays the one before any pause."""
    engine = make_engine(allow_provisional=True)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    inst = engine.start(WF, "PV-5", flow_vars(), CONSUMER_ADMIN)
    clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI))
    engine.suspend(inst.id, SUPERVISOR)
    clock.set(datetime(2027, 1, 6, 10, 0, tzinfo=SHANGHAI))
    engine.resume(inst.id, SUPERVISOR)
    proc = next(c for c in engine.clocks(inst.id) if c.scope == "procedure")
    assert (proc.paused_working_days, proc.provisional) == (6, True)

    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    engine.recompute_provisional()
    proc = next(c for c in engine.clocks(inst.id) if c.id == proc.id)
    assert [p.working_days for p in engine.pauses(proc.id)] == [4]
    assert (proc.paused_working_days, proc.provisional) == (4, False)
    assert proc.base_due_at == datetime(2027, 1, 13, 0, 0, tzinfo=SHANGHAI)
    assert proc.due_at == datetime(2027, 1, 19, 0, 0, tzinfo=SHANGHAI)


def test_a_malformed_year_file_is_refused_as_an_engine_error_and_the_old_data_kept(
        make_engine: MakeEngine, clock: ManualClock, data_copy: Path) -> None:
    """An operator drops in a 2027 file with a Monday as a make-up working day: the recompute raises
    CalendarDataInvalid (a WorkflowError a backend catches, and a calendars.CalendarDataError) naming the file and
    line; the engine goes on with the data it had."""
    engine = make_engine(allow_provisional=True)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    inst = engine.start(WF, "PV-BAD", flow_vars(), CONSUMER_ADMIN)
    path = data_copy / "cn" / "2027.yaml"
    path.write_text(TEST_2027_CN_MAKEUP.replace("work: [2027-01-02]", "work: [2027-01-11]"), encoding="utf-8")
    with pytest.raises(WorkflowError) as err:
        engine.recompute_provisional()
    assert isinstance(err.value, CalendarDataInvalid) and isinstance(err.value, calendars.CalendarDataError)
    assert any(problem.startswith(str(path)) for problem in err.value.problems)
    assert {c.provisional for c in engine.clocks(inst.id)} == {True}  # nothing was recomputed on it
    path.unlink()
    engine.recompute_provisional()  # the engine goes on once the file is taken away
    assert {c.provisional for c in engine.clocks(inst.id)} == {True}


#: The review is due at the end of a date the request gives, with level 2 five working days after it.
DATED_FLOW = (FLOW.replace("id: common.test_flow", "id: common.dated_flow")
              .replace("  reason: {type: text}\n", "  reason: {type: text}\n  finish_by: {type: date}\n")
              .replace("      due: 5 WD\n      warn_before: [1 WD]", "      due: {date: finish_by}")
              .replace("{level: 2, after: 2 WD,", "{level: 2, after: 5 WD,"))
assert "due: {date: finish_by}" in DATED_FLOW and "after: 5 WD" in DATED_FLOW


def test_a_due_date_gone_by_stays_armed_at_its_due_time_through_the_recompute(make_engine: MakeEngine,
                                                                              clock: ManualClock,
                                                                              data_copy: Path) -> None:
    """A review due at the end of Mon 28 Dec 2026, started on Wed 30 Dec: its due time has passed, and its level 2
    (5 WD after) lands in 2027, a year without data, so the clock is provisional. Recomputed when the year's file
    comes, it is armed at its due time, not at its first moment after the start (level 1, with the breach, or
    level 2): the next tick tells the breach and level 1, and level 2 waits for its own moment."""
    engine = make_engine(allow_provisional=True, flow=DATED_FLOW)
    told = sla_told(engine)
    clock.set(datetime(2026, 12, 30, 10, 0, tzinfo=SHANGHAI))
    inst = engine.start("common.dated_flow", "PV-6", flow_vars(finish_by=date(2026, 12, 28)), CONSUMER_ADMIN)
    [review] = [c for c in engine.clocks(inst.id) if c.scope == "task"]
    assert (review.due_at, review.provisional) == (datetime(2026, 12, 29, 0, 0, tzinfo=SHANGHAI), True)

    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    engine.recompute_provisional()
    [review] = [c for c in engine.clocks(inst.id) if c.id == review.id]
    assert (review.next_fire_at, review.next_kind, review.provisional) == (review.due_at, "due", False)
    engine.tick(datetime(2026, 12, 30, 10, 1, tzinfo=SHANGHAI))
    assert [(kind, level) for clock_id, kind, level in told if clock_id == review.id] == [("breach", 0),
                                                                                        ("escalation", 1)]
    assert engine.overdue(datetime(2026, 12, 30, 10, 1, tzinfo=SHANGHAI))[0].clock.id == review.id
