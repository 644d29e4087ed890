"""lz.resource_offlining: dispatch rules art. 20 (catalog: sealed template, centre review with the in-use check by
hook, coordination, the centre offlines and files) and art. 21 (data resource: reason and basis, 3 WD approval,
10 WD publicity that ends by itself, objections, the provider offlines), one branch each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.definitions import DefinitionSet
from engine.errors import PayloadInvalid, PermissionDenied, TransitionNotAllowed
from tests.workflows.conftest import OTHER, PROVIDER, Harness, at, end_of
from tests.workflows.jurisdictions import LINE_STAFF, act, tagged_harness
from tests.workflows.jurisdictions import start as start_tagged

WF = "lz.resource_offlining"
#: Art. 21(1): a data resource is applied for with the reason and the legal or policy basis.
DATA_RESOURCE = {"provider_dept": PROVIDER, "resource_kind": "data_resource", "resource_id": "LZ-RES-0099",
                 "resource_name": "旧版户籍接口", "reason": "系统已停用",
                 "legal_basis": "《柳州市人民政府关于政务信息系统整合共享的通知》"}
#: Art. 20(1): a catalog entry comes with the signed and sealed platform template; reason and basis are not asked.
CATALOG = {"provider_dept": PROVIDER, "resource_kind": "catalog", "resource_id": "LZ-ML-0042",
           "resource_name": "旧版户籍信息目录", "sealed_form": "柳X目下〔2026〕7号"}
#: The states only the other branch has.
CATALOG_ONLY = {"form_check", "attach_form", "in_use_check", "center_review", "in_use_route", "coordination",
                "catalog_offline", "filing"}
DATA_RESOURCE_ONLY = {"basis_check", "supply_basis", "approval", "publicity", "objection_coordination", "offline"}


def users_hook(users: list[str], calls: list[str] | None = None) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    def resource_users(variables: Mapping[str, Any]) -> Mapping[str, Any]:
        if calls is not None:
            calls.append(str(variables["resource_id"]))
        return {"users": users}

    return resource_users


@pytest.fixture
def unused(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness({"resource_users": users_hook([])})


@pytest.fixture
def in_use(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness({"resource_users": users_hook([OTHER])})


def _to_publicity(h: Harness) -> Any:
    inst = h.start(WF, DATA_RESOURCE, "provider_admin", at(2026, 9, 15, 10))
    return h.fire(inst, "approve", "bureau", at(2026, 9, 18, 10))


# ---- data resource (art. 21) ---------------------------------------------------------------------------------

def test_data_resource_main_path_publicity_crosses_mid_autumn_and_national_day(unused: Harness) -> None:
    """Filed 09-15: the bureau's approval is due at the end of 09-18; publicity from 09-18 counts 09-20 (make-up
    Sunday) and skips 09-25..27 and 10-01..07, ending at the end of 10-09, when the flow moves on by itself to
    the provider, who takes it offline: no centre review, in-use check or filing on the way."""
    h = unused
    inst = h.start(WF, DATA_RESOURCE, "provider_admin", at(2026, 9, 15, 10))
    assert inst.state == "approval"
    # 09-16, 09-17, 09-18
    assert h.due(inst, "approval") == end_of(date(2026, 9, 18))
    assert h.recipients(inst, template="task_assigned") == ["bureau"]

    inst = h.fire(inst, "approve", "bureau", at(2026, 9, 18, 10))
    assert inst.state == "publicity"
    # art. 21(3): the bureau publishes; the provider and the centre (which coordinates objections) are told
    assert h.recipients(inst, template="publicity_started") == ["bureau", "center", "provider_admin"]
    # 09-20, 09-21, 09-22, 09-23, 09-24, 09-28, 09-29, 09-30, 10-08, 10-09
    assert h.timer_at(inst, "publicity") == end_of(date(2026, 10, 9))

    h.tick(at(2026, 10, 9, 23, 59))
    assert h.get(inst).state == "publicity"
    h.tick(end_of(date(2026, 10, 9)))
    h.tick(end_of(date(2026, 10, 9)))
    assert h.get(inst).state == "offline"
    inst = h.fire(inst, "take_offline", "provider_admin", at(2026, 10, 12, 9))
    assert (inst.status, inst.outcome) == ("completed", "offlined")
    assert h.path(inst) == ["kind_route", "basis_check", "approval", "publicity", "offline", "offlined"]
    assert not CATALOG_ONLY & set(h.path(inst))
    assert h.variables(inst)["users"] == []  # the in-use hook is a catalog step: never asked here


def test_data_resource_publicity_across_the_spring_festival(unused: Harness) -> None:
    """Filed Tue 2026-02-10, approved Thu 02-12: publicity counts 02-13, the make-up Saturday 02-14, skips
    02-15..02-23, counts 02-24..02-27, the make-up Saturday 02-28 and 03-02..03-04, ending at the end of 03-04."""
    h = unused
    inst = h.start(WF, DATA_RESOURCE, "provider_admin", at(2026, 2, 10, 10))
    # 02-11, 02-12, 02-13
    assert h.due(inst, "approval") == end_of(date(2026, 2, 13))
    inst = h.fire(inst, "approve", "bureau", at(2026, 2, 12, 15))
    assert h.timer_at(inst, "publicity") == end_of(date(2026, 3, 4))
    h.tick(end_of(date(2026, 3, 3)))
    assert h.get(inst).state == "publicity"
    h.tick(end_of(date(2026, 3, 4)))
    assert h.get(inst).state == "offline"
    assert h.task_clock(inst, "approval").status == "met"


def test_data_resource_without_reason_or_basis_is_asked_for_them_first(unused: Harness) -> None:
    """Art. 21(1): an application missing the reason or the legal basis goes back to the provider before the bureau
    sees it (no approval clock runs meanwhile); supplying them needs both, then the 3 WD approval starts."""
    h = unused
    for missing in ("reason", "legal_basis"):
        values = {k: v for k, v in DATA_RESOURCE.items() if k != missing}
        inst = h.start(WF, values, "provider_admin", at(2026, 9, 14, 10), key=f"K-{missing}")
        assert inst.state == "supply_basis"
        assert h.recipients(inst, template="returned_for_correction") == ["provider_admin"]
        assert [c for c in h.engine.clocks(inst.id) if c.state == "approval"] == []
    with pytest.raises(PayloadInvalid) as err:
        h.fire(inst, "supply_basis", "provider_admin", at(2026, 9, 15, 10), {"reason": "系统已停用"})
    assert err.value.field == "legal_basis"
    assert h.get(inst).state == "supply_basis"
    inst = h.fire(inst, "supply_basis", "provider_admin", at(2026, 9, 15, 10),
                  {"reason": "系统已停用", "legal_basis": "《柳州市政务信息系统整合共享工作方案》"})
    assert inst.state == "approval"
    # counted from the supply: 09-16, 09-17, 09-18
    assert h.due(inst, "approval") == end_of(date(2026, 9, 18))
    assert h.variables(inst)["legal_basis"] == "《柳州市政务信息系统整合共享工作方案》"


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


def test_bureau_refuses_and_a_late_approval_escalates(unused: Harness) -> None:
    """Approval due end of 09-18; left late it breaches (bureau) and escalates to the supervisor; then refused."""
    h = unused
    inst = h.start(WF, DATA_RESOURCE, "provider_admin", at(2026, 9, 15, 10))
    for moment in (end_of(date(2026, 9, 17)), end_of(date(2026, 9, 18))):
        h.tick(moment)
        h.tick(moment)
    got = sorted((s.kind, s.recipient) for s in h.sent(inst) if s.kind != "notification")
    assert got == [("breach", "bureau"), ("escalation", "supervisor"), ("warning", "bureau")]
    inst = h.fire(inst, "refuse", "bureau", at(2026, 9, 21, 10), {"refusal_reason": "依据不足"})
    assert inst.outcome == "refused"


def test_data_resource_is_taken_offline_by_the_provider_not_the_centre(unused: Harness) -> None:
    """Art. 21(4): the providing department completes the offlining; the centre may not, and files nothing."""
    h = unused
    inst = _to_publicity(h)
    h.tick(end_of(date(2026, 10, 9)))
    inst = h.get(inst)
    assert inst.state == "offline"
    with pytest.raises(PermissionDenied):
        h.fire(inst, "take_offline", "center", at(2026, 10, 12, 9))
    with pytest.raises(TransitionNotAllowed):
        h.fire(inst, "file", "center", at(2026, 10, 12, 9), {"filing_ref": "LZ-BA-2026-031"})
    inst = h.fire(inst, "take_offline", "provider_admin", at(2026, 10, 12, 10))
    assert (inst.state, inst.outcome) == ("offlined", "offlined")


# ---- catalog (art. 20) ---------------------------------------------------------------------------------------

def test_catalog_main_path_has_no_approval_or_publicity(make_harness: Callable[..., Harness]) -> None:
    """Art. 20: with the sealed template and nobody using it, the centre reviews, takes the catalog offline and
    files it; reason and legal basis are not asked; no bureau approval, no publicity, no clock, nothing told to the
    bureau."""
    calls: list[str] = []
    h = make_harness({"resource_users": users_hook([], calls)})
    inst = h.start(WF, CATALOG, "provider_admin", at(2026, 9, 14, 10))
    assert inst.state == "center_review"
    assert calls == ["LZ-ML-0042"]
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10), {"review_comment": "符合下线条件"})
    assert inst.state == "catalog_offline"
    inst = h.fire(inst, "take_offline", "center", at(2026, 9, 15, 11))
    assert inst.state == "filing"
    inst = h.fire(inst, "file", "center", at(2026, 9, 16, 10), {"filing_ref": "LZ-BA-2026-031"})
    assert (inst.status, inst.outcome) == ("completed", "offlined")
    assert h.path(inst) == ["kind_route", "form_check", "in_use_check", "center_review", "in_use_route",
                            "catalog_offline", "filing", "offlined"]
    assert not DATA_RESOURCE_ONLY & set(h.path(inst))
    assert h.engine.clocks(inst.id) == []
    assert h.sent(inst, template="publicity_started") == []
    assert "bureau" not in h.recipients(inst)
    values = h.variables(inst)
    assert "reason" not in values and "legal_basis" not in values
    assert values["filing_ref"] == "LZ-BA-2026-031"


def test_catalog_is_taken_offline_by_the_centre_not_the_provider(unused: Harness) -> None:
    """Art. 20(2): the information centre takes the catalog offline; the provider's admin may not, and the bureau
    has no step to approve."""
    h = unused
    inst = h.start(WF, CATALOG, "provider_admin", at(2026, 9, 14, 10))
    with pytest.raises(TransitionNotAllowed):
        h.fire(inst, "approve", "bureau", at(2026, 9, 15, 9))
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10))
    with pytest.raises(PermissionDenied):
        h.fire(inst, "take_offline", "provider_admin", at(2026, 9, 15, 11))
    assert h.get(inst).state == "catalog_offline"


def test_catalog_in_use_goes_to_coordination_which_may_keep_it(in_use: Harness) -> None:
    """Art. 20(2)/(3): the hook reports a department using the catalog; after the centre's review, coordination
    keeps it."""
    h = in_use
    inst = h.start(WF, CATALOG, "provider_admin", at(2026, 9, 14, 10))
    assert h.variables(inst)["users"] == [OTHER]
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10))
    assert inst.state == "coordination"
    told = sorted(m.recipient for m in h.sent(inst, template="task_assigned") if m.data.get("state") == "coordination")
    assert told == ["center", "provider_admin"]
    inst = h.fire(inst, "keep", "center", at(2026, 9, 16, 10), {"coordination_result": "使用部门仍需调用"})
    assert (inst.status, inst.outcome) == ("completed", "kept")


def test_catalog_coordination_may_offline_it_and_the_centre_files_it(in_use: Harness) -> None:
    """Art. 20(3)/(4): coordination agrees to offline the catalog: the centre takes it offline and files it, with
    no approval or publicity in between."""
    h = in_use
    inst = h.start(WF, CATALOG, "provider_admin", at(2026, 9, 14, 10))
    inst = h.fire(inst, "accept", "center", at(2026, 9, 15, 10))
    inst = h.fire(inst, "proceed", "center", at(2026, 9, 16, 10), {"coordination_result": "改用新版目录"})
    assert inst.state == "catalog_offline"
    inst = h.fire(inst, "take_offline", "center", at(2026, 9, 16, 11))
    inst = h.fire(inst, "file", "center", at(2026, 9, 17, 10))
    assert inst.outcome == "offlined"
    assert h.path(inst)[-4:] == ["coordination", "catalog_offline", "filing", "offlined"]
    assert h.engine.clocks(inst.id) == []


def test_centre_rejects_an_ineligible_application(unused: Harness) -> None:
    """不符合下线条件: the centre rejects the catalog application with its reasons."""
    h = unused
    inst = h.start(WF, CATALOG, "provider_admin", at(2026, 9, 14, 10))
    inst = h.fire(inst, "reject", "center", at(2026, 9, 15, 10), {"review_comment": "该目录仍为基础库目录"})
    assert (inst.status, inst.outcome) == ("completed", "rejected")


def test_catalog_offlining_needs_the_signed_and_sealed_template(unused: Harness) -> None:
    """Art. 20(1): a catalog entry goes offline only with the signed and sealed template; without it the
    provider is asked for it first."""
    h = unused
    bare = {k: v for k, v in CATALOG.items() if k != "sealed_form"}
    inst = h.start(WF, bare, "provider_admin", at(2026, 9, 14, 10))
    assert inst.state == "attach_form"
    assert h.recipients(inst, template="returned_for_correction") == ["provider_admin"]
    inst = h.fire(inst, "attach_form", "provider_admin", at(2026, 9, 15, 10), {"sealed_form": "柳X目下〔2026〕7号"})
    assert inst.state == "center_review"


def test_a_sealed_form_does_not_matter_to_a_data_resource(unused: Harness) -> None:
    """The template check is the catalog's: a data resource without one goes straight to the bureau."""
    inst = unused.start(WF, DATA_RESOURCE, "provider_admin", at(2026, 9, 14, 10))
    assert inst.state == "approval"


def test_failing_hook_keeps_the_instance_in_the_check_and_is_retried(make_harness: Callable[..., Harness]) -> None:
    """A hook that raises leaves the instance in the automatic step with the error; the worker retries it."""
    failures = [RuntimeError("backend unavailable")]

    def resource_users(variables: Mapping[str, Any]) -> Mapping[str, Any]:
        if failures:
            raise failures.pop()
        return {"users": []}

    h = make_harness({"resource_users": resource_users})
    inst = h.start(WF, CATALOG, "provider_admin", at(2026, 9, 14, 10))
    assert inst.state == "in_use_check"
    assert "backend unavailable" in (h.get(inst).last_error or "")
    h.tick(at(2026, 9, 14, 11))
    assert h.get(inst).state == "center_review"
    assert h.get(inst).last_error is None


# ---- who acts --------------------------------------------------------------------------------------------------

def test_each_branch_is_run_by_its_own_organisation(tmp_path: Path, definitions: DefinitionSet) -> None:
    """With lz.bureau and lz.center tagged: the catalog is reviewed by the centre (Liuzhou's, not Guangxi's) and
    the bureau is never told; the data resource is approved by Liuzhou's bureau and its publicity reaches it."""
    with tagged_harness(tmp_path, definitions) as h:
        h.engine.register_hook("resource_users", users_hook([]))
        cat = start_tagged(h, WF, CATALOG, "provider_admin", at(2026, 9, 14, 10))
        with pytest.raises(PermissionDenied):
            act(h, cat, "accept", "gx_center", at(2026, 9, 15, 9))
        cat = act(h, cat, "accept", "lz_center", at(2026, 9, 15, 10))
        assert cat.state == "catalog_offline"
        assert not {r for r in h.recipients(cat) if r.endswith("_bureau")}

        h.clock.set(at(2026, 9, 15, 10))
        res = h.engine.start(WF, "K-2", DATA_RESOURCE, LINE_STAFF["provider_admin"])
        with pytest.raises(PermissionDenied):
            act(h, res, "approve", "gx_bureau", at(2026, 9, 16, 10))
        res = act(h, res, "approve", "lz_bureau", at(2026, 9, 16, 11))
        assert h.recipients(res, template="publicity_started") == ["lz_bureau", "lz_center", "provider_admin"]
