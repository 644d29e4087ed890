"""Who may start and who may fire, for every shipped workflow: every declared role (and an outsider) against the
start and against every event; only the declared roles pass (issue 4)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from engine.authz import authorise, authorise_start
from engine.definitions import DefinitionSet
from engine.errors import PermissionDenied
from engine.fields import make_credit_code
from engine.ports import Actor
from engine.spec import RoleSpec, VariableType, WorkflowSpec
from tests.workflows.conftest import CONSUMER, PROVIDER, ROOT, STAFF, Harness, at

WORKFLOW_IDS = sorted(DefinitionSet.load([ROOT / "workflows"]).ids())


def department_values(spec: WorkflowSpec) -> dict[str, str]:
    """A distinct department for every department variable, so that a role of one party never matches another."""
    names = sorted(n for n, v in spec.variables.items() if v.type is VariableType.DEPARTMENT)
    return {n: make_credit_code(500 + i) for i, n in enumerate(names)}


def actor_for(spec: WorkflowSpec, role: RoleSpec, departments: dict[str, str]) -> Actor:
    """Someone holding exactly the role: its base role, at its department (or at an unrelated one when unbound)."""
    dept = departments[role.department_variable] if role.department_variable else make_credit_code(999)
    return Actor(f"holder of {role.name}", frozenset({role.base}), dept)


def fits(holder: RoleSpec, wanted: RoleSpec) -> bool:
    """A holder of `holder` also qualifies for `wanted` when the base is the same and `wanted` asks no other
    department (e.g. an objector's data_admin, bound to no department, may be any department's data_admin)."""
    return holder.base == wanted.base and wanted.department_variable in (None, holder.department_variable)


def passes(fn: Any, *args: Any) -> bool:
    try:
        fn(*args)
    except PermissionDenied:
        return False
    return True


def spec_of(definitions: DefinitionSet, wid: str) -> WorkflowSpec:
    return definitions.get(wid).spec  # type: ignore[no-any-return]


@pytest.mark.parametrize("wid", WORKFLOW_IDS)
def test_every_shipped_workflow_declares_who_may_start_it(definitions: DefinitionSet, wid: str) -> None:
    """Each workflow names its starting roles (`start: {roles: [...]}`), all declared roles."""
    spec = spec_of(definitions, wid)
    assert spec.start_roles
    assert set(spec.start_roles) <= set(spec.roles)


@pytest.mark.parametrize("wid", WORKFLOW_IDS)
def test_only_the_start_roles_may_start(definitions: DefinitionSet, wid: str) -> None:
    """Each declared role's holder may start exactly when a start role fits it; an outsider never may."""
    spec = spec_of(definitions, wid)
    deps = department_values(spec)
    starters = [spec.roles[r] for r in spec.start_roles]
    for role in spec.roles.values():
        expected = any(fits(role, s) for s in starters)
        assert passes(authorise_start, spec, actor_for(spec, role, deps), deps) == expected, role.name
    outsider = Actor("outsider", frozenset({"citizen"}), make_credit_code(998))
    assert not passes(authorise_start, spec, outsider, deps)
    assert passes(authorise_start, spec, Actor.system(), deps)


@pytest.mark.parametrize("wid", WORKFLOW_IDS)
def test_every_event_is_fired_only_by_its_roles(definitions: DefinitionSet, wid: str) -> None:
    """For every event of the workflow and every declared role: the holder passes iff the event allows a role
    that fits it; a holder of a department-bound role at a foreign department never passes."""
    spec = spec_of(definitions, wid)
    deps = department_values(spec)
    for t in spec.transitions:
        allowed = [spec.roles[r] for r in t.roles]
        for role in spec.roles.values():
            actor = actor_for(spec, role, deps)
            expected = any(fits(role, a) for a in allowed)
            ok = passes(authorise, actor, spec, t.roles, deps, f"fire {t.event}")
            assert ok == expected, f"{t.source}.{t.event} by {role.name}"
            if role.department_variable is not None:
                foreign = Actor("foreign", frozenset({role.base}), make_credit_code(997))
                expected_foreign = any(fits(role, a) and a.department_variable is None for a in allowed)
                assert passes(authorise, foreign, spec, t.roles, deps, t.event) == expected_foreign


def test_engine_refuses_a_start_by_a_provider_and_names_who_may(h: Harness) -> None:
    """A provider's data auditor may not file a data request; the error names consumer.data_admin."""
    h.clock.set(at(2026, 9, 30, 10))
    request = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "GX-RES-0001",
               "resource_name": "企业登记信息", "purpose": "企业开办一网通办", "sharing_type": "conditional"}
    auditor = STAFF["provider_auditor"].actor
    with pytest.raises(PermissionDenied) as err:
        h.engine.start("gx.data_request", "K-1", request, auditor)
    assert "consumer.data_admin" in str(err.value)
    assert h.engine.list(workflow_id="gx.data_request") == []


def test_recurring_round_without_start_roles_is_for_the_engine_only(definitions: DefinitionSet) -> None:
    """A recurring workflow whose file names no start roles is started by the worker alone."""
    spec = dataclasses.replace(spec_of(definitions, "cq.sharing_report"), start_roles=())
    bureau = Actor("bureau", frozenset({"bureau_reviewer"}))
    with pytest.raises(PermissionDenied) as err:
        authorise_start(spec, bureau, {})
    assert "recurring" in str(err.value)
    assert passes(authorise_start, spec, Actor.system(), {})
