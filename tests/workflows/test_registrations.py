"""Catalog registration through four review tiers (resource code by hook), code sets, app migration to the cloud,
platform accounts and the catalog update after a legal change."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.definitions import DefinitionSet
from engine.demo.hooks import DemoHooks, code_set_code
from engine.errors import GuardRejected, PayloadInvalid, PermissionDenied, TransitionNotAllowed
from engine.ports import Actor
from tests.workflows.conftest import CONSUMER, Harness, at, end_of
from tests.workflows.jurisdictions import ORGS, act, tagged_harness
from tests.workflows.jurisdictions import start as start_tagged

ENTRY = {"dept": CONSUMER, "resource_name": "低保对象信息", "category_code": "101001"}
CODE_SET = {"dept": CONSUMER, "code_set_name": "婚姻状况代码", "standard_kind": "national",
            "standard_ref": "GB/T 2261.2-2003"}


def assign_resource_code(variables: Mapping[str, Any]) -> Mapping[str, Any]:
    """Annex 3: class 1 + item 2 + entry 3 + region 6 + unit 9 (from the credit code) + sequence 6."""
    unit = variables["dept"][8:17]
    return {"resource_code": f"{variables['category_code']}{variables['region_code']}{unit}000001"}


@pytest.fixture
def cat(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness({"assign_resource_code": assign_resource_code})


@pytest.fixture
def codes(make_harness: Callable[..., Harness]) -> Harness:
    """A harness whose code-set codes come from the demo backend's hook (annex 2 §三)."""
    return make_harness({"assign_code_set_code": DemoHooks(1, []).assign_code_set_code})


def test_catalog_entry_passes_four_tiers_and_gets_its_code(cat: Harness) -> None:
    """Section, department and authority approve in turn; the hook assigns the 27-character code at the end."""
    h = cat
    inst = h.start("lz.catalog_registration", ENTRY, "consumer_compiler", at(2026, 5, 6, 9))
    assert inst.state == "section_review"
    inst = h.fire(inst, "approve", "consumer_section", at(2026, 5, 6, 10))
    inst = h.fire(inst, "approve", "consumer_dept_auditor", at(2026, 5, 7, 10))
    assert inst.state == "authority_review"
    assert "resource_code" not in h.variables(inst) or h.variables(inst)["resource_code"] is None
    inst = h.fire(inst, "approve", "authority", at(2026, 5, 8, 10))
    assert (inst.status, inst.outcome, inst.state) == ("completed", "done", "registered")
    code = h.variables(inst)["resource_code"]
    assert code == "101001" + "450200" + CONSUMER[8:17] + "000001"
    assert len(code) == 27


@pytest.mark.parametrize(("tier", "who", "approvals"), [
    ("section", "consumer_section", []),
    ("department", "consumer_dept_auditor", ["consumer_section"]),
    ("authority", "authority", ["consumer_section", "consumer_dept_auditor"]),
])
def test_refusal_at_any_tier_returns_to_the_compiler(cat: Harness, tier: str, who: str, approvals: list[str]) -> None:
    """A refusal at any tier goes back to the list compiler, who resubmits from the section tier."""
    h = cat
    inst = h.start("lz.catalog_registration", ENTRY, "consumer_compiler", at(2026, 5, 6, 9))
    for approver in approvals:
        inst = h.fire(inst, "approve", approver, at(2026, 5, 6, 10))
    inst = h.fire(inst, "refuse", who, at(2026, 5, 6, 11), {"review_comment": "信息项不全"})
    assert inst.state == "correction"
    assert h.variables(inst)["review_tier"] == tier
    assert h.recipients(inst, template="returned_for_correction") == ["consumer_compiler"]
    inst = h.fire(inst, "resubmit", "consumer_compiler", at(2026, 5, 7, 9), {"category_code": "101002"})
    assert inst.state == "section_review"
    assert h.variables(inst)["category_code"] == "101002"
    assert h.variables(inst)["resource_name"] == ENTRY["resource_name"]


def test_code_set_is_published_disabled_and_re_enabled(codes: Harness) -> None:
    """The authority publishes a code set, may disable it (out of the city standard) and enable it again."""
    h = codes
    inst = h.start("lz.code_set_registration", CODE_SET, "consumer_compiler", at(2026, 5, 6, 9))
    assert inst.state == "authority_review"
    inst = h.fire(inst, "approve", "authority", at(2026, 5, 6, 10))
    assert inst.state == "published"
    inst = h.fire(inst, "disable", "authority", at(2026, 6, 1, 10), {"status_reason": "标准已更新"})
    assert inst.state == "disabled"
    inst = h.fire(inst, "enable", "authority", at(2026, 6, 2, 10))
    assert inst.state == "published"
    assert h.variables(inst)["code_set_code"] == "00001"  # assigned once, at the approval
    with pytest.raises(PermissionDenied):
        h.fire(inst, "disable", "consumer_compiler", at(2026, 6, 3, 10), {"status_reason": "x"})


def test_code_set_refused_then_deleted(h: Harness) -> None:
    """A refused code set returns to the compiler, who may delete it."""
    inst = h.start("lz.code_set_registration", {"dept": CONSUMER, "code_set_name": "自定义代码",
                                                "standard_kind": "other"}, "consumer_compiler", at(2026, 5, 6, 9))
    inst = h.fire(inst, "refuse", "authority", at(2026, 5, 6, 10), {"review_comment": "已有国家标准"})
    inst = h.fire(inst, "delete", "consumer_compiler", at(2026, 5, 6, 11))
    assert inst.outcome == "withdrawn"


@pytest.mark.parametrize("kind", ["national", "provincial", "local", "sector"])
def test_a_standards_code_set_registered_without_its_number_goes_back_first(codes: Harness, kind: str) -> None:
    """Annex 2 §四(一): a code set following a national, provincial, local or sector standard lists the standard's
    number. Registered without it, it goes back to the compiler before the authority sees it; resubmitting still
    without it is refused (GuardRejected); with it, the review starts."""
    h = codes
    bare = {**CODE_SET, "standard_kind": kind, "standard_ref": None}
    inst = h.start("lz.code_set_registration", bare, "consumer_compiler", at(2026, 5, 6, 9))
    assert inst.state == "cite_standard"
    assert h.recipients(inst, template="returned_for_correction") == ["consumer_compiler"]
    assert h.sent(inst, template="task_assigned") == []
    with pytest.raises(TransitionNotAllowed):
        h.fire(inst, "approve", "authority", at(2026, 5, 6, 10))
    for payload in (None, {"standard_ref": ""}, {"standard_kind": "sector"}):
        with pytest.raises(GuardRejected) as err:
            h.fire(inst, "resubmit", "consumer_compiler", at(2026, 5, 6, 11), payload)
        assert err.value.guard == "standard_kind == 'other' or standard_ref"
    assert h.get(inst).state == "cite_standard"
    assert h.variables(inst)["standard_kind"] == kind
    inst = h.fire(inst, "resubmit", "consumer_compiler", at(2026, 5, 6, 12), {"standard_ref": "GB/T 2261.2-2003"})
    assert inst.state == "authority_review"
    assert h.variables(inst)["standard_ref"] == "GB/T 2261.2-2003"


def test_a_code_set_with_no_standard_needs_no_number(codes: Harness) -> None:
    """既无国家标准或行业标准又无相关规定: "other" goes to the review without a number, and a compiler asked for one may
    re-register the code set as "other" instead."""
    h = codes
    inst = h.start("lz.code_set_registration", {**CODE_SET, "standard_kind": "other", "standard_ref": None},
                   "consumer_compiler", at(2026, 5, 6, 9))
    assert inst.state == "authority_review"
    bare = {**CODE_SET, "standard_ref": None}
    inst = h.start("lz.code_set_registration", bare, "consumer_compiler", at(2026, 5, 6, 9), key="K-2")
    inst = h.fire(inst, "resubmit", "consumer_compiler", at(2026, 5, 6, 10), {"standard_kind": "other"})
    assert inst.state == "authority_review"


def test_a_resubmission_after_a_refusal_keeps_needing_the_number(codes: Harness) -> None:
    """The authority returns an "other" code set because a national standard exists: resubmitted as national, it
    needs the standard's number too."""
    h = codes
    inst = h.start("lz.code_set_registration", {**CODE_SET, "standard_kind": "other", "standard_ref": None},
                   "consumer_compiler", at(2026, 5, 6, 9))
    inst = h.fire(inst, "refuse", "authority", at(2026, 5, 6, 10), {"review_comment": "已有国家标准 GB/T 2261.2"})
    with pytest.raises(GuardRejected):
        h.fire(inst, "resubmit", "consumer_compiler", at(2026, 5, 7, 9), {"standard_kind": "national"})
    assert h.variables(inst)["standard_kind"] == "other"
    inst = h.fire(inst, "resubmit", "consumer_compiler", at(2026, 5, 7, 10),
                  {"standard_kind": "national", "standard_ref": "GB/T 2261.2-2003"})
    assert inst.state == "authority_review"


def test_approved_code_sets_get_their_marker_and_sequence(codes: Harness) -> None:
    """Annex 2 §三 "分类编码标记加上4位顺序码0001-9999": on approval the system codes each code set by its kind's
    marker (national 0, provincial 1, local 2, sector 3, other 4) and the next number of that marker; a code set
    still under review or refused has none."""
    h = codes
    approved: dict[str, str] = {}
    for n, (kind, ref) in enumerate([("local", "DB45/T 1-2020"), ("national", "GB/T 2260-2007"),
                                     ("local", "DB45/T 2-2021"), ("other", None), ("sector", "MZ/T 1-2010"),
                                     ("provincial", "DB45/T 9-2019")]):
        inst = h.start("lz.code_set_registration", {**CODE_SET, "standard_kind": kind, "standard_ref": ref},
                       "consumer_compiler", at(2026, 5, 6, 9), key=f"CS-{n}")
        assert h.variables(inst).get("code_set_code") is None
        inst = h.fire(inst, "approve", "authority", at(2026, 5, 7, 10))
        assert (inst.state, inst.status) == ("published", "running")
        approved[f"{kind}-{n}"] = h.variables(inst)["code_set_code"]
        assert h.path(inst)[-2:] == ["assign_code", "published"]
    assert approved == {"local-0": "20001", "national-1": "00001", "local-2": "20002", "other-3": "40001",
                        "sector-4": "30001", "provincial-5": "10001"}
    refused = h.start("lz.code_set_registration", CODE_SET, "consumer_compiler", at(2026, 5, 8, 9), key="CS-R")
    refused = h.fire(refused, "refuse", "authority", at(2026, 5, 8, 10), {"review_comment": "重复注册"})
    assert h.variables(refused).get("code_set_code") is None


def test_the_demo_code_set_numbering_keeps_to_four_digits() -> None:
    """The demo backend's numbering: marker + 0001..9999; a kind without a marker or a 5-digit sequence is refused
    rather than giving a code of another length."""
    assert [code_set_code(k, 1) for k in ("national", "provincial", "local", "sector", "other")] == [
        "00001", "10001", "20001", "30001", "40001"]
    assert code_set_code("sector", 9999) == "39999"
    for kind, sequence in (("local", 0), ("local", 10000), ("city", 1)):
        with pytest.raises(ValueError):
            code_set_code(kind, sequence)


#: An authority auditor at the Liuzhou centre, and at departments the catalog system's review is not theirs:
#: Liuzhou's bureau (where notifiers/example_directory.yaml puts the role today), Guangxi's centre, a line department.
CENTRE_AUDITOR = Actor("lz_center_authority", frozenset({"authority_auditor"}), ORGS["lz.center"])
OTHER_AUDITORS = [Actor("lz_bureau_authority", frozenset({"authority_auditor"}), ORGS["lz.bureau"]),
                  Actor("gx_center_authority", frozenset({"authority_auditor"}), ORGS["gx.center"]),
                  Actor("consumer_authority", frozenset({"authority_auditor"}), CONSUMER)]


@pytest.mark.parametrize(("wf", "variables", "tiers"), [
    ("lz.catalog_registration", ENTRY, ["consumer_section", "consumer_dept_auditor"]),
    ("lz.code_set_registration", CODE_SET, []),
], ids=["catalog", "code_set"])
def test_only_the_centres_authority_auditor_reviews(tmp_path: Path, definitions: DefinitionSet, wf: str,
                                                    variables: dict[str, Any], tiers: list[str]) -> None:
    """Guide §七(二)4 (信息化建设管理中心指派一名审核负责人 ... 完成全市资源编目数据的审核) and annex 2 §四 (the only
    code-set review body): with lz.center tagged, an authority auditor of any other department is refused the final
    review, the error naming lz.center; the centre's may approve."""
    with tagged_harness(tmp_path, definitions) as h:
        h.engine.register_hook("assign_resource_code", assign_resource_code)
        h.engine.register_hook("assign_code_set_code", DemoHooks(1, []).assign_code_set_code)
        inst = start_tagged(h, wf, variables, "consumer_compiler", at(2026, 5, 6, 9))
        for who in tiers:
            inst = act(h, inst, "approve", who, at(2026, 5, 6, 10))
        assert inst.state == "authority_review"
        h.clock.set(at(2026, 5, 7, 10))
        for stray in OTHER_AUDITORS:
            assert h.engine.allowed_events(inst.id, stray) == ()
            with pytest.raises(PermissionDenied) as err:
                h.engine.fire(inst.id, "approve", stray)
            assert "lz.center" in str(err.value)
            with pytest.raises(PermissionDenied):
                h.engine.fire(inst.id, "refuse", stray, {"review_comment": "x"})
        assert h.get(inst).state == "authority_review"
        inst = h.engine.fire(inst.id, "approve", CENTRE_AUDITOR)
        assert inst.state in ("registered", "published")
        assert h.engine.history(inst.id)[-2].actor == CENTRE_AUDITOR.id


APP_WORKFLOWS = ["gx.app_migration", "lz.app_migration"]
APP_PLAN = {"scope": "全部非涉密系统", "systems": ["低保管理系统", "救助系统"], "responsible_leader": "张局",
            "responsible_office": "办公室", "liaison": "赵六"}


def _app(h: Harness, wf: str, has_systems: bool = True, completion_date: str = "2026-11-30") -> Any:
    inst = h.start(wf, {"dept": CONSUMER, "has_systems": has_systems, "completion_date": completion_date},
                   "consumer_admin", at(2026, 3, 2, 10))
    if not has_systems:
        return inst
    return h.fire(inst, "submit_plan", "consumer_admin", at(2026, 3, 5, 10), APP_PLAN)


@pytest.mark.parametrize("wf", APP_WORKFLOWS)
def test_app_migration_main_path(h: Harness, wf: str) -> None:
    """Plan, bureau acceptance, joint plan with the centre, migration; the procedure is due end of 11-30."""
    inst = _app(h, wf)
    assert h.procedure_clock(inst).due_at == end_of(date(2026, 11, 30))
    assert h.variables(inst)["systems"] == ["低保管理系统", "救助系统"]
    inst = h.fire(inst, "accept", "bureau", at(2026, 3, 6, 10))
    inst = h.fire(inst, "agree_plan", "center", at(2026, 3, 20, 10), {"migration_plan": "分两批迁移"})
    inst = h.fire(inst, "migrated", "consumer_admin", at(2026, 9, 1, 10))
    assert (inst.status, inst.outcome) == ("completed", "done")


@pytest.mark.parametrize("wf", APP_WORKFLOWS)
def test_app_kept_in_house_must_open_interfaces(h: Harness, wf: str) -> None:
    """Guangxi art. 31 / Liuzhou art. 32 exception: after the bureau's review a system stays in-house but opens
    sharing interfaces."""
    inst = _app(h, wf)
    inst = h.fire(inst, "keep_in_house", "bureau", at(2026, 3, 6, 10), {"in_house_reason": "数据量大且涉及实时业务"})
    assert inst.state == "open_interfaces"
    inst = h.fire(inst, "interfaces_opened", "consumer_admin", at(2026, 4, 1, 10), {"interfaces": "REST /api/v1"})
    assert (inst.status, inst.outcome) == ("completed", "kept")


@pytest.mark.parametrize("wf", APP_WORKFLOWS)
def test_department_without_systems_is_exempted_and_never_warned(h: Harness, wf: str) -> None:
    """A2 note 2: a department with no non-classified system files a document and the bureau confirms the
    exemption; the completion date's clock stands still meanwhile, so passing the date warns nobody."""
    inst = _app(h, wf, has_systems=False, completion_date="2026-04-30")
    assert inst.state == "exemption_filing"
    assert h.procedure_clock(inst).status == "paused"
    inst = h.fire(inst, "file_exemption", "consumer_admin", at(2026, 4, 1, 10),
                  {"exemption_document": "X发〔2026〕3号"})
    h.tick(end_of(date(2026, 5, 6)))
    inst = h.fire(inst, "confirm_exemption", "bureau", at(2026, 5, 8, 10))
    assert (inst.status, inst.outcome) == ("completed", "exempted")
    assert [s for s in h.sent(inst) if s.kind != "notification"] == []
    assert h.variables(inst)["exemption_document"] == "X发〔2026〕3号"


@pytest.mark.parametrize("wf", APP_WORKFLOWS)
def test_rejected_app_exemption_turns_into_a_migration_plan(h: Harness, wf: str) -> None:
    """The bureau finds non-classified systems after all: the department plans the migration, the clock counts."""
    inst = _app(h, wf, has_systems=False)
    inst = h.fire(inst, "file_exemption", "consumer_admin", at(2026, 3, 3, 10), {"exemption_document": "说明"})
    inst = h.fire(inst, "reject_exemption", "bureau", at(2026, 3, 4, 10), {"review_comment": "存在门户网站系统"})
    assert inst.state == "self_check"
    assert h.variables(inst)["has_systems"] is True
    assert h.procedure_clock(inst).status == "running"


@pytest.mark.parametrize(("workflow", "own", "other"), [
    ("gx.app_migration", "gx", "lz"), ("lz.app_migration", "lz", "gx")])
def test_app_migration_is_reviewed_by_its_own_bureau_and_centre(
        tmp_path: Path, definitions: DefinitionSet, workflow: str, own: str, other: str) -> None:
    """Guangxi art. 31(2)/(3): the autonomous region's bureau and 信息中心; Liuzhou art. 32(2)/(3): the city's
    bureau and 信息化建设管理中心. The other jurisdiction's bureau and centre are refused; the breach ladder
    reaches the own supervisor only (art. 39)."""
    with tagged_harness(tmp_path, definitions) as h:
        inst = start_tagged(h, workflow, {"dept": CONSUMER, "has_systems": True, "completion_date": "2026-11-30"},
                            "consumer_admin", at(2026, 3, 2, 10))
        inst = act(h, inst, "submit_plan", "consumer_admin", at(2026, 3, 5, 10), APP_PLAN)
        with pytest.raises(PermissionDenied) as err:
            act(h, inst, "accept", f"{other}_bureau", at(2026, 3, 6, 10))
        assert f"{own}.bureau" in str(err.value)
        inst = act(h, inst, "accept", f"{own}_bureau", at(2026, 3, 6, 11))
        with pytest.raises(PermissionDenied):
            act(h, inst, "agree_plan", f"{other}_center", at(2026, 3, 9, 10), {"migration_plan": "x"})
        assert h.get(inst).state == "joint_plan"
        for moment in (end_of(date(2026, 11, 30)), end_of(date(2026, 12, 2))):
            h.tick(moment)
        supervisors = {s.recipient for s in h.sent(inst) if s.kind in ("breach", "escalation")
                       and s.recipient.endswith("_supervisor")}
        assert supervisors == {f"{own}_supervisor"}


def test_platform_account_is_done_within_2_wd(h: Harness) -> None:
    """Dispatch art. 12: requested Fri 2026-02-13, the centre has until the end of 02-24 (02-14 make-up Saturday,
    02-15..02-23 Spring Festival)."""
    inst = h.start("lz.platform_account", {"dept": CONSUMER, "action": "cancel", "account_name": "li.si"},
                   "consumer_admin", at(2026, 2, 13, 16))
    assert h.due(inst, "processing") == end_of(date(2026, 2, 24))
    inst = h.fire(inst, "complete", "center", at(2026, 2, 24, 10), {"result_note": "已注销"})
    assert (inst.status, inst.outcome) == ("completed", "done")


def test_catalog_update_counts_from_the_change_date_not_from_the_start(h: Harness) -> None:
    """Dispatch art. 14: a mandate changed on Sunday 2026-09-27 and the instance started on 09-30 → due by the
    end of 10-15, the 10th working day after the change (09-28, 09-29, 09-30, 10-08, 10-09, 10-10, 10-12..10-15),
    not 10-20 as counting from the start would give."""
    inst = h.start("lz.catalog_update", {"dept": CONSUMER, "change_kind": "mandate_changed",
                                         "change_basis": "机构职能调整", "change_date": "2026-09-27"},
                   "consumer_admin", at(2026, 9, 30, 10))
    assert h.procedure_clock(inst).due_at == end_of(date(2026, 10, 15))


@pytest.mark.parametrize("change_date", ["2099-01-01", "9999-12-31"])
def test_a_change_date_decades_away_is_refused(h: Harness, change_date: str) -> None:
    """A change date far from today (a typo, or a department pushing out its own deadline) is PayloadInvalid
    naming change_date, not a deadline in 2099, an OverflowError or a request to add a 2099 calendar."""
    with pytest.raises(PayloadInvalid) as err:
        h.start("lz.catalog_update", {"dept": CONSUMER, "change_kind": "law_revised", "change_basis": "修订",
                                      "change_date": change_date}, "consumer_admin", at(2026, 9, 23, 15))
    assert err.value.field == "change_date"


def test_catalog_update_is_due_10_wd_after_the_change(h: Harness) -> None:
    """Dispatch art. 14: a law revised on Wed 2026-09-23 → catalog updated by the end of 10-14 (09-25..27 and
    10-01..07 off, Saturday 10-10 worked); a returned update does not stop the clock."""
    inst = h.start("lz.catalog_update", {"dept": CONSUMER, "change_kind": "law_revised",
                                         "change_basis": "《广西壮族自治区大数据发展条例》修订",
                                         "change_date": "2026-09-23"}, "consumer_admin", at(2026, 9, 23, 15))
    # 09-24, 09-28, 09-29, 09-30, 10-08, 10-09, 10-10, 10-12, 10-13, 10-14
    assert h.procedure_clock(inst).due_at == end_of(date(2026, 10, 14))
    inst = h.fire(inst, "submit_update", "consumer_admin", at(2026, 10, 9, 10), {"update_summary": "新增 3 个信息项"})
    inst = h.fire(inst, "return_update", "consumer_auditor", at(2026, 10, 9, 15), {"review_comment": "信息项缺失"})
    assert inst.state == "update"
    assert h.procedure_clock(inst).due_at == end_of(date(2026, 10, 14))
    inst = h.fire(inst, "submit_update", "consumer_admin", at(2026, 10, 12, 10), {"update_summary": "补全"})
    inst = h.fire(inst, "publish", "consumer_auditor", at(2026, 10, 13, 10))
    assert (inst.status, inst.outcome) == ("completed", "done")
    assert h.procedure_clock(inst).status == "met"


@pytest.mark.parametrize("wf", APP_WORKFLOWS)
def test_a_completion_date_already_past_at_the_start_breaches_at_the_next_tick(h: Harness, wf: str) -> None:
    """A department files on Mon 2 March 2026 a plan whose completion date, Fri 27 February, has passed: the
    procedure is late from its start. The first tick records and tells the breach and level 1, the tick on Wed
    4 March level 2 (2 WD on, 24:00 on Tue 3 March), each once; the warnings before the due time are not sent."""
    inst = h.start(wf, {"dept": CONSUMER, "has_systems": True, "completion_date": "2026-02-27"},
                   "consumer_admin", at(2026, 3, 2, 10))
    assert h.procedure_clock(inst).due_at == end_of(date(2026, 2, 27))
    h.tick(at(2026, 3, 2, 10, 1))
    assert [(e.kind, e.data["level"]) for e in h.events_of(inst, "breach") + h.events_of(inst, "escalation")] == [
        ("breach", 0), ("escalation", 1)]
    h.tick(at(2026, 3, 4, 9))
    h.tick(at(2026, 3, 5, 9))
    clock = h.procedure_clock(inst)
    assert (clock.status, clock.next_fire_at) == ("breached", None)
    assert [(e.kind, e.data["level"]) for e in h.events_of(inst, "breach") + h.events_of(inst, "escalation")] == [
        ("breach", 0), ("escalation", 1), ("escalation", 2)]
    assert h.events_of(inst, "warning") == []
