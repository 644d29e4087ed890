"""Cloud resource provisioning: Guangxi and Liuzhou art. 17 (1 + 3 + 1 WD) and the 2019 indicator (1 + 1 + 1 WD)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from engine.errors import PayloadInvalid, PermissionDenied
from tests.workflows.conftest import CONSUMER, Harness, at, end_of

FORM = {"user_dept": CONSUMER, "request_form": "YZY-2026-118", "resources": "8 vCPU / 32 GB / 500 GB"}
APPROVER = {"gx.cloud_resource": "bureau", "gx.cloud_resource_2019": "bureau", "lz.cloud_resource": "center"}


def _endorsed(h: Harness, wf: str) -> Any:
    inst = h.start(wf, FORM, "consumer_admin", at(2026, 9, 24, 10))
    assert inst.state == "tier_review"
    return h.fire(inst, "endorse", "consumer_leader", at(2026, 9, 24, 11))


@pytest.mark.parametrize(("wf", "evaluation_due"), [
    ("gx.cloud_resource", date(2026, 10, 8)),  # 09-29, 09-30, 10-08
    ("lz.cloud_resource", date(2026, 10, 8)),
    ("gx.cloud_resource_2019", date(2026, 9, 29)),  # the 2019 indicator: 1 WD
])
def test_main_path_across_mid_autumn_and_national_day(h: Harness, wf: str, evaluation_due: date) -> None:
    """Endorsed Thu 09-24: approval due end of 09-28 (09-25..27 off); evaluation and delivery follow."""
    inst = _endorsed(h, wf)
    assert inst.state == "approval"
    assert h.due(inst, "approval") == end_of(date(2026, 9, 28))
    inst = h.fire(inst, "approve", APPROVER[wf], at(2026, 9, 28, 10))
    assert h.due(inst, "evaluation") == end_of(evaluation_due)
    inst = h.fire(inst, "evaluate", "center", at(2026, 9, 29, 10), {"evaluation": "资源充足"})
    # 1 WD after 09-29: 09-30
    assert h.due(inst, "delivery") == end_of(date(2026, 9, 30))
    inst = h.fire(inst, "deliver", "center", at(2026, 9, 30, 10), {"delivery_note": "已分配云主机"})
    assert (inst.status, inst.outcome) == ("completed", "granted")
    assert h.recipients(inst, template="request_granted") == ["consumer_admin"]


def test_guangxi_approval_is_the_bureaus_and_liuzhou_the_centres(make_harness: Any) -> None:
    """Guangxi art. 17(2): the bureau approves; Liuzhou art. 17(1): the centre approves on the bureau's behalf."""
    gx, lz = make_harness(), make_harness()
    gx_inst, lz_inst = _endorsed(gx, "gx.cloud_resource"), _endorsed(lz, "lz.cloud_resource")
    with pytest.raises(PermissionDenied):
        gx.fire(gx_inst, "approve", "center", at(2026, 9, 28, 10))
    with pytest.raises(PermissionDenied):
        lz.fire(lz_inst, "approve", "bureau", at(2026, 9, 28, 10))
    assert gx.get(gx_inst).state == lz.get(lz_inst).state == "approval"


@pytest.mark.parametrize(("wf", "level1"), [("gx.cloud_resource", ["supervisor"]),
                                            ("lz.cloud_resource", ["bureau"])])
def test_late_approval_escalates(h: Harness, wf: str, level1: list[str]) -> None:
    """A late 1 WD approval (due end of 09-28) breaches to the approver; the ladder ends at the supervisor."""
    inst = _endorsed(h, wf)
    for moment in (end_of(date(2026, 9, 24)), end_of(date(2026, 9, 27)), end_of(date(2026, 9, 28)),
                   end_of(date(2026, 9, 29))):
        h.tick(moment)
        h.tick(moment)
    assert sorted(s.recipient for s in h.sent(inst, kind="breach")) == [APPROVER[wf]]
    by_level = sorted((s.data["level"], s.recipient) for s in h.sent(inst, kind="escalation"))
    assert [r for lvl, r in by_level if lvl == 1] == level1
    assert by_level[-1][1] == "supervisor"
    # the warning 1 WD before a 1 WD due: the start of 09-28, the last day, not midnight on 中秋 (09-25)
    assert [e.at for e in h.events_of(inst, "warning")] == [end_of(date(2026, 9, 27))]


def test_refusal_at_evaluation(h: Harness) -> None:
    """The centre may find a request infeasible: the request ends refused and the applicant is told."""
    inst = _endorsed(h, "gx.cloud_resource")
    inst = h.fire(inst, "approve", "bureau", at(2026, 9, 28, 10))
    inst = h.fire(inst, "refuse", "center", at(2026, 9, 29, 10), {"refusal_reason": "存储资源不足"})
    assert (inst.outcome, h.variables(inst)["refusal_reason"]) == ("refused", "存储资源不足")
    assert h.recipients(inst, template="request_refused") == ["consumer_admin"]


@pytest.mark.parametrize("wf", sorted(APPROVER))
def test_return_at_tier_review_goes_back_for_correction(h: Harness, wf: str) -> None:
    """Indicator A2.4 ①: a leader's return sends the form back to the applicant, who resubmits it to the tier review.

    Returned Thu 09-24, corrected over the Mid-Autumn and National Day holidays, resubmitted and endorsed on
    Fri 10-09: the 1 WD approval falls on Sat 10-10, the make-up working day after National Day.
    """
    inst = h.start(wf, FORM, "consumer_admin", at(2026, 9, 24, 10))
    inst = h.fire(inst, "return_request", "consumer_leader", at(2026, 9, 24, 12), {"review_comment": "规格过大"})
    assert (inst.status, inst.state) == ("running", "correction")
    assert h.variables(inst)["review_comment"] == "规格过大"
    assert h.recipients(inst, template="returned_for_correction") == ["consumer_admin"]
    with pytest.raises(PermissionDenied):
        h.fire(inst, "resubmit", "consumer_leader", at(2026, 10, 9, 9))
    inst = h.fire(inst, "resubmit", "consumer_admin", at(2026, 10, 9, 9), {"resources": "4 vCPU / 16 GB / 200 GB"})
    assert inst.state == "tier_review"
    assert h.variables(inst)["resources"] == "4 vCPU / 16 GB / 200 GB"
    assert h.variables(inst)["request_form"] == FORM["request_form"]  # unchanged fields stay
    assert h.recipients(inst, template="task_assigned") == ["consumer_leader", "consumer_leader"]
    inst = h.fire(inst, "endorse", "consumer_leader", at(2026, 10, 9, 10))
    assert h.due(inst, "approval") == end_of(date(2026, 10, 10))
    assert h.path(inst)[-4:] == ["tier_review", "correction", "tier_review", "approval"]


def test_return_needs_a_reason(h: Harness) -> None:
    """A return without its reason is refused and leaves the request with the leader."""
    inst = h.start("gx.cloud_resource", FORM, "consumer_admin", at(2026, 9, 24, 10))
    with pytest.raises(PayloadInvalid) as err:
        h.fire(inst, "return_request", "consumer_leader", at(2026, 9, 24, 12), {})
    assert "review_comment" in str(err.value)
    assert h.get(inst).state == "tier_review"


def test_returned_request_may_be_withdrawn(h: Harness) -> None:
    """The applicant may give up a returned request instead of correcting it: only then does it end withdrawn."""
    inst = h.start("lz.cloud_resource", FORM, "consumer_admin", at(2026, 9, 24, 10))
    inst = h.fire(inst, "return_request", "consumer_leader", at(2026, 9, 24, 12), {"review_comment": "规格过大"})
    inst = h.fire(inst, "withdraw", "consumer_admin", at(2026, 9, 28, 9))
    assert (inst.status, inst.outcome) == ("completed", "withdrawn")
