"""What the demo's departments do in each task: the answers they choose, how often, and what they write.

The first choice of a state is the usual answer; a revisited state (after a correction or a meeting) always
takes it, so no case loops. `WAIT` leaves a timer state to its timer: the step ends by itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from engine.spec import FieldSpec, VariableType

WAIT = ""

#: (workflow, state) -> [(event, weight), ...]
CHOICES: Mapping[tuple[str, str], Sequence[tuple[str, int]]] = {
    ("lz.data_request", "provider_approval"): [("approve", 85), ("refuse", 15)],
    ("lz.data_request", "docking"): [("dock", 1)],
    ("lz.data_request", "subscription"): [("subscribe", 1)],
    ("lz.data_request", "negotiation"): [("agree", 1)],
    ("gx.data_request", "normative_review"): [("pass", 80), ("return_for_correction", 20)],
    ("gx.data_request", "correction"): [("resubmit", 1)],
    ("gx.data_request", "provider_approval"): [("approve", 85), ("refuse", 15)],
    ("gx.data_request", "reply_push"): [("push", 1)],
    ("gx.data_request", "subscription"): [("subscribe", 1)],
    ("gx.data_request", "negotiation"): [("agree", 1)],
    ("lz.data_quality", "objection_window"): [("accept", 65), ("object", 35)],
    ("lz.data_quality", "verification"): [("answer", 1)],
    ("lz.data_quality", "confirmation"): [("confirm", 85), ("reopen", 15)],
    ("lz.data_quality", "rating"): [("rate", 1)],
    # a catalog (dispatch art. 20): the centre reviews, coordinates when in use, takes it offline and files it
    ("lz.resource_offlining", "attach_form"): [("attach_form", 1)],
    ("lz.resource_offlining", "center_review"): [("accept", 90), ("reject", 10)],
    ("lz.resource_offlining", "coordination"): [("proceed", 70), ("keep", 30)],
    ("lz.resource_offlining", "catalog_offline"): [("take_offline", 1)],
    ("lz.resource_offlining", "filing"): [("file", 1)],
    # a data resource (art. 21): the bureau approves and publishes, the provider takes it offline
    ("lz.resource_offlining", "supply_basis"): [("supply_basis", 1)],
    ("lz.resource_offlining", "approval"): [("approve", 90), ("refuse", 10)],
    ("lz.resource_offlining", "publicity"): [(WAIT, 85), ("object", 15)],
    ("lz.resource_offlining", "objection_coordination"): [("proceed", 60), ("keep", 40)],
    ("lz.resource_offlining", "offline"): [("take_offline", 1)],
    ("lz.cloud_resource", "tier_review"): [("endorse", 1)],
    ("lz.cloud_resource", "approval"): [("approve", 92), ("refuse", 8)],
    ("lz.cloud_resource", "evaluation"): [("evaluate", 1)],
    ("lz.cloud_resource", "delivery"): [("deliver", 1)],
    ("lz.platform_account", "processing"): [("complete", 92), ("reject", 8)],
    ("lz.dispatch_data_request", "provider_review"): [("approve", 55), ("request_coordination", 35), ("refuse", 10)],
    ("lz.dispatch_data_request", "coordination_meeting"): [("meeting_held", 1)],
    ("lz.dispatch_data_request", "docking"): [("push_data", 1)],
    ("lz.dispatch_data_request", "quality_window"): [(WAIT, 80), ("object", 20)],
    ("lz.dispatch_data_request", "in_use"): [("accept", 1)],
    ("lz.dispatch_data_request", "investigation"): [("assign_fix", 1)],
    ("lz.dispatch_data_request", "provider_fix"): [("re_push", 1)],
    ("lz.dispatch_data_request", "platform_fix"): [("re_push", 1)],
    ("lz.dispatch_data_request", "confirmation"): [("confirm", 1)],
    ("lz.dispatch_data_request", "negotiation"): [("agree", 1)],
    ("lz.catalog_registration", "section_review"): [("approve", 85), ("refuse", 15)],
    ("lz.catalog_registration", "department_review"): [("approve", 1)],
    ("lz.catalog_registration", "authority_review"): [("approve", 1)],
    ("lz.catalog_registration", "correction"): [("resubmit", 1)],
}

#: Yes/no fields whose answer a step needs: a quality answer counts only once the data is updated (art. 23(4)).
FLAGS: Mapping[str, bool] = {"data_updated": True}

#: What people write in the payload fields that carry text.
TEXTS: Mapping[str, str] = {
    "reason": "该数据涉及个人隐私和重要数据，现有共享条件下无法保障数据安全",
    "legal_basis": "《中华人民共和国个人信息保护法》第十三条；《广西政务数据“聚通用”实施细则（试行）》第二十二条",
    "refusal_reason": "资源需求超出部门业务范围，申请依据不足",
    "correction_reasons": "用途及依据表述不完整，请补充业务场景和法规依据后重新提交",
    "review_comment": "资源分类与目录填报规范不一致，请按附件3编码规则修改",
    "coordination_topic": "提供部门对共享范围存在异议，申请召开供需协调会",
    "coordination_minutes": "协调会议确定按字段脱敏后有条件共享",
    "coordination_result": "经协调，使用部门已完成替代数据源切换",
    "conditions": "仅限本部门业务使用，不得向第三方提供",
    "objection": "数据更新不及时，部分记录与实际不符",
    "verification_result": "已核实，问题数据已更正并重新推送",
    "findings": "提供部门接口字段映射错误",
    "fix_note": "已修正字段映射并重新推送",
    "evaluation": "资源需求合理，建议按申请配置交付",
    "delivery_note": "云资源已开通并交付",
    "result_note": "账号已按申请办理",
    "sealed_form": "柳数据〔2026〕目录下线模板",
    "negotiation_failure": "双方对共享条件未能达成一致",
    "reply_comment": "答复缺少法律依据，请补充",
    "filing_ref": "柳数备〔2026〕号",
    "rating_comment": "数据质量总体良好",
}


def choose(workflow_id: str, state: str, visit: int, rng: random.Random) -> str | None:
    """The event to fire in `state` (WAIT: let the timer move it), or None when the playbook has no entry."""
    options = CHOICES.get((workflow_id, state))
    if not options:
        return None
    if visit > 1:
        return options[0][0]
    events = [event for event, _ in options]
    return rng.choices(events, weights=[w for _, w in options])[0]


def payload(fields: Sequence[FieldSpec], rng: random.Random) -> dict[str, Any]:
    """Values for the payload's fields: every required one and the texts people usually add."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.type is VariableType.ENUM:
            out[f.name] = rng.choice(f.values)
        elif f.type is VariableType.BOOL:
            out[f.name] = FLAGS.get(f.name, rng.random() < 0.7)
        elif f.type is VariableType.INT:
            out[f.name] = rng.randint(3, 5)
        elif f.name in TEXTS:
            out[f.name] = TEXTS[f.name]
        elif f.required:
            out[f.name] = f"{f.title or f.name}（示例）"
    return out
