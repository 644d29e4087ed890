"""The responsible department (责任部门) of every notice is the department that holds the late task: the
organisation for `org:` roles, the bound department variable for department roles, whoever the notice goes to."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.notify import Notice, NoticeWriter
from engine.spec import StateKind, VariableType, WorkflowSpec
from notifiers.directory import YamlDirectory
from notifiers.rendering import TemplateRenderer
from storage import open_store
from storage.tables import outbox_t

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "notifiers" / "example_directory.yaml"
DUE = datetime(2026, 10, 10, 0, 0, tzinfo=SHANGHAI)  # 24:00 of Friday 9 October 2026


def _departments() -> list[dict[str, Any]]:
    """The departments of the example directory, as its file lists them."""
    return list(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["departments"])


NAMES = {d["code"]: d["name"] for d in _departments()}
ORGS = {d["org"]: d["code"] for d in _departments() if d.get("org")}
PLAIN = [d["code"] for d in _departments() if not d.get("org")]  # departments that are no bureau or centre
SPECS = list(DefinitionSet.load([REPO / "workflows"]))


def _variables(spec: WorkflowSpec) -> dict[str, str]:
    """A different ordinary department for each department variable of the workflow."""
    names = [n for n, f in spec.variables.items() if f.type is VariableType.DEPARTMENT]
    assert len(names) <= len(PLAIN), f"{spec.id}: more department variables than test departments"
    return dict(zip(names, PLAIN, strict=False))


def _tasks(bound_by: str) -> list[tuple[WorkflowSpec, str]]:
    """(spec, task) of every shipped task whose assignee role is bound `by` org or by a department variable."""
    found = []
    for compiled in SPECS:
        spec = compiled.spec
        for name, st in spec.states.items():
            if st.kind is not StateKind.TASK or st.assignee is None:
                continue
            role = spec.roles[st.assignee]
            if (role.org if bound_by == "org" else role.department_variable) is not None:
                found.append((spec, name))
    return found


def _data(spec: WorkflowSpec, state: str, kind: str, roles: tuple[str, ...],
          directory: Any) -> list[dict[str, Any]]:
    template = {"warning": "sla_warning", "breach": "sla_breach", "escalation": "sla_escalation"}[kind]
    notice = Notice(kind, template, roles, state, f"sla:1:{kind}:0", due=DUE, late_by_days=1)
    items = NoticeWriter(directory).items(spec, "inst-1", "BK-1", _variables(spec), notice)
    return [dict(i.data) for i in items]


ORG_TASKS = _tasks("org")
DEPT_TASKS = _tasks("department")


def test_every_jurisdiction_with_org_roles_is_covered() -> None:
    """The shipped workflows have bureau and centre tasks in Guangxi and Liuzhou for the tests below to check."""
    covered = {(spec.jurisdiction, spec.roles[spec.states[s].assignee or ""].org) for spec, s in ORG_TASKS}
    assert {("gx", "bureau"), ("gx", "center"), ("lz", "bureau"), ("lz", "center")} <= covered


@pytest.mark.parametrize("kind", ["warning", "breach"])
@pytest.mark.parametrize(("spec", "state"), ORG_TASKS, ids=[f"{s.id}:{st}" for s, st in ORG_TASKS])
def test_org_task_notices_name_the_organisation(spec: WorkflowSpec, state: str, kind: str) -> None:
    """A bureau or centre task's notice names that organisation (code and name from the directory), never the
    department of an instance variable; sent to the supervisor too, it names the same organisation."""
    assignee = spec.roles[spec.states[state].assignee or ""]
    code = ORGS.get(f"{spec.jurisdiction}.{assignee.org}")
    supervisors = tuple(r for r in spec.roles if spec.roles[r].base == "data_supervisor")
    data = _data(spec, state, kind, (assignee.name, *supervisors), YamlDirectory(EXAMPLE))
    assert data, f"no one in the example directory is told about {spec.id}:{state}"
    wanted = (code, NAMES[code]) if code is not None else (None, assignee.title)
    assert {(d["department"], d["department_name"]) for d in data} == {wanted}
    assert not {d["department"] for d in data} & set(_variables(spec).values())


@pytest.mark.parametrize(("spec", "state"), DEPT_TASKS, ids=[f"{s.id}:{st}" for s, st in DEPT_TASKS])
def test_department_task_notices_name_the_bound_department(spec: WorkflowSpec, state: str) -> None:
    """A task of a department-bound role names the department of its variable, also in a supervisor's breach."""
    assignee = spec.roles[spec.states[state].assignee or ""]
    code = _variables(spec)[assignee.department_variable or ""]
    supervisors = tuple(r for r in spec.roles if spec.roles[r].base == "data_supervisor")
    data = _data(spec, state, "breach", (assignee.name, *supervisors), YamlDirectory(EXAMPLE))
    assert {(d["department"], d["department_name"]) for d in data} <= {(code, NAMES[code])}
    assert all(d["department"] == code for d in data)


def test_untagged_organisation_is_named_by_the_role_title(tmp_path: Path) -> None:
    """Where the directory tags no bureau, a bureau task's notice names the role's title and no department."""
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for d in raw["departments"]:
        d.pop("org", None)
    untagged = tmp_path / "directory.yaml"
    untagged.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    spec = next(c.spec for c in SPECS if c.spec.id == "gx.data_request")
    data = _data(spec, "normative_review", "breach", ("bureau.reviewer",), YamlDirectory(untagged))
    assert data
    assert {(d["department"], d["department_name"]) for d in data} == {(None, "自治区大数据发展局")}


def test_engine_breach_and_digest_name_the_bureau(db_url: str, tmp_path: Path) -> None:
    """The bureau's late normative review: warning, breach and escalation rows, and the supervisor digest that
    folds them, name 广西壮族自治区大数据发展局, not the providing department."""
    police, market = "11450000MB0P27314C", "11450000MB0Q58261K"
    clock = ManualClock(datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI))
    store = open_store(db_url)
    engine = Engine(store, DefinitionSet.load([REPO / "workflows" / "gx" / "data_request.yaml"]), clock=clock,
                    directory=YamlDirectory(EXAMPLE))
    admin = Actor("gx-rs-admin", frozenset({"data_admin"}), market)
    inst = engine.start("gx.data_request", "SQ-1", {
        "consumer_dept": market, "provider_dept": police, "resource_id": "RK-0001", "purpose": "核验",
        "sharing_type": "conditional"}, admin)
    for day in (9, 13):  # the warning at 24:00 10-08, then the breach and level 1 after 24:00 10-09
        clock.set(datetime(2026, 10, day, 9, 0, tzinfo=SHANGHAI))
        engine.tick(clock.now())
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox_t.c.kind, outbox_t.c.data)
                            .where(outbox_t.c.instance_id == inst.id)).all()
    engine.close()
    sla = [json.loads(r.data) for r in rows if r.kind in ("warning", "breach", "escalation")]
    assert {r["kind"] for r in sla} == {"warning", "breach", "escalation"}
    bureau = ORGS["gx.bureau"]
    assert {(r["department"], r["department_name"]) for r in sla} == {(bureau, NAMES[bureau])}
    digest = TemplateRenderer().render("supervisor_digest", {"count": len(sla), "items": sla})
    assert digest.text.count(f"｜{NAMES[bureau]}｜") == len(sla)
    assert police not in digest.text and NAMES[police] not in digest.text


def test_unset_department_variable_tells_no_one() -> None:
    """A department role whose variable is unset reaches no one (nobody may act in it), not every holder."""
    spec = next(c.spec for c in SPECS if c.spec.id == "gx.data_request")
    notice = Notice("breach", "sla_breach", ("provider.data_auditor", "bureau.data_supervisor"), "provider_approval",
                    "sla:1:breach:0", due=DUE, late_by_days=1)
    variables = {k: v for k, v in _variables(spec).items() if k != "provider_dept"}
    items = NoticeWriter(YamlDirectory(EXAMPLE)).items(spec, "inst-1", "BK-1", variables, notice)
    supervisors = {p.id for p in YamlDirectory(EXAMPLE).people("data_supervisor", ORGS["gx.bureau"])}
    assert supervisors and {i.recipient for i in items} == supervisors
