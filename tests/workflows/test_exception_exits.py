"""The remaining exits of every workflow: each sequence of events ends where the regulation says."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.workflows.conftest import CONSUMER, OTHER, PROVIDER, Harness, at

BASIS = {"reason": "涉及国家秘密", "legal_basis": "《中华人民共和国保守国家秘密法》第二条"}
SHARING = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "R-1", "purpose": "核验"}
OFFLINE = {"provider_dept": PROVIDER, "resource_kind": "catalog", "resource_id": "C-1", "sealed_form": "XX-2026-01"}
OFFLINE_DATA = {"provider_dept": PROVIDER, "resource_kind": "data_resource", "resource_id": "R-1", "reason": "职能调整",
                "legal_basis": "机构改革方案"}
CLOUD = {"user_dept": CONSUMER, "request_form": "F-1", "resources": "2 vCPU"}
PLAN = {"scope": "s", "content": "c", "responsible_leader": "l", "responsible_office": "o", "liaison": "x"}
APP = {"dept": CONSUMER, "has_systems": True, "completion_date": "2026-11-30"}
APP_PLAN = {"scope": "s", "systems": ["a"], "responsible_leader": "l", "responsible_office": "o", "liaison": "x"}

Step = tuple[str, str, Mapping[str, Any]]

CASES: list[tuple[str, str, dict[str, Any], str, list[Step], str, str | None]] = [
    # (case, workflow, variables, starter, events, final state, outcome or None while running)
    ("gx coordination shares", "gx.data_request", {**SHARING, "sharing_type": "not_shared"}, "consumer_admin", [
        ("negotiation_failed", "provider_auditor", {"negotiation_failure": "分歧"}),
        ("share", "bureau", {"conditions": "按需"}), ("subscribe", "consumer_admin", {})], "granted", "granted"),
    ("gx consumer gives up at subscription", "gx.data_request", {**SHARING, "sharing_type": "conditional"},
     "consumer_admin", [("pass", "bureau", {}), ("approve", "provider_auditor", {}), ("push", "bureau", {}),
                        ("withdraw", "consumer_admin", {})], "withdrawn", "withdrawn"),
    ("lz negotiation agrees", "lz.data_request", {**SHARING, "sharing_type": "not_shared"}, "consumer_admin", [
        ("agree", "provider_auditor", {"conditions": "脱敏"})], "docking", None),
    ("lz coordination refuses", "lz.data_request", {**SHARING, "sharing_type": "not_shared"}, "consumer_admin", [
        ("negotiation_failed", "consumer_admin", {"negotiation_failure": "分歧"}),
        ("refuse", "bureau", BASIS)], "refused", "refused"),
    ("dispatch unconditional", "lz.dispatch_data_request", {**SHARING, "sharing_type": "unconditional"},
     "consumer_admin", [], "granted_directly", "granted"),
    ("dispatch refused at review", "lz.dispatch_data_request", {**SHARING, "sharing_type": "conditional"},
     "consumer_admin", [("refuse", "provider_auditor", BASIS)], "refused", "refused"),
    ("dispatch withdrawn", "lz.dispatch_data_request", {**SHARING, "sharing_type": "conditional"},
     "consumer_admin", [("withdraw", "consumer_admin", {})], "withdrawn", "withdrawn"),
    ("dispatch coordination shares", "lz.dispatch_data_request", {**SHARING, "sharing_type": "not_shared"},
     "consumer_admin", [("negotiation_failed", "provider_auditor", {"negotiation_failure": "分歧"}),
                        ("share", "bureau", {})], "docking", None),
    ("dispatch coordination refuses", "lz.dispatch_data_request", {**SHARING, "sharing_type": "not_shared"},
     "consumer_admin", [("negotiation_failed", "provider_auditor", {"negotiation_failure": "分歧"}),
                        ("refuse", "bureau", BASIS)], "refused", "refused"),
    ("catalog offlining withdrawn", "lz.resource_offlining", OFFLINE, "provider_admin",
     [("withdraw", "provider_admin", {})], "withdrawn", "withdrawn"),
    ("catalog offlining withdrawn before its template", "lz.resource_offlining", {**OFFLINE, "sealed_form": None},
     "provider_admin", [("withdraw", "provider_admin", {})], "withdrawn", "withdrawn"),
    ("data-resource offlining withdrawn", "lz.resource_offlining", OFFLINE_DATA, "provider_admin",
     [("withdraw", "provider_admin", {})], "withdrawn", "withdrawn"),
    ("data-resource offlining withdrawn before its basis", "lz.resource_offlining",
     {**OFFLINE_DATA, "legal_basis": None}, "provider_admin",
     [("withdraw", "provider_admin", {})], "withdrawn", "withdrawn"),
    ("data-resource offlining refused", "lz.resource_offlining", OFFLINE_DATA, "provider_admin",
     [("refuse", "bureau", {"refusal_reason": "依据不足"})], "refused", "refused"),
    ("gx migration plan returned by the bureau", "gx.network_migration",
     {"dept": CONSUMER, "has_private_network": True, "completion_date": "2026-06-30"}, "consumer_admin",
     [("submit_plan", "consumer_admin", PLAN), ("endorse", "consumer_leader", {}),
      ("return_plan", "bureau", {"review_comment": "范围不全"})], "self_check", None),
    ("lz migration plan returned by the bureau", "lz.network_migration",
     {"dept": CONSUMER, "has_private_network": True, "completion_date": "2026-06-30"}, "consumer_admin",
     [("submit_plan", "consumer_admin", PLAN), ("endorse", "consumer_leader", {}),
      ("return_plan", "bureau", {"review_comment": "范围不全"})], "self_check", None),
    ("cloud refused at approval", "gx.cloud_resource", CLOUD, "consumer_admin",
     [("endorse", "consumer_leader", {}), ("refuse", "bureau", {"refusal_reason": "重复申请"})], "refused", "refused"),
    ("cloud withdrawn", "lz.cloud_resource", CLOUD, "consumer_admin",
     [("endorse", "consumer_leader", {}), ("withdraw", "consumer_admin", {})], "withdrawn", "withdrawn"),
    ("gx app plan returned", "gx.app_migration", APP, "consumer_admin",
     [("submit_plan", "consumer_admin", APP_PLAN), ("return_plan", "bureau", {"review_comment": "补充系统清单"})],
     "self_check", None),
    ("lz app plan returned", "lz.app_migration", APP, "consumer_admin",
     [("submit_plan", "consumer_admin", APP_PLAN), ("return_plan", "bureau", {"review_comment": "补充系统清单"})],
     "self_check", None),
    ("catalog entry deleted", "lz.catalog_registration",
     {"dept": CONSUMER, "resource_name": "n", "category_code": "101001"}, "consumer_compiler",
     [("refuse", "consumer_section", {"review_comment": "重复"}), ("delete", "consumer_compiler", {})],
     "deleted", "withdrawn"),
    ("code set retired", "lz.code_set_registration",
     {"dept": CONSUMER, "code_set_name": "n", "standard_kind": "local", "standard_ref": "DB4502/T 1-2020"},
     "consumer_compiler",
     [("approve", "authority", {}), ("disable", "authority", {"status_reason": "废止"}),
      ("retire", "authority", {})], "retired", "withdrawn"),
    ("account rejected", "lz.platform_account", {"dept": CONSUMER, "action": "modify", "account_name": "a"},
     "consumer_admin", [("reject", "center", {"result_note": "账户不存在"})], "rejected", "refused"),
    ("account withdrawn", "lz.platform_account", {"dept": CONSUMER, "action": "add", "account_name": "a"},
     "consumer_admin", [("withdraw", "consumer_admin", {})], "withdrawn", "withdrawn"),
]


def _no_users(_variables: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"users": []}


def _code(variables: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"resource_code": "0" * 27}


def _code_set_code(variables: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"code_set_code": "20001"}


@pytest.mark.parametrize(("case", "wf", "variables", "starter", "events", "state", "outcome"), CASES,
                         ids=[c[0] for c in CASES])
def test_exit(make_harness: Callable[..., Harness], case: str, wf: str, variables: dict[str, Any], starter: str,
              events: list[Step], state: str, outcome: str | None) -> None:
    """The events, one working day apart, leave the instance in the expected state with the expected outcome."""
    h = make_harness({"resource_users": _no_users, "assign_resource_code": _code,
                      "assign_code_set_code": _code_set_code})
    inst = h.start(wf, variables, starter, at(2026, 3, 2, 10))
    for day, (event, who, payload) in enumerate(events, start=3):
        inst = h.fire(inst, event, who, at(2026, 3, day, 10), payload)
    assert (inst.state, inst.outcome) == (state, outcome)
    assert inst.status == ("running" if outcome is None else "completed")


def test_objection_to_publicity_may_come_from_any_department(make_harness: Callable[..., Harness]) -> None:
    """An objector needs no tie to the resource: the admin of a third department may object."""
    h = make_harness({"resource_users": _no_users})
    inst = h.start("lz.resource_offlining", OFFLINE_DATA, "provider_admin", at(2026, 3, 2, 10))
    inst = h.fire(inst, "approve", "bureau", at(2026, 3, 4, 10))
    inst = h.fire(inst, "object", "other_admin", at(2026, 3, 5, 10), {"objection": "仍在用"})
    assert inst.state == "objection_coordination"
    assert h.variables(inst)["provider_dept"] != OTHER
