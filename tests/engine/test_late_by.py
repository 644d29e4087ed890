"""Days late: the working days after a deadline's last day that have ended, on the 2026 Guangxi calendar around
Mid-Autumn and National Day (09-25..09-27 and 10-01..10-07 off; Sunday 09-20 and Saturday 10-10 worked)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial

import pytest

from calendars import DeadlinePolicy, get_calendar
from engine import ManualClock
from engine.clock import SHANGHAI
from engine.reporting.figures import StepRecord, build_month_report
from engine.sla import SlaCalculator
from engine.spec import DueSpec, DurationSpec, EscalationLevelSpec, SlaSpec
from tests.engine.conftest import CONSUMER_ADMIN, MakeEngine, flow_vars

REGION = "CN-GX"


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def midnight_after(month: int, day: int) -> datetime:
    """24:00 of the day, the moment a day-end deadline is stored as."""
    return at(month, day) + timedelta(days=1)


@pytest.mark.parametrize(("due", "now", "late"), [
    # Thursday 09-24 has passed; Friday 09-25 (Mid-Autumn, off anyway) has only begun
    (midnight_after(9, 23), at(9, 25), 1),
    # Saturday 09-19 is off, the make-up Sunday 09-20 worked: one working day by Monday 00:00
    (midnight_after(9, 18), at(9, 21), 1),
    # Tuesday 10-28 .. Friday 10-30 have passed by Sunday 11-01 00:00
    (midnight_after(10, 27), at(11, 1), 3),
    # the due day is over, the next working day 10-09 has not ended yet
    (midnight_after(10, 8), at(10, 9, 23), 0),
    # 09-30 and 10-08: the seven days of National Day do not count
    (midnight_after(9, 29), at(10, 9), 2),
    # at the due moment itself, and before it
    (midnight_after(9, 29), midnight_after(9, 29), 0),
    (midnight_after(9, 29), at(9, 29, 12), 0),
    # 10-09 ended, 10-10 (make-up Saturday) ended, Sunday 10-11 is off, 10-12 still running
    (midnight_after(10, 8), at(10, 12, 15), 2),
])
def test_late_by_counts_the_working_days_that_have_ended(due: datetime, now: datetime, late: int) -> None:
    """Each working day after the last day counts once its 24:00 has passed; the day in progress does not."""
    assert SlaCalculator().late_by(REGION, due, now) == late


def test_the_overdue_figure_of_the_example_matches_the_calendar() -> None:
    """Due 24:00 of 10-09, on Sunday 11-22 the count is `calendar between 2026-10-09 2026-11-21`: 31."""
    cal = get_calendar(REGION)
    assert SlaCalculator().late_by(REGION, midnight_after(10, 9), at(11, 22, 8, 30)) == 31
    assert cal.working_days_between(date(2026, 10, 9), date(2026, 11, 21)) == 31


def _ended_working_days(due: datetime, now: datetime, policy: DeadlinePolicy) -> int:
    """The definition, day by day: working days after the last day whose end (24:00 or close) is not after now."""
    cal = get_calendar(REGION)
    last_day = (due - timedelta(microseconds=1)).date()
    count, day = 0, last_day + timedelta(days=1)
    while day <= now.date():
        if cal.is_working_day(day):
            close = policy.business_hours[1] if policy.business_hours else None
            end = datetime.combine(day, close, SHANGHAI) if close else datetime.combine(
                day + timedelta(days=1), time(0), SHANGHAI)
            count += end <= now
        day += timedelta(days=1)
    return count


POLICIES = [DeadlinePolicy(), DeadlinePolicy(business_hours=(time(9), time(17, 30)))]
#: Every 7 hours from Monday 09-14 to the middle of October.
MOMENTS = [at(9, 14, 0, 10) + timedelta(hours=7 * i) for i in range(120)]


@pytest.mark.parametrize("policy", POLICIES, ids=["24:00", "business hours"])
def test_late_by_is_the_count_of_ended_working_days(policy: DeadlinePolicy) -> None:
    """For deadlines of every day of the period and moments every 7 hours after them, the count follows the
    day-by-day definition, with close of business ending a day where business hours are set."""
    calc = SlaCalculator(policy=policy)
    spec = DueSpec(duration=DurationSpec.parse("1 WD"))
    for start in MOMENTS[::3]:
        due = calc.due(REGION, start, spec, {}).due
        for now in MOMENTS:
            assert calc.late_by(REGION, due, now) == _ended_working_days(due, now, policy), (due, now)


@pytest.mark.parametrize("policy", POLICIES, ids=["24:00", "business hours"])
def test_each_escalation_level_is_told_its_own_working_days(policy: DeadlinePolicy) -> None:
    """At the moment of a level `after: k WD` the count is k, and just before it k - 1."""
    calc = SlaCalculator(policy=policy)
    sla = SlaSpec(due=DueSpec(duration=DurationSpec.parse("2 WD")),
                  escalations=tuple(EscalationLevelSpec(k, DurationSpec.parse(f"{k} WD"), ()) for k in (1, 2, 3)))
    for start in MOMENTS:
        due = calc.due(REGION, start, sla.due, {})
        for k, moment in calc.level_times(REGION, due, sla):
            assert (calc.late_by(REGION, due.due, moment), k) == (k, k), start
            assert calc.late_by(REGION, due.due, moment - timedelta(seconds=1)) == k - 1, start


def _open_step(key: str, due: datetime) -> StepRecord:
    return StepRecord(workflow_id="P", workflow_name="流程", instance_id=key, business_key=key, state="review",
                      state_title="审批", department="D", department_name="部门", started=due - timedelta(days=3),
                      due=due, finished=None)


@pytest.mark.parametrize(("as_of", "late_0923"), [(at(11, 1), 22), (at(10, 11, 12), 7), (at(10, 4, 9), 4)],
                         ids=["end of October", "Sunday 10-11 noon", "National Day 10-04"])
def test_late_by_agrees_with_the_month_report_on_days_off(as_of: datetime, late_0923: int) -> None:
    """On a day off nothing is in progress, and the month report's open items are as late as late_by says."""
    dues = [midnight_after(9, day) for day in range(10, 31)] + [midnight_after(10, day) for day in range(1, 31)]
    dues = [d for d in dues if d <= as_of]
    cal = get_calendar(REGION)
    calc = SlaCalculator()
    report = build_month_report([_open_step(d.isoformat(), d) for d in dues], "2026-10", as_of,
                                cal.working_days_between, late_by=partial(calc.late_by, REGION))
    figures = {item.record.due: item.late_working_days for item in report.open_items}
    calc = SlaCalculator()
    assert figures == {d: calc.late_by(REGION, d, as_of) for d in dues}
    # due 24:00 09-23: 09-24, 09-28..09-30; then 10-08..10-10; then three weeks of October
    assert figures[midnight_after(9, 23)] == late_0923


def test_the_engine_reports_the_count_in_overdue_and_its_escalations(make_engine: MakeEngine,
                                                                     clock: ManualClock) -> None:
    """A review of 5 WD (national calendar, the same as Guangxi's in this season) from Wednesday 09-16 ends with
    Tuesday 09-22 (the make-up Sunday 09-20 counted); its level 2 (2 WD after: 09-23, 09-24) is told 2 working
    days late, the breach and level 1 less than one, and the overdue list still says 2 on Sunday 09-27."""
    engine = make_engine()
    clock.set(at(9, 16, 10))
    inst = engine.start("common.test_flow", "LATE-1", flow_vars(), CONSUMER_ADMIN)
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    assert (task.last_day, task.due_at) == ("2026-09-22", midnight_after(9, 22))
    told: list[tuple[str, int, int]] = []
    engine.subscribe("*", lambda ev: told.append((ev.kind, ev.data.get("level", -1),
                                                  ev.data.get("late_by_working_days", -1))))
    engine.tick(midnight_after(9, 22))
    engine.tick(midnight_after(9, 24))
    overdue = [o.late_working_days for o in engine.overdue(at(9, 27, 12)) if o.clock.id == task.id]
    assert told == [("breach", 0, 0), ("escalation", 1, 0), ("escalation", 2, 2)]
    assert overdue == [2]
