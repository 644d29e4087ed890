"""lz.dispatch_data_request: dispatch rules art. 26 — 3 WD review paused by a coordination meeting, docking,
2 WD quality window, 2 WD fix and re-push."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from engine.errors import GuardRejected
from tests.workflows.conftest import CONSUMER, PROVIDER, Harness, at, end_of

WF = "lz.dispatch_data_request"
#: Art. 22: approving conditionally shared data, the provider states the specific sharing conditions.
CONDITIONS = {"conditions": "仅用于社保待遇资格认证，不得向第三方提供"}


def request(**extra: Any) -> dict[str, Any]:
    values = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "LZ-RES-7",
              "purpose": "社保待遇资格认证", "sharing_type": "conditional"}
    values.update(extra)
    return values


def _sla_sent(h: Harness, inst: Any) -> list[tuple[str, str]]:
    return sorted((s.kind, s.recipient) for s in h.sent(inst) if s.kind != "notification")


def test_coordination_meeting_pauses_the_review_clock(h: Harness) -> None:
    """Review due end of 10-10 (make-up Saturday); a meeting from 10-09 to 10-14 covers 4 working days
    (10-10, 10-12, 10-13, 10-14), so the review becomes due at the end of 10-15."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    assert inst.state == "provider_review"
    clock = h.task_clock(inst, "provider_review")
    # 10-08, 10-09, 10-10 (make-up Saturday)
    assert clock.due_at == end_of(date(2026, 10, 10))

    inst = h.fire(inst, "request_coordination", "consumer_admin", at(2026, 10, 9, 9),
                  {"coordination_topic": "共享字段范围"})
    assert inst.state == "coordination_meeting"
    assert h.task_clock(inst, "provider_review").status == "paused"
    # while paused, the clock neither warns nor breaches
    h.tick(at(2026, 10, 13, 12))
    assert _sla_sent(h, inst) == []

    inst = h.fire(inst, "meeting_held", "center", at(2026, 10, 14, 15), {"coordination_minutes": "同意按需共享"})
    assert inst.state == "provider_review"
    clock = h.task_clock(inst, "provider_review")
    assert (clock.status, clock.paused_working_days) == ("running", 4)
    assert clock.due_at == end_of(date(2026, 10, 15))
    pauses = h.engine.pauses(clock.id)
    assert [(p.state, p.working_days) for p in pauses] == [("coordination_meeting", 4)]
    # one clock for the review, kept through the meeting
    assert len([c for c in h.engine.clocks(inst.id) if c.state == "provider_review"]) == 1
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 15, 16), CONDITIONS)
    clock = h.task_clock(inst, "provider_review")
    assert (clock.status, clock.stopped_at is not None) == ("met", True)
    assert _sla_sent(h, inst) == []


def test_meeting_then_late_review_breaches_on_the_extended_day(h: Harness) -> None:
    """The extended review (due end of 10-15 after the 4-day meeting) breaches at the end of 10-15, not at the
    original end of 10-10: the provider's auditor and the supervisor are told once."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "request_coordination", "consumer_admin", at(2026, 10, 9, 9),
                  {"coordination_topic": "共享字段范围"})
    inst = h.fire(inst, "meeting_held", "center", at(2026, 10, 14, 15), {"coordination_minutes": "同意按需共享"})
    h.tick(end_of(date(2026, 10, 14)))
    assert [k for k, _ in _sla_sent(h, inst)] == ["warning"]
    h.tick(end_of(date(2026, 10, 15)))
    h.tick(end_of(date(2026, 10, 15)))
    assert _sla_sent(h, inst) == [("breach", "provider_auditor"), ("breach", "supervisor"),
                                  ("escalation", "supervisor"), ("warning", "provider_auditor")]


def test_withdrawn_after_the_meeting_keeps_the_pause_in_the_ledger(h: Harness) -> None:
    """A meeting from Fri 10-09 to Mon 10-12 covers 2 working days (10-10, 10-12); withdrawn on 10-13, the
    review clock stops as met with those 2 days in its ledger."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "request_coordination", "consumer_admin", at(2026, 10, 9, 9),
                  {"coordination_topic": "共享字段范围"})
    inst = h.fire(inst, "meeting_held", "center", at(2026, 10, 12, 15), {"coordination_minutes": "撤回"})
    inst = h.fire(inst, "withdraw", "consumer_admin", at(2026, 10, 13, 10))
    assert inst.status == "completed"
    clock = h.task_clock(inst, "provider_review")
    assert (clock.status, clock.paused_working_days) == ("met", 2)


def test_main_path_docking_quality_window_and_acceptance(h: Harness) -> None:
    """Approved, pushed on Fri 10-16: the quality window ends at the end of 10-20 and the data is accepted."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 10, 12, 10))
    assert h.due(inst, "provider_review") == end_of(date(2026, 10, 15))
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 14, 10), CONDITIONS)
    assert inst.state == "docking"
    inst = h.fire(inst, "push_data", "center", at(2026, 10, 16, 10))
    assert inst.state == "quality_window"
    # 10-19, 10-20
    assert h.timer_at(inst, "quality_window") == end_of(date(2026, 10, 20))
    inst = h.fire(inst, "accept", "consumer_admin", at(2026, 10, 19, 10))
    assert (inst.status, inst.outcome) == ("completed", "granted")
    assert h.task_clock(inst, "provider_review").status == "met"
    # nothing is sent for SLAs, not even later
    h.tick(at(2026, 12, 1))
    assert _sla_sent(h, inst) == []


def test_objection_in_time_is_fixed_by_the_provider_within_2_wd(h: Harness) -> None:
    """An objection within the window goes to the platform; the provider fixes and re-pushes within 2 WD."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 10, 12, 10))
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 14, 10), CONDITIONS)
    inst = h.fire(inst, "push_data", "center", at(2026, 10, 16, 10))
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 10, 20, 17), {"objection": "身份证号字段为空"})
    assert inst.state == "investigation"
    assert h.variables(inst)["objection_late"] is False
    assert h.recipients(inst, template="objection_raised") == ["center", "provider_admin"]

    inst = h.fire(inst, "assign_fix", "center", at(2026, 10, 21, 10),
                  {"findings": "源表未同步", "responsible_party": "provider"})
    assert inst.state == "provider_fix"
    # 10-22, 10-23
    assert h.due(inst, "provider_fix") == end_of(date(2026, 10, 23))
    inst = h.fire(inst, "re_push", "provider_admin", at(2026, 10, 23, 11), {"fix_note": "已补全"})
    inst = h.fire(inst, "confirm", "consumer_admin", at(2026, 10, 26, 9))
    assert (inst.status, inst.outcome) == ("completed", "granted")


def test_late_objection_is_accepted_and_marked_late(h: Harness) -> None:
    """After the window has closed by itself, an objection is still taken and marked late."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 10, 12, 10))
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 14, 10), CONDITIONS)
    inst = h.fire(inst, "push_data", "center", at(2026, 10, 16, 10))
    h.tick(end_of(date(2026, 10, 20)))
    assert h.get(inst).state == "in_use"
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 10, 22, 10), {"objection": "数据重复"})
    assert inst.state == "investigation"
    assert h.variables(inst)["objection_late"] is True


def test_platform_fix_is_escalated_to_the_bureau_then_the_supervisor(h: Harness) -> None:
    """A platform fault is the centre's to fix in 2 WD; late, level 1 goes to the bureau, level 2 to the supervisor;
    the requester may re-open after the re-push."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 10, 12, 10))
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 14, 10), CONDITIONS)
    inst = h.fire(inst, "push_data", "center", at(2026, 10, 16, 10))
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 10, 19, 10), {"objection": "接口超时"})
    inst = h.fire(inst, "assign_fix", "center", at(2026, 10, 19, 15),
                  {"findings": "网关配置错误", "responsible_party": "platform"})
    assert inst.state == "platform_fix"
    assert h.due(inst, "platform_fix") == end_of(date(2026, 10, 21))
    for moment in (end_of(date(2026, 10, 20)), end_of(date(2026, 10, 21)), end_of(date(2026, 10, 22))):
        h.tick(moment)
        h.tick(moment)
    assert _sla_sent(h, inst) == [("breach", "center"), ("escalation", "bureau"), ("escalation", "supervisor"),
                                  ("warning", "center")]
    inst = h.fire(inst, "re_push", "center", at(2026, 10, 23, 10))
    inst = h.fire(inst, "reopen", "consumer_admin", at(2026, 10, 23, 15), {"objection": "仍有超时"})
    assert inst.state == "investigation"


def test_review_left_late_breaches_the_review_clock(h: Harness) -> None:
    """With no meeting and no answer, the 3 WD review breaches at the end of 10-10: the provider's auditor and the
    supervisor are told, and level 1 goes to the supervisor; level 2 (bureau + supervisor) at the end of 10-13."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    for moment in (end_of(date(2026, 10, 9)), end_of(date(2026, 10, 10)), end_of(date(2026, 10, 13))):
        h.tick(moment)
        h.tick(moment)
    assert _sla_sent(h, inst) == [
        ("breach", "provider_auditor"), ("breach", "supervisor"),
        ("escalation", "bureau"), ("escalation", "supervisor"), ("escalation", "supervisor"),
        ("warning", "provider_auditor"),
    ]


def test_not_shared_data_is_negotiated_without_the_review_clock(h: Harness) -> None:
    """不予共享: negotiation does not run the review clock (it stands still there)."""
    inst = h.start(WF, request(sharing_type="not_shared"), "consumer_admin", at(2026, 9, 30, 10))
    assert inst.state == "negotiation"
    assert [c for c in h.engine.clocks(inst.id) if c.state == "provider_review"] == []
    inst = h.fire(inst, "agree", "provider_auditor", at(2026, 10, 20, 10), {"conditions": "仅统计口径"})
    assert inst.state == "docking"


def test_conditional_approval_without_conditions_is_refused(h: Harness) -> None:
    """Art. 22: conditionally shared data is approved only with its specific sharing conditions; without them (or
    with an empty text) the approval is refused, the review stays open and its clock runs on."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 10, 12, 10))
    for payload in (None, {"conditions": ""}):
        with pytest.raises(GuardRejected) as err:
            h.fire(inst, "approve", "provider_auditor", at(2026, 10, 14, 10), payload)
        assert err.value.guard == "sharing_type != 'conditional' or conditions"
    assert h.get(inst).state == "provider_review"
    assert h.variables(inst).get("conditions") is None
    assert h.task_clock(inst, "provider_review").status == "running"
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 14, 11), CONDITIONS)
    assert inst.state == "docking"
    assert h.variables(inst)["conditions"] == CONDITIONS["conditions"]


def test_unconditional_data_with_control_parameters_is_approved_without_conditions(h: Harness) -> None:
    """An unconditionally shared resource reviewed only because its interface needs control parameters has no
    sharing conditions to state (art. 22 asks them of conditional sharing only)."""
    inst = h.start(WF, request(sharing_type="unconditional", control_params=True), "consumer_admin",
                   at(2026, 10, 12, 10))
    assert inst.state == "provider_review"
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 14, 10))
    assert inst.state == "docking"
    assert h.variables(inst).get("conditions") is None
