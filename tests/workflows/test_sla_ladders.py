"""A late step raises its warning, its breach and each escalation level, to the right people, once each."""

from __future__ import annotations

from datetime import date

from tests.workflows.conftest import CONSUMER, PROVIDER, Harness, at, end_of


def _kinds(h: Harness, inst: object) -> list[tuple[str, str, str]]:
    return sorted((s.kind, s.template, s.recipient) for s in h.sent(inst) if s.kind != "notification")  # type: ignore[arg-type]


def test_late_provider_approval_walks_the_whole_ladder_once(h: Harness) -> None:
    """gx provider approval due end of 10-15: warning at end of 10-14, breach + level 1 at the due time,
    level 2 two working days later (end of 10-19); ticking twice at each moment repeats nothing."""
    inst = h.start("gx.data_request", {
        "consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "R", "purpose": "p",
        "sharing_type": "conditional"}, "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "pass", "bureau", at(2026, 10, 9, 10))
    assert h.due(inst, "provider_approval") == end_of(date(2026, 10, 15))

    h.tick(at(2026, 10, 14, 23, 59))
    assert _kinds(h, inst) == []

    for _ in range(2):
        h.tick(end_of(date(2026, 10, 14)))
    assert _kinds(h, inst) == [("warning", "sla_warning", "provider_auditor")]

    for _ in range(2):
        h.tick(end_of(date(2026, 10, 15)))
    assert _kinds(h, inst) == [
        ("breach", "sla_breach", "provider_auditor"),
        ("escalation", "sla_escalation", "supervisor"),
        ("warning", "sla_warning", "provider_auditor"),
    ]

    # level 2 is 2 WD after the last day 10-15: 10-16 (Fri), 10-19 (Mon)
    h.tick(at(2026, 10, 19, 23, 59))
    assert len(_kinds(h, inst)) == 3
    for _ in range(2):
        h.tick(end_of(date(2026, 10, 19)))
    assert _kinds(h, inst) == [
        ("breach", "sla_breach", "provider_auditor"),
        ("escalation", "sla_escalation", "bureau"),
        ("escalation", "sla_escalation", "supervisor"),
        ("escalation", "sla_escalation", "supervisor"),
        ("warning", "sla_warning", "provider_auditor"),
    ]
    levels = sorted(s.data["level"] for s in h.sent(inst, kind="escalation"))
    assert levels == [1, 2, 2]
    assert [len(h.events_of(inst, k)) for k in ("warning", "breach", "escalation")] == [1, 1, 2]
    assert [e.data["level"] for e in h.events_of(inst, "escalation")] == [1, 2]
    assert h.task_clock(inst, "provider_approval").breached


def test_a_step_done_in_time_raises_nothing(h: Harness) -> None:
    """Approving before the warning time cancels the clock's timers: later ticks send no SLA message."""
    inst = h.start("gx.data_request", {
        "consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "R", "purpose": "p",
        "sharing_type": "conditional"}, "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "pass", "bureau", at(2026, 10, 9, 10))
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 12, 10))
    inst = h.fire(inst, "push", "bureau", at(2026, 10, 12, 11))
    h.tick(at(2026, 11, 30))
    assert _kinds(h, inst) == []
    assert h.task_clock(inst, "provider_approval").status == "met"


def test_late_centre_task_escalates_to_the_bureau_then_the_supervisor(h: Harness) -> None:
    """lz platform account (2 WD) requested Thu 2026-04-16 crosses 壮族三月三 (04-17..04-20 off in Guangxi):
    due end of 04-22; level 1 to the bureau at once, level 2 to the supervisor at the end of 04-23."""
    inst = h.start("lz.platform_account", {"dept": CONSUMER, "action": "add", "account_name": "zhang.san"},
                   "consumer_admin", at(2026, 4, 16, 15))
    assert h.due(inst, "processing") == end_of(date(2026, 4, 22))
    for moment in (end_of(date(2026, 4, 21)), end_of(date(2026, 4, 22)), end_of(date(2026, 4, 23))):
        h.tick(moment)
        h.tick(moment)
    assert _kinds(h, inst) == [
        ("breach", "sla_breach", "center"),
        ("escalation", "sla_escalation", "bureau"),
        ("escalation", "sla_escalation", "supervisor"),
        ("warning", "sla_warning", "center"),
    ]
