"""The escalation policy on its own: pure, from (SLA, clock, moment) to the actions that are due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.escalation import SUPERVISOR_ROLE, sla_actions
from engine.spec import DueSpec, DurationSpec, EscalationLevelSpec, SlaSpec
from engine.store import ClockView

DUE = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
SLA = SlaSpec(
    due=DueSpec(DurationSpec.parse("5 WD")),
    warn_before=(DurationSpec.parse("1 WD"),),
    escalations=(
        EscalationLevelSpec(1, DurationSpec.parse("0 WD"), ("provider.data_auditor",)),
        EscalationLevelSpec(2, DurationSpec.parse("2 WD"), (SUPERVISOR_ROLE,)),
    ),
)
WARN = [DUE - timedelta(days=1)]
LEVELS = [(1, DUE), (2, DUE + timedelta(days=2))]


def clock(status: str = "running", stopped: bool = False) -> ClockView:
    start = DUE - timedelta(days=8)
    return ClockView(1, "i", "task", "review", "CN", start, DUE, DUE, "2026-03-09", 0, None, status, False, False,
                     DUE if stopped else None)


def kinds(now: datetime, c: ClockView | None = None) -> list[tuple[str, int]]:
    return [(a.kind, a.level) for a in sla_actions(SLA, c or clock(), now, WARN, LEVELS, "provider.data_auditor")]


def test_nothing_is_due_early() -> None:
    """Before the warning moment there is nothing to do."""
    assert kinds(DUE - timedelta(days=3)) == []


def test_the_warning_comes_before_the_due_time_only() -> None:
    """Between the warning and the due time: the warning; from the due time on: no warning any more."""
    assert kinds(DUE - timedelta(hours=1)) == [("warning", 1)]
    assert ("warning", 1) not in kinds(DUE)


def test_breach_and_levels_follow_their_moments() -> None:
    """At the due time the breach and level 1 (after 0 WD); level 2 only from its own moment."""
    assert kinds(DUE) == [("breach", 0), ("escalation", 1)]
    assert kinds(DUE + timedelta(days=2)) == [("breach", 0), ("escalation", 1), ("escalation", 2)]


def test_a_stopped_or_paused_clock_has_no_actions() -> None:
    """A clock that was stopped or is paused escalates nothing."""
    assert kinds(DUE + timedelta(days=5), clock(stopped=True)) == []
    assert kinds(DUE + timedelta(days=5), clock(status="paused")) == []


def test_default_recipients_are_the_assignee() -> None:
    """Without warn_notify/breach_notify the assignee role is told; each level names its own roles."""
    actions = sla_actions(SLA, clock(), DUE + timedelta(days=2), WARN, LEVELS, "provider.data_auditor")
    assert [a.roles for a in actions] == [("provider.data_auditor",), ("provider.data_auditor",), (SUPERVISOR_ROLE,)]
