"""A deadline in the last year with data whose warnings or escalation levels reach into a year without one: the
command is accepted, the clock marked provisional, its ladder recomputed when the year's file is added."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import calendars
from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from engine.sla import SlaCalculator
from engine.spec import DueSpec, DurationSpec, EscalationLevelSpec, SlaSpec
from notifiers.directory import YamlDirectory
from tests.engine.calendar_2027 import TEST_2027_CN, TEST_2027_GX
from tests.engine.conftest import MakeEngine

ROOT = Path(__file__).resolve().parents[2]
WF = "gx.data_request"
HEALTH, POLICE = make_credit_code(1), make_credit_code(2)
APPLICANT = Actor("zhang.san", frozenset({"data_admin"}), department=HEALTH)
REVIEWER = Actor("li.si", frozenset({"bureau_reviewer"}), department="11450000MB1A832730")
VARS = {"consumer_dept": HEALTH, "provider_dept": POLICE, "resource_id": "RK-0001",
        "purpose": "新生儿出生医学证明办理核验", "sharing_type": "conditional"}


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def strict(make_engine: MakeEngine, clock: ManualClock) -> Engine:
    """A strict engine (no provisional deadlines) with the Guangxi data-request procedure, on 2026-12-21."""
    engine = make_engine(DefinitionSet.load([ROOT / "workflows"]), flow=None,
                         directory=YamlDirectory(ROOT / "notifiers" / "example_directory.yaml"))
    engine.register_hook("resource_users", lambda variables: {"users": []})
    clock.set(at(2026, 12, 21, 10))
    return engine


def _approval(engine: Engine, instance_id: str) -> object:
    return next(c for c in engine.clocks(instance_id) if c.state == "provider_approval")


def test_a_2026_deadline_whose_level_2_is_in_2027_is_accepted(strict: Engine, clock: ManualClock) -> None:
    """Passed on Thursday 12-24, approval (5 WD: 12-25, 12-28..12-31) is due 24:00 12-31; its level 2 (2 WD after)
    is guessed at 24:00 2027-01-05 (01-01 off, a weekend, 01-04 and 01-05) and the clock marked provisional."""
    inst = strict.start(WF, "YE-1", VARS, APPLICANT)
    clock.set(at(2026, 12, 24, 10))
    inst = strict.fire(inst.id, "pass", REVIEWER)
    assert inst.state == "provider_approval"
    approval = _approval(strict, inst.id)
    assert (approval.due_at, approval.last_day, approval.provisional) == (at(2027, 1, 1), "2026-12-31", True)
    rungs = [(m.kind, m.level, m.at) for m in strict.schedule(inst.id) if m.clock_id == approval.id]
    assert rungs == [("warn", 1, at(2026, 12, 31)), ("due", 0, at(2027, 1, 1)), ("escalate", 1, at(2027, 1, 1)),
                     ("escalate", 2, at(2027, 1, 6))]


def test_the_ladder_runs_into_the_year_without_data(strict: Engine, clock: ManualClock) -> None:
    """Ticks in 2027 fire the breach, level 1 and level 2 without error; level 2 is told 2 working days late."""
    inst = strict.start(WF, "YE-2", VARS, APPLICANT)
    clock.set(at(2026, 12, 24, 10))
    strict.fire(inst.id, "pass", REVIEWER)
    told: list[tuple[str, int, int]] = []
    strict.subscribe("*", lambda ev: told.append((ev.kind, ev.data.get("level", -1),
                                                  ev.data.get("late_by_working_days", -1))))
    reports = [strict.tick(moment) for moment in (at(2026, 12, 31, 0, 1), at(2027, 1, 1, 0, 1), at(2027, 1, 6, 0, 1))]
    assert [r.failed for r in reports] == [0, 0, 0]
    assert told == [("warning", 1, 0), ("breach", 0, 0), ("escalation", 1, 0), ("escalation", 2, 2)]
    assert strict.get(inst.id).last_error is None
    assert [o.late_working_days for o in strict.overdue(at(2027, 1, 6, 9))] == [2]


def test_a_deadline_in_the_year_without_data_is_still_refused(strict: Engine, clock: ManualClock) -> None:
    """Passed on Monday 12-28, approval would end in 2027: a strict engine refuses, naming the year; nothing moves."""
    inst = strict.start(WF, "YE-3", VARS, APPLICANT)
    clock.set(at(2026, 12, 28, 10))
    with pytest.raises(calendars.CalendarYearMissing) as err:
        strict.fire(inst.id, "pass", REVIEWER)
    assert (err.value.year, strict.get(inst.id).state) == (2027, "normative_review")


def test_adding_the_year_recomputes_the_ladder(strict: Engine, clock: ManualClock, data_copy: Path) -> None:
    """With the 2027 files (1-5 January off), level 2 moves to 24:00 01-07 and the clock is no longer provisional;
    the warning at 24:00 12-30 stays its next moment."""
    inst = strict.start(WF, "YE-4", VARS, APPLICANT)
    clock.set(at(2026, 12, 24, 10))
    strict.fire(inst.id, "pass", REVIEWER)
    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    (data_copy / "cn-gx" / "2027.yaml").write_text(TEST_2027_GX, encoding="utf-8")
    assert strict.recompute_provisional() == 1
    approval = _approval(strict, inst.id)
    assert (approval.due_at, approval.provisional, approval.next_kind, approval.next_fire_at) == (
        at(2027, 1, 1), False, "warn", at(2026, 12, 31))
    levels = [(m.level, m.at) for m in strict.schedule(inst.id) if m.clock_id == approval.id and m.kind == "escalate"]
    assert levels == [(1, at(2027, 1, 1)), (2, at(2027, 1, 8))]
    assert strict.recompute_provisional() == 0


def test_a_recompute_before_the_year_is_added_keeps_the_clock_provisional(strict: Engine,
                                                                          clock: ManualClock) -> None:
    """Recomputing while 2027 is still missing leaves the mark, so the recompute after the file still happens."""
    inst = strict.start(WF, "YE-5", VARS, APPLICANT)
    clock.set(at(2026, 12, 24, 10))
    strict.fire(inst.id, "pass", REVIEWER)
    assert strict.recompute_provisional() == 1
    assert _approval(strict, inst.id).provisional is True
    assert strict.recompute_provisional() == 1


def _sla(due: str, *levels: str) -> SlaSpec:
    return SlaSpec(due=DueSpec(duration=DurationSpec.parse(due)), warn_before=(DurationSpec.parse("1 WD"),),
                   escalations=tuple(EscalationLevelSpec(i, DurationSpec.parse(after), ())
                                     for i, after in enumerate(levels, start=1)))


def test_a_ladder_ending_at_24_00_of_31_december_rests_on_december_only() -> None:
    """Due 24:00 12-31 with level 1 at the due time: 00:00 of 1 January is December's end, not a 2027 day."""
    calc = SlaCalculator()
    due, _, ladder = calc.opening("CN-GX", at(2026, 12, 29, 10), _sla("2 WD", "0 WD"), {})
    assert (due.due, due.last_day, due.provisional) == (at(2027, 1, 1), date(2026, 12, 31), False)
    assert calc.ladder_provisional("CN-GX", due, ladder) is False
    later, _, ladder = calc.opening("CN-GX", at(2026, 12, 29, 10), _sla("2 WD", "0 WD", "1 CD"), {})
    assert (later.provisional, ladder[-1][0]) == (True, at(2027, 1, 1) + timedelta(days=1))


#: A review whose clock stands still in a meeting, with a level 2 two working days after its due time.
PAUSING_FLOW = """\
id: common.pausing_review
name: {zh: 暂停审查, en: Pausing review}
jurisdiction: common
calendar: CN-GX
sources: [{document: 测试, articles: ["1"]}]
roles:
  provider.data_auditor:  {base: data_auditor, department: provider_dept, title: 提供部门数据审核员}
  bureau.data_supervisor: {base: data_supervisor, title: 数据监督员}
variables:
  provider_dept: {type: department, required: true}
start: {roles: [provider.data_auditor]}
initial: review
states:
  review:
    kind: task
    assignee: provider.data_auditor
    sla:
      due: 2 WD
      pause_in: [meeting]
      escalate:
        - {level: 1, after: 0 WD, notify: [bureau.data_supervisor]}
        - {level: 2, after: 2 WD, notify: [bureau.data_supervisor]}
  meeting: {kind: task, assignee: provider.data_auditor}
  approved: {kind: end, outcome: granted}
transitions:
  - {event: approve, from: review, to: approved, role: provider.data_auditor}
  - {event: meet, from: review, to: meeting, role: provider.data_auditor}
  - {event: back, from: meeting, to: review, role: provider.data_auditor}
"""


def test_a_resumed_clock_whose_ladder_moves_into_2027_is_marked(make_engine: MakeEngine, clock: ManualClock) -> None:
    """Started 12-21 (due 24:00 12-23, level 2 at 24:00 12-25: known days), paused 12-22 and resumed 12-29 (12-23
    .. 12-29: 5 WD): due 24:00 12-30, level 2 after 12-31 and 2027-01-04, so the resumed clock is provisional."""
    engine = make_engine(flow=PAUSING_FLOW)
    auditor = Actor("bob", frozenset({"data_auditor"}), POLICE)
    clock.set(at(2026, 12, 21, 10))
    inst = engine.start("common.pausing_review", "YE-P", {"provider_dept": POLICE}, auditor)
    before = engine.clocks(inst.id)[0]
    assert (before.due_at, before.provisional) == (at(2026, 12, 24), False)
    clock.set(at(2026, 12, 22, 10))
    engine.fire(inst.id, "meet", auditor)
    clock.set(at(2026, 12, 29, 10))
    engine.fire(inst.id, "back", auditor)
    after = engine.clocks(inst.id)[0]
    assert (after.due_at, after.last_day, after.paused_working_days, after.provisional) == (
        at(2026, 12, 31), "2026-12-30", 5, True)
    levels = [(m.level, m.at) for m in engine.schedule(inst.id) if m.kind == "escalate"]
    assert levels == [(1, at(2026, 12, 31)), (2, at(2027, 1, 5))]
