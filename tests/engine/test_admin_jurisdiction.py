"""Cancel, suspend and resume are bound to the workflow's jurisdiction: the bureau of `gx.*` administers `gx.*`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from engine import Actor, Engine, ManualClock
from engine.authz import admin_roles_of
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.errors import PermissionDenied
from engine.fields import make_credit_code
from engine.store import InstanceView
from notifiers.directory import YamlDirectory
from storage import open_store

ROOT = Path(__file__).resolve().parents[2]
GX_BUREAU = "11450000MB1A832730"  # tagged `org: gx.bureau` in notifiers/example_directory.yaml
LZ_BUREAU = "11450200MB1D56243D"  # tagged `org: lz.bureau`
HEALTH, POLICE = make_credit_code(1), make_credit_code(2)

GX_REVIEWER = Actor("gx-rev", frozenset({"bureau_reviewer"}), GX_BUREAU)
GX_SUPERVISOR = Actor("gx-sup", frozenset({"data_supervisor"}), GX_BUREAU)
LZ_REVIEWER = Actor("lz-rev", frozenset({"bureau_reviewer"}), LZ_BUREAU)
LZ_SUPERVISOR = Actor("lz-sup", frozenset({"data_supervisor"}), LZ_BUREAU)
STRAY_REVIEWER = Actor("stray-rev", frozenset({"bureau_reviewer"}), make_credit_code(9))
STRAY_SUPERVISOR = Actor("stray-sup", frozenset({"data_supervisor"}), make_credit_code(7))
NO_DEPT_REVIEWER = Actor("nodept-rev", frozenset({"bureau_reviewer"}))
APPLICANT = Actor("zhang.san", frozenset({"data_admin"}), HEALTH)
GX_VARS = {"consumer_dept": HEALTH, "provider_dept": POLICE, "resource_id": "RK-0001",
           "purpose": "新生儿出生医学证明办理核验", "sharing_type": "conditional"}
LZ_VARS = {"dept": POLICE, "resource_name": "户籍人口基本信息", "category_code": "101001"}

Command = Callable[[Engine, str, Actor], InstanceView]


def cancel(e: Engine, i: str, a: Actor) -> InstanceView:
    return e.cancel(i, a, "撤回")


def suspend(e: Engine, i: str, a: Actor) -> InstanceView:
    return e.suspend(i, a, "中止")


def resume(e: Engine, i: str, a: Actor) -> InstanceView:
    """Resume an instance the engine suspended first."""
    e.suspend(i, Actor.system(), "中止")
    return e.resume(i, a, "恢复")


def _name(value: object) -> str:
    return str(getattr(value, "id", None) or getattr(value, "__name__", None) or value)


CANCEL: Command = cancel
SUSPEND: Command = suspend
RESUME: Command = resume


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    defs = DefinitionSet.load([ROOT / "workflows" / "gx" / "data_request.yaml",
                               ROOT / "workflows" / "lz" / "catalog_registration.yaml"])
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    directory = YamlDirectory(ROOT / "notifiers" / "example_directory.yaml", clock)
    e = Engine(open_store(str(tmp_path / "admin.db")), defs, clock=clock, directory=directory)
    e.register_hook("resource_users", lambda variables: {"users": []})
    yield e
    e.close()


def _gx(engine: Engine) -> InstanceView:
    return engine.start("gx.data_request", f"SQ-{len(engine.list_instances())}", GX_VARS, APPLICANT)


def _lz(engine: Engine) -> InstanceView:
    return engine.start("lz.catalog_registration", f"ZC-{len(engine.list_instances())}", LZ_VARS, Actor.system())


@pytest.mark.parametrize(("command", "actor"), [
    (CANCEL, LZ_REVIEWER), (SUSPEND, LZ_REVIEWER), (RESUME, LZ_REVIEWER),
    (CANCEL, LZ_SUPERVISOR), (SUSPEND, LZ_SUPERVISOR), (RESUME, LZ_SUPERVISOR),
    (CANCEL, STRAY_REVIEWER), (SUSPEND, STRAY_REVIEWER), (RESUME, STRAY_REVIEWER),
    (CANCEL, STRAY_SUPERVISOR), (SUSPEND, STRAY_SUPERVISOR), (RESUME, STRAY_SUPERVISOR),
    (CANCEL, NO_DEPT_REVIEWER),
], ids=_name)
def test_an_admin_role_of_another_department_is_refused_on_a_gx_instance(engine: Engine, command: Command,
                                                                        actor: Actor) -> None:
    """Liuzhou's bureau, a stray department or none may not cancel/suspend/resume a 自治区 instance."""
    inst = _gx(engine)
    with pytest.raises(PermissionDenied) as caught:
        command(engine, inst.id, actor)
    assert engine.get(inst.id).status == ("suspended" if command is RESUME else "running")
    assert engine.history(inst.id)[-1].actor != actor.id
    assert f"is not gx.bureau); who may: bureau.reviewer (bureau_reviewer of gx.bureau ({GX_BUREAU}))" \
        in str(caught.value)
    assert "the engine (system)" in caught.value.allowed


@pytest.mark.parametrize(("command", "actor", "status"), [
    (CANCEL, GX_REVIEWER, "cancelled"), (SUSPEND, GX_REVIEWER, "suspended"), (RESUME, GX_REVIEWER, "running"),
    (CANCEL, GX_SUPERVISOR, "cancelled"), (SUSPEND, GX_SUPERVISOR, "suspended"), (RESUME, GX_SUPERVISOR, "running"),
    (CANCEL, Actor.system(), "cancelled"),
], ids=_name)
def test_the_gx_bureau_administers_gx_instances(engine: Engine, command: Command, actor: Actor,
                                                status: str) -> None:
    """The department tagged gx.bureau (and the engine) may cancel, suspend and resume a gx instance."""
    inst = _gx(engine)
    assert command(engine, inst.id, actor).status == status
    last = engine.history(inst.id)[-1]
    role = "system" if actor is Actor.system() else \
        "bureau.reviewer" if "bureau_reviewer" in actor.roles else "bureau.data_supervisor"
    assert (last.actor, last.actor_role, last.actor_department) == (actor.id, role, actor.department)


def test_the_same_actor_is_refused_a_transition_and_an_admin_command_alike(engine: Engine) -> None:
    """Liuzhou's reviewer is refused both `pass` and `cancel` on a gx instance, each saying gx.bureau."""
    inst = _gx(engine)
    with pytest.raises(PermissionDenied) as fired:
        engine.fire(inst.id, "pass", LZ_REVIEWER)
    with pytest.raises(PermissionDenied) as cancelled:
        engine.cancel(inst.id, LZ_REVIEWER)
    assert fired.value.reason == cancelled.value.reason == f"department {LZ_BUREAU} is not gx.bureau"


def test_a_workflow_without_admin_roles_is_administered_by_its_jurisdictions_bureau(engine: Engine) -> None:
    """lz.catalog_registration declares no bureau role: Liuzhou's bureau may cancel it, the 自治区 bureau not."""
    inst = _lz(engine)
    assert {r.org for r in admin_roles_of(engine.machine("lz.catalog_registration").spec, engine.admin_roles)} \
        == {"bureau"}
    with pytest.raises(PermissionDenied) as caught:
        engine.cancel(inst.id, GX_REVIEWER)
    status_after_refusal = engine.get(inst.id).status
    done = engine.cancel(inst.id, LZ_REVIEWER)
    last = engine.history(inst.id)[-1]
    assert caught.value.reason == f"department {GX_BUREAU} is not lz.bureau"
    assert (status_after_refusal, done.status) == ("running", "cancelled")
    # recorded in the role the jurisdiction's bureau administers in (admin_roles_of), as it held it then
    assert (last.actor_role, last.actor_department) == ("bureau.bureau_reviewer", LZ_BUREAU)


def test_the_history_records_org_and_department_bound_roles_as_held_then(engine: Engine) -> None:
    """The bureau's review records `bureau.reviewer` with the gx.bureau department, the provider's approval
    `provider.data_auditor` with the provider department: what the directory cannot tell once people move."""
    auditor = Actor("police-auditor", frozenset({"data_auditor"}), POLICE)
    inst = _gx(engine)
    engine.fire(inst.id, "pass", GX_REVIEWER)
    engine.fire(inst.id, "approve", auditor, {"conditions": "仅限核验使用"})
    steps = [(h.event, h.actor, h.actor_role, h.actor_department) for h in engine.history(inst.id)]
    assert steps[0] == ("start", APPLICANT.id, "consumer.data_admin", HEALTH)
    assert ("pass", GX_REVIEWER.id, "bureau.reviewer", GX_BUREAU) in steps
    assert ("approve", auditor.id, "provider.data_auditor", POLICE) in steps
    assert engine.verify_history(inst.id).ok


def test_an_actor_without_an_admin_role_is_refused_before_the_instance_is_read(engine: Engine) -> None:
    """A data admin may not cancel, even an instance that does not exist: the refusal names the base roles."""
    with pytest.raises(PermissionDenied) as caught:
        engine.cancel("0" * 32, APPLICANT)
    assert caught.value.allowed == ("bureau_reviewer", "data_supervisor", "system")
