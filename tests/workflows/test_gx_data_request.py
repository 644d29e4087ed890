"""gx.data_request: Guangxi art. 22 walked on the 2026 National-Day calendar (make-up Saturday 2026-10-10)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from engine.errors import PayloadInvalid, PermissionDenied
from tests.workflows.conftest import CONSUMER, OTHER, PROVIDER, Harness, at, end_of

WF = "gx.data_request"
BASIS = {"reason": "涉及个人隐私", "legal_basis": "《中华人民共和国个人信息保护法》第十三条"}


def request(**extra: Any) -> dict[str, Any]:
    values = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "GX-RES-0001",
              "resource_name": "企业登记信息", "purpose": "企业开办一网通办", "sharing_type": "conditional"}
    values.update(extra)
    return values


def test_main_path_due_times_cross_national_day(h: Harness) -> None:
    """Submitted 2026-09-30: review due end of 10-09, approval spans the make-up Saturday 10-10, push 2 WD."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    assert h.get(inst).state == "normative_review"
    # 10-01..10-07 are days off: the two working days are 10-08 and 10-09
    assert h.due(inst, "normative_review") == end_of(date(2026, 10, 9))

    inst = h.fire(inst, "pass", "bureau", at(2026, 10, 9, 10))
    assert inst.state == "provider_approval"
    # 10-10 (Sat) is a make-up working day: 10-10, 10-12, 10-13, 10-14, 10-15
    assert h.due(inst, "provider_approval") == end_of(date(2026, 10, 15))

    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 10, 12, 9), {"conditions": "仅限本部门使用"})
    assert inst.state == "reply_push"
    assert h.due(inst, "reply_push") == end_of(date(2026, 10, 14))

    inst = h.fire(inst, "push", "bureau", at(2026, 10, 13, 16))
    assert inst.state == "subscription"
    inst = h.fire(inst, "subscribe", "consumer_admin", at(2026, 10, 14, 9))
    assert (inst.status, inst.outcome, inst.state) == ("completed", "granted", "granted")
    assert h.path(inst) == ["route", "normative_review", "provider_approval", "reply_push", "reply_route",
                            "subscription", "granted"]
    assert h.variables(inst)["conditions"] == "仅限本部门使用"
    assert h.recipients(inst, template="request_granted") == ["consumer_admin"]
    assert h.recipients(inst, template="procedure_completed") == ["consumer_admin", "provider_auditor"]
    assert all(c.status == "met" for c in h.engine.clocks(inst.id))


def test_unconditional_data_without_control_parameters_is_granted_at_once(h: Harness) -> None:
    """无条件共享 with an interface needing no control parameters: the platform provides it, no approval flow."""
    inst = h.start(WF, request(sharing_type="unconditional"), "consumer_admin", at(2026, 9, 30, 10))
    assert (inst.status, inst.outcome, inst.state) == ("completed", "granted", "granted_directly")
    assert h.engine.clocks(inst.id) == []
    assert h.recipients(inst, template="request_granted") == ["consumer_admin"]


def test_unconditional_data_with_control_parameters_goes_through_review(h: Harness) -> None:
    """无条件共享 whose interface needs control parameters follows the approval flow."""
    inst = h.start(WF, request(sharing_type="unconditional", control_params=True), "consumer_admin",
                   at(2026, 9, 30, 10))
    assert inst.state == "normative_review"


def test_failed_review_returns_to_the_consumer_who_resubmits(h: Harness) -> None:
    """A failed normative review goes back with reasons; the resubmission gets a fresh 2 WD review."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "return_for_correction", "bureau", at(2026, 10, 8, 11), {"correction_reasons": "用途不明确"})
    assert inst.state == "correction"
    assert h.recipients(inst, template="returned_for_correction") == ["consumer_admin"]
    assert h.task_clock(inst, "normative_review").status == "met"

    inst = h.fire(inst, "resubmit", "consumer_admin", at(2026, 10, 9, 17), {"purpose": "企业开办登记核验"})
    assert inst.state == "normative_review"
    assert h.variables(inst)["purpose"] == "企业开办登记核验"
    # from 10-09: 10-10 (make-up Saturday) and 10-12
    assert h.due(inst, "normative_review") == end_of(date(2026, 10, 12))


def test_consumer_may_withdraw_instead_of_resubmitting(h: Harness) -> None:
    """The consumer may give up a returned request."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "return_for_correction", "bureau", at(2026, 10, 8, 11), {"correction_reasons": "缺依据"})
    inst = h.fire(inst, "withdraw", "consumer_admin", at(2026, 10, 8, 15))
    assert (inst.status, inst.outcome) == ("completed", "withdrawn")


def test_refusal_needs_reason_and_legal_basis(h: Harness) -> None:
    """A provider cannot refuse without both a reason and its legal basis; with them the refusal is pushed."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "pass", "bureau", at(2026, 10, 9, 10))
    with pytest.raises(PayloadInvalid) as err:
        h.fire(inst, "refuse", "provider_auditor", at(2026, 10, 12, 9), {"reason": "涉及个人隐私"})
    assert err.value.field == "legal_basis"
    assert h.get(inst).state == "provider_approval"

    inst = h.fire(inst, "refuse", "provider_auditor", at(2026, 10, 12, 9), BASIS)
    assert inst.state == "reply_push"
    inst = h.fire(inst, "push", "bureau", at(2026, 10, 13, 9))
    assert (inst.status, inst.outcome) == ("completed", "refused")
    assert h.variables(inst)["legal_basis"] == BASIS["legal_basis"]
    assert h.recipients(inst, template="request_refused") == ["consumer_admin"]


def test_bureau_sends_an_unfounded_reply_back_to_the_provider(h: Harness) -> None:
    """The bureau may send the reply back; the provider then has a fresh 5 WD."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "pass", "bureau", at(2026, 10, 9, 10))
    inst = h.fire(inst, "refuse", "provider_auditor", at(2026, 10, 12, 9), BASIS)
    inst = h.fire(inst, "send_back", "bureau", at(2026, 10, 13, 10), {"reply_comment": "所引依据不适用"})
    assert inst.state == "provider_approval"
    # from 10-13: 10-14, 10-15, 10-16, 10-19, 10-20
    assert h.due(inst, "provider_approval") == end_of(date(2026, 10, 20))


def test_not_shared_data_goes_to_negotiation_then_coordination(h: Harness) -> None:
    """不予共享: negotiation; when it fails, the bureau coordinates and may refuse with a legal basis."""
    inst = h.start(WF, request(sharing_type="not_shared"), "consumer_admin", at(2026, 9, 30, 10))
    assert inst.state == "negotiation"
    inst = h.fire(inst, "negotiation_failed", "consumer_admin", at(2026, 10, 9, 10),
                  {"negotiation_failure": "提供部门不同意"})
    assert inst.state == "coordination"
    inst = h.fire(inst, "refuse", "bureau", at(2026, 10, 12, 10), BASIS)
    assert (inst.status, inst.outcome) == ("completed", "refused")


def test_negotiated_agreement_leads_to_subscription(h: Harness) -> None:
    """不予共享 data agreed in negotiation is subscribed like granted data."""
    inst = h.start(WF, request(sharing_type="not_shared"), "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "agree", "provider_auditor", at(2026, 10, 9, 10), {"conditions": "脱敏后提供"})
    assert inst.state == "subscription"
    inst = h.fire(inst, "subscribe", "consumer_admin", at(2026, 10, 9, 11))
    assert inst.outcome == "granted"


def test_only_the_providing_departments_auditor_decides(h: Harness) -> None:
    """An auditor of another department may not approve; the consumer's admin may not either."""
    inst = h.start(WF, request(provider_dept=OTHER), "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "pass", "bureau", at(2026, 10, 9, 10))
    with pytest.raises(PermissionDenied):
        h.fire(inst, "approve", "provider_auditor", at(2026, 10, 9, 11))
    with pytest.raises(PermissionDenied):
        h.fire(inst, "approve", "consumer_admin", at(2026, 10, 9, 11))
    assert h.get(inst).state == "provider_approval"
