"""Recurring duties: their cron schedules (Asia/Shanghai) and the due dates of the rounds they start."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.errors import DuplicateBusinessKey
from engine.periods import recurring_business_key, recurring_variables
from engine.ports import Actor
from engine.scheduler import cron_trigger
from tests.workflows.conftest import Harness, at, end_of


def _fire_times(definitions: DefinitionSet, wf: str, after: datetime, count: int) -> list[datetime]:
    spec = definitions.get(wf).spec
    assert spec.recurring is not None
    trigger = cron_trigger(spec.recurring.cron)
    out: list[datetime] = []
    previous = None
    now = after
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        assert nxt is not None
        out.append(nxt)
        previous, now = nxt, nxt
    return out


@pytest.mark.parametrize(("wf", "expected"), [
    ("cq.sharing_report", [at(2026, 6, 1, 9), at(2026, 12, 1, 9), at(2027, 6, 1, 9)]),
    ("lz.catalog_refresh", [at(2026, 6, 1, 9), at(2026, 12, 1, 9), at(2027, 6, 1, 9)]),
    ("gx.emergency_drill", [at(2026, 6, 1, 9), at(2026, 12, 1, 9), at(2027, 6, 1, 9)]),
    ("lz.emergency_drill", [at(2026, 12, 1, 9), at(2027, 12, 1, 9), at(2028, 12, 1, 9)]),
])
def test_rounds_start_on_their_schedule(definitions: DefinitionSet, wf: str, expected: list[datetime]) -> None:
    """Half-year duties start on 1 June and 1 December at 09:00; the Liuzhou drill once a year on 1 December."""
    fired = _fire_times(definitions, wf, at(2026, 3, 1), 3)
    assert [f.astimezone(SHANGHAI) for f in fired] == expected


@pytest.mark.parametrize(("wf", "start", "due"), [
    ("cq.sharing_report", at(2026, 6, 1, 9), date(2026, 6, 15)),
    ("cq.sharing_report", at(2026, 12, 1, 9), date(2026, 12, 15)),
    # 2025-06-15 is a Sunday: the report moves to Monday 06-16 (民法典 art. 203)
    ("cq.sharing_report", at(2025, 6, 1, 9), date(2025, 6, 16)),
    ("lz.catalog_refresh", at(2026, 6, 1, 9), date(2026, 6, 30)),
    ("lz.catalog_refresh", at(2026, 12, 1, 9), date(2026, 12, 31)),
    ("gx.emergency_drill", at(2026, 6, 1, 9), date(2026, 6, 30)),
    ("gx.emergency_drill", at(2026, 12, 1, 9), date(2026, 12, 31)),
    ("lz.emergency_drill", at(2026, 12, 1, 9), date(2026, 12, 31)),
    # the half year ends on Sunday 2023-12-31: the date is the date, not moved
    ("lz.catalog_refresh", at(2023, 12, 1, 9), date(2023, 12, 31)),
])
def test_round_is_due_on_its_reporting_date(h: Harness, definitions: DefinitionSet, wf: str, start: datetime,
                                            due: date) -> None:
    """A round started with the variables the worker renders for its fire time is due at the end of its
    regulated date: half-year ends 30 June / 31 December, the drill year end, the reports the 15th moved past
    a day off."""
    variables = recurring_variables(definitions.get(wf).spec, start)
    inst = h.start(wf, variables, "bureau", start, key=f"{wf}-{start:%Y-%m}")
    assert h.due(inst, inst.state) == end_of(due)
    notified = h.recipients(inst, template="recurring_duty_due")
    assert notified == sorted(["bureau", "consumer_admin", "other_admin", "provider_admin"])


def test_round_closed_late_reaches_the_supervisor(h: Harness) -> None:
    """The sharing-report round not closed by the end of 06-15 breaches and escalates to the supervisor."""
    inst = h.start("cq.sharing_report", {"report_date": "2026-06-15"}, "bureau", at(2026, 6, 1, 9))
    h.tick(end_of(date(2026, 6, 15)))
    h.tick(end_of(date(2026, 6, 15)))
    assert sorted((s.kind, s.recipient) for s in h.sent(inst) if s.kind in ("breach", "escalation")) == [
        ("breach", "bureau"), ("escalation", "supervisor")]
    inst = h.fire(inst, "reports_collected", "bureau", at(2026, 6, 16, 10),
                  {"summary": "整合 12 个系统，共享 340 类数据", "missing_departments": ["县文旅局"]})
    assert inst.outcome == "done"
    assert h.variables(inst)["missing_departments"] == ["县文旅局"]


@pytest.mark.parametrize(("wf", "keys"), [
    ("cq.sharing_report", ["sharing-report-2026-H1", "sharing-report-2026-H2", "sharing-report-2027-H1"]),
    ("lz.catalog_refresh", ["catalog-refresh-2026-H1", "catalog-refresh-2026-H2", "catalog-refresh-2027-H1"]),
    ("gx.emergency_drill", ["emergency-drill-2026-H1", "emergency-drill-2026-H2", "emergency-drill-2027-H1"]),
    ("lz.emergency_drill", ["emergency-drill-2026", "emergency-drill-2027", "emergency-drill-2028"]),
])
def test_each_round_has_its_own_business_key(definitions: DefinitionSet, wf: str, keys: list[str]) -> None:
    """The worker names each round by its period, so the rounds of one period are one instance."""
    spec = definitions.get(wf).spec
    assert spec.recurring is not None
    fired = _fire_times(definitions, wf, at(2026, 3, 1), 3)
    assert [recurring_business_key(spec, f) for f in fired] == keys


def test_the_worker_starts_a_round_once(h: Harness, definitions: DefinitionSet) -> None:
    """Started by the engine itself at the fire time; a second start for the same period is refused."""
    spec = definitions.get("cq.sharing_report").spec
    assert spec.recurring is not None
    key = recurring_business_key(spec, at(2026, 12, 1, 9))
    h.clock.set(at(2026, 12, 1, 9))
    inst = h.engine.start(spec.id, key, recurring_variables(spec, at(2026, 12, 1, 9)), Actor.system())
    assert h.due(inst, "report_round") == end_of(date(2026, 12, 15))
    with pytest.raises(DuplicateBusinessKey):
        h.engine.start(spec.id, key, recurring_variables(spec, at(2026, 12, 1, 9)), Actor.system())
    assert len(h.engine.list(workflow_id=spec.id)) == 1


def test_a_round_started_by_hand_without_its_period_is_refused(h: Harness) -> None:
    """The bureau starting a missed round must say which half year it is for: `period_end` is required."""
    from engine.errors import PayloadInvalid

    with pytest.raises(PayloadInvalid) as err:
        h.start("lz.catalog_refresh", {}, "bureau", at(2026, 7, 2, 9))
    assert err.value.field == "period_end"
