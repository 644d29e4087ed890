"""Who may start and who may fire, for every shipped workflow: every declared role (and an outsider) against the
start and against every event; only the declared roles pass (issue 4)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

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


class TaggedDirectory:
    """Only the organisation lookup of a directory: every jurisdiction's bureau and centre have a department."""

    CODES: ClassVar[dict[str, str]] = {"bureau": make_credit_code(801), "center": make_credit_code(802)}

    def organisation_department(self, jurisdiction: str, org: str) -> str | None:
        return self.CODES.get(org)


DIRECTORY = TaggedDirectory()


def actor_for(spec: WorkflowSpec, role: RoleSpec, departments: dict[str, str]) -> Actor:
    """Someone holding exactly the role: its base role, at its department or organisation (or at an unrelated
    department when unbound)."""
    if role.department_variable:
        dept = departments[role.department_variable]
    elif role.org and spec.jurisdiction != "common":
        dept = TaggedDirectory.CODES[role.org]
    else:
        dept = make_credit_code(999)
    return Actor(f"holder of {role.name}", frozenset({role.base}), dept)


def fits(spec: WorkflowSpec, holder: RoleSpec, wanted: RoleSpec) -> bool:
    """A holder of `holder` also qualifies for `wanted` when the base is the same and `wanted` asks no other
    department or organisation (e.g. an objector's data_admin, bound to nothing, may be any data_admin)."""
    if holder.base != wanted.base:
        return False
    if wanted.department_variable is not None:
        return wanted.department_variable == holder.department_variable
    if wanted.org is not None:
        return wanted.org == holder.org and holder.department_variable is None
    return True


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
        expected = any(fits(spec, role, s) for s in starters)
        assert passes(authorise_start, spec, actor_for(spec, role, deps), deps, DIRECTORY) == expected, role.name
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
            expected = any(fits(spec, role, a) for a in allowed)
            ok = passes(authorise, actor, spec, t.roles, deps, f"fire {t.event}", DIRECTORY)
            assert ok == expected, f"{t.source}.{t.event} by {role.name}"
            if role.department_variable is not None:
                foreign = Actor("foreign", frozenset({role.base}), make_credit_code(997))
                expected_foreign = any(fits(spec, role, a) and a.department_variable is None and a.org is None
                                       for a in allowed)
                assert passes(authorise, foreign, spec, t.roles, deps, t.event, DIRECTORY) == expected_foreign
            if role.org is not None:
                foreign = Actor("foreign", frozenset({role.base}), make_credit_code(997))
                expected_foreign = any(fits(spec, role, a) and a.org is None for a in allowed)
                assert passes(authorise, foreign, spec, t.roles, deps, t.event, DIRECTORY) == expected_foreign


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
