"""The demo's cases: which procedures start when, for which departments, and when people answer a task.

Everything is drawn from a seeded random source, per case and per step, so the same seed gives the same run.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from engine.clock import SHANGHAI

FIRST_START = date(2026, 9, 1)
LAST_START = date(2026, 11, 15)

#: (workflow, weight, last start date): long procedures stop starting earlier so they end within 2026.
MIX: Sequence[tuple[str, int, date]] = (
    ("lz.data_request", 26, LAST_START),
    ("gx.data_request", 9, LAST_START),
    ("lz.data_quality", 15, LAST_START),
    ("lz.resource_offlining", 10, date(2026, 10, 31)),
    ("lz.cloud_resource", 12, LAST_START),
    ("lz.platform_account", 13, LAST_START),
    ("lz.dispatch_data_request", 10, date(2026, 11, 10)),
    ("lz.catalog_registration", 5, LAST_START),
)

_RESOURCES = ("人口基础信息", "企业登记信息", "社会保险参保信息", "不动产登记信息", "机动车驾驶人信息",
              "市场主体年报信息", "就业登记信息", "国土空间规划图斑")
_PREFIX = {"lz.data_request": "LZSQ", "gx.data_request": "GXSQ", "lz.data_quality": "ZLJH",
           "lz.resource_offlining": "ZYXX", "lz.cloud_resource": "YZY", "lz.platform_account": "ZH",
           "lz.dispatch_data_request": "DDSQ", "lz.catalog_registration": "MLZC"}


@dataclass(frozen=True, slots=True)
class Case:
    """One procedure the demo starts."""

    workflow_id: str
    business_key: str
    start: datetime
    variables: Mapping[str, Any]


def plan_cases(count: int, seed: int, departments: Sequence[str]) -> list[Case]:
    """`count` cases spread over autumn 2026 (National Day and its make-up days included), oldest first."""
    rng = random.Random(f"cases:{seed}")
    names = [wf for wf, _, _ in MIX]
    weights = [w for _, w, _ in MIX]
    last = {wf: day for wf, _, day in MIX}
    cases: list[Case] = []
    for n in range(count):
        wf = rng.choices(names, weights=weights)[0]
        span = (last[wf] - FIRST_START).days
        day = FIRST_START + timedelta(days=rng.randint(0, span))
        moment = datetime.combine(day, time(9), tzinfo=SHANGHAI) + timedelta(minutes=rng.randint(0, 8 * 60))
        key = f"{_PREFIX[wf]}-2026-{n + 1:04d}"
        cases.append(Case(wf, key, moment, _variables(wf, key, rng, sorted(departments), day)))
    cases.sort(key=lambda c: (c.start, c.business_key))
    return cases


def _variables(wf: str, key: str, rng: random.Random, departments: Sequence[str], day: date) -> dict[str, Any]:
    consumer, provider = rng.sample(list(departments), 2)
    resource = rng.choice(_RESOURCES)
    if wf in ("lz.data_request", "gx.data_request", "lz.dispatch_data_request"):
        sharing = rng.choices(["conditional", "unconditional", "not_shared"], weights=[78, 12, 10])[0]
        out: dict[str, Any] = {
            "consumer_dept": consumer, "provider_dept": provider, "resource_id": f"RES-{key}",
            "resource_name": resource, "purpose": f"办理业务需核验{resource}", "sharing_type": sharing,
        }
        if sharing == "unconditional" and rng.random() < 0.5:
            out["control_params"] = True  # the interface needs control parameters: reviewed like conditional
        return out
    if wf == "lz.data_quality":
        # the consumer opens the check the day the data arrives
        return {"consumer_dept": consumer, "provider_dept": provider, "resource_id": f"RES-{key}",
                "resource_name": resource, "data_received": day.isoformat()}
    if wf == "lz.resource_offlining":
        kind = rng.choices(["data_resource", "catalog"], [75, 25])[0]
        # what the application carries is drawn apart, so the other cases stay as they were
        filed = random.Random(f"offlining:{key}")
        out = {"provider_dept": provider, "resource_kind": kind, "resource_id": f"RES-{key}",
               "reason": f"{resource}已由新系统替代，原资源停止更新"}
        if kind == "catalog":
            # art. 20(1): the sealed offlining template, which about half attach only when asked
            if filed.random() < 0.5:
                out["sealed_form"] = f"柳数据〔2026〕目录下线模板-{key}"
        elif filed.random() < 0.85:
            # art. 21(1): the legal or policy basis; the rest are asked for it before the bureau's approval
            out["legal_basis"] = "《柳州市人民政府关于印发政务信息系统整合共享工作方案的通知》：原系统整合后停止运行"
        return out
    if wf == "lz.cloud_resource":
        return {"user_dept": consumer, "request_form": f"YZY-FORM-{key}", "resources": "8核16G云主机2台，500G存储"}
    if wf == "lz.platform_account":
        return {"dept": consumer, "action": rng.choice(["add", "modify", "cancel"]), "account_name": f"user-{key}"}
    if wf == "lz.catalog_registration":
        return {"dept": provider, "resource_name": resource, "category_code": rng.choice(["101001", "203002"])}
    raise ValueError(f"the demo has no case data for {wf}")


def answer_moment(cal: Any, entered: datetime, working_days: int, rng: random.Random) -> datetime:
    """A moment during office hours on the `working_days`-th working day after `entered` (0: the same day,
    or the next working day when the task arrived after hours or on a day off)."""
    local = entered.astimezone(SHANGHAI)
    day = local.date()
    if working_days > 0:
        day = cal.add_working_days(day, working_days)
    elif not cal.is_working_day(day) or local.time() >= time(16):
        day = cal.add_working_days(day, 1)
    opening = datetime.combine(day, time(9), tzinfo=SHANGHAI)
    moment = opening + timedelta(minutes=rng.randint(1, 8 * 60 - 1))
    if moment <= local:
        moment = local + timedelta(minutes=rng.randint(10, 50))
    return moment.replace(second=0, microsecond=0) + timedelta(seconds=30)  # never on a tick's full hour


def days_to_answer(due_working_days: int | None, late_share: float, last_day_share: float,
                   rng: random.Random) -> int:
    """Working days a department takes: early, on the last day (a warning fires first), or past the due day."""
    if due_working_days is None:
        return rng.randint(0, 2)
    roll = rng.random()
    if roll < late_share:
        return due_working_days + rng.randint(1, 4)
    if roll < late_share + last_day_share:
        return due_working_days
    return rng.randint(0, max(due_working_days - 1, 0))
