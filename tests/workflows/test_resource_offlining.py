"""lz.resource_offlining: dispatch rules arts. 20-21 — in-use check by hook, coordination, 3 WD approval,
10 WD publicity that ends by itself, objections, offline and filing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import pytest

from tests.workflows.conftest import OTHER, PROVIDER, Harness, at, end_of

WF = "lz.resource_offlining"
APPLICATION = {"provider_dept": PROVIDER, "resource_kind": "data_resource", "resource_id": "LZ-RES-0099",
               "resource_name": "旧版户籍接口", "reason": "系统已停用",
               "legal_basis": "《柳州市政务数据资源调度管理实施细则》第二十一条"}


def users_hook(users: list[str]) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    def resource_users(variables: Mapping[str, Any]) -> Mapping[str, Any]:
        assert variables["resource_id"] == APPLICATION["resource_id"]
        return {"users": users}

    return resource_users


@pytest.fixture
def unused(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness({"resource_users": users_hook([])})


@pytest.fixture
def in_use(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness({"resource_users": users_hook([OTHER])})


def _to_publicity(h: Harness) -> Any:
    inst = h.start(WF, APPLICATION, "provider_admin", at(2026, 9, 14, 10))
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10))
    return h.fire(inst, "approve", "bureau", at(2026, 9, 18, 10))


def test_main_path_publicity_crosses_mid_autumn_and_national_day(unused: Harness) -> None:
    """Approval due end of 09-18; publicity from 09-18 counts 09-20 (make-up Sunday) and skips 09-25..27 and
    10-01..07, ending at the end of 10-09, when the flow moves on by itself to offline and filing."""
    h = unused
    inst = h.start(WF, APPLICATION, "provider_admin", at(2026, 9, 14, 10))
    assert inst.state == "center_review"
    assert h.variables(inst)["users"] == []
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10))
    assert inst.state == "approval"
    assert h.due(inst, "approval") == end_of(date(2026, 9, 18))

    inst = h.fire(inst, "approve", "bureau", at(2026, 9, 18, 10))
    assert inst.state == "publicity"
    assert h.recipients(inst, template="publicity_started") == ["center", "provider_admin"]
    # 09-20, 09-21, 09-22, 09-23, 09-24, 09-28, 09-29, 09-30, 10-08, 10-09
    assert h.timer_at(inst, "publicity") == end_of(date(2026, 10, 9))

    h.tick(at(2026, 10, 9, 23, 59))
    assert h.get(inst).state == "publicity"
    h.tick(end_of(date(2026, 10, 9)))
    h.tick(end_of(date(2026, 10, 9)))
    assert h.get(inst).state == "offline"
    inst = h.fire(inst, "take_offline", "provider_admin", at(2026, 10, 12, 9))
    inst = h.fire(inst, "file", "center", at(2026, 10, 12, 10), {"filing_ref": "LZ-BA-2026-031"})
    assert (inst.status, inst.outcome) == ("completed", "offlined")
    assert h.path(inst) == ["form_check", "in_use_check", "center_review", "in_use_route", "approval", "publicity",
                            "offline", "filing", "offlined"]


def test_resource_in_use_goes_to_coordination_which_may_keep_it(in_use: Harness) -> None:
    """The hook reports a department using it: after the centre's review, coordination keeps the resource."""
    h = in_use
    inst = h.start(WF, APPLICATION, "provider_admin", at(2026, 9, 14, 10))
    assert h.variables(inst)["users"] == [OTHER]
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10))
    assert inst.state == "coordination"
    inst = h.fire(inst, "keep", "center", at(2026, 9, 16, 10), {"coordination_result": "使用部门仍需调用"})
    assert (inst.status, inst.outcome) == ("completed", "kept")


def test_coordination_may_proceed_to_approval(in_use: Harness) -> None:
    """Coordination agrees to go on: the 3 WD approval starts then (09-16 → end of 09-21, Sunday 09-20 worked)."""
    h = in_use
    inst = h.start(WF, APPLICATION, "provider_admin", at(2026, 9, 14, 10))
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10))
    inst = h.fire(inst, "proceed", "center", at(2026, 9, 16, 10), {"coordination_result": "改用新版接口"})
    assert inst.state == "approval"
    # 09-17, 09-18, 09-20 (make-up Sunday)
    assert h.due(inst, "approval") == end_of(date(2026, 9, 20))


def test_objection_during_publicity_goes_to_coordination(unused: Harness) -> None:
    """Any department's admin may object during publicity: the timer is cancelled and coordination decides;
    proceeding starts a fresh 10 WD publicity."""
    h = unused
    inst = _to_publicity(h)
    inst = h.fire(inst, "object", "other_admin", at(2026, 9, 29, 10), {"objection": "本部门仍在使用"})
    assert inst.state == "objection_coordination"
    assert h.recipients(inst, template="objection_raised") == ["bureau", "center", "provider_admin"]
    h.tick(end_of(date(2026, 10, 9)))
    assert h.get(inst).state == "objection_coordination"

    inst = h.fire(inst, "proceed", "center", at(2026, 10, 9, 10), {"coordination_result": "已提供替代资源"})
    assert inst.state == "publicity"
    # 10-10 (make-up Saturday), 10-12..10-16, 10-19..10-22
    assert h.timer_at(inst, "publicity") == end_of(date(2026, 10, 22))


def test_objection_coordination_may_keep_the_resource(unused: Harness) -> None:
    """Coordination after an objection may keep the resource online."""
    h = unused
    inst = _to_publicity(h)
    inst = h.fire(inst, "object", "other_admin", at(2026, 9, 29, 10), {"objection": "仍在使用"})
    inst = h.fire(inst, "keep", "center", at(2026, 9, 30, 10), {"coordination_result": "保留"})
    assert inst.outcome == "kept"


def test_centre_rejects_an_ineligible_application(unused: Harness) -> None:
    """不符合下线条件: the centre rejects the application with its reasons."""
    h = unused
    inst = h.start(WF, APPLICATION, "provider_admin", at(2026, 9, 14, 10))
    inst = h.fire(inst, "reject", "center", at(2026, 9, 15, 10), {"review_comment": "缺少政策依据"})
    assert (inst.status, inst.outcome) == ("completed", "rejected")


def test_bureau_refuses_and_a_late_approval_escalates(unused: Harness) -> None:
    """Approval due end of 09-18; left late it breaches (bureau) and escalates to the supervisor; then refused."""
    h = unused
    inst = h.start(WF, APPLICATION, "provider_admin", at(2026, 9, 14, 10))
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10))
    for moment in (end_of(date(2026, 9, 17)), end_of(date(2026, 9, 18))):
        h.tick(moment)
        h.tick(moment)
    got = sorted((s.kind, s.recipient) for s in h.sent(inst) if s.kind != "notification")
    assert got == [("breach", "bureau"), ("escalation", "supervisor"), ("warning", "bureau")]
    inst = h.fire(inst, "refuse", "bureau", at(2026, 9, 21, 10), {"refusal_reason": "依据不足"})
    assert inst.outcome == "refused"


def test_failing_hook_keeps_the_instance_in_the_check_and_is_retried(make_harness: Callable[..., Harness]) -> None:
    """A hook that raises leaves the instance in the automatic step with the error; the worker retries it."""
    failures = [RuntimeError("backend unavailable")]

    def resource_users(variables: Mapping[str, Any]) -> Mapping[str, Any]:
        if failures:
            raise failures.pop()
        return {"users": []}

    h = make_harness({"resource_users": resource_users})
    inst = h.start(WF, APPLICATION, "provider_admin", at(2026, 9, 14, 10))
    assert inst.state == "in_use_check"
    assert "backend unavailable" in (h.get(inst).last_error or "")
    h.tick(at(2026, 9, 14, 11))
    assert h.get(inst).state == "center_review"
    assert h.get(inst).last_error is None


def test_catalog_offlining_needs_the_signed_and_sealed_template(unused: Harness) -> None:
    """Art. 20(1): a catalog entry goes offline only with the signed and sealed template; without it the
    provider is asked for it first."""
    h = unused
    inst = h.start(WF, {**APPLICATION, "resource_kind": "catalog"}, "provider_admin", at(2026, 9, 14, 10))
    assert inst.state == "attach_form"
    assert h.recipients(inst, template="returned_for_correction") == ["provider_admin"]
    inst = h.fire(inst, "attach_form", "provider_admin", at(2026, 9, 15, 10), {"sealed_form": "柳X目下〔2026〕7号"})
    assert inst.state == "center_review"
    other = h.start(WF, {**APPLICATION, "resource_kind": "catalog", "sealed_form": "柳X目下〔2026〕8号"},
                    "provider_admin", at(2026, 9, 14, 10), key="K-2")
    assert other.state == "center_review"
