"""Who may act: an actor acts in a workflow role when it holds the role's base role and, where the role is
bound to a department variable, belongs to that department (docs/language.md, "Roles")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import PermissionDenied
from engine.ports import Actor
from engine.spec import WorkflowSpec

SYSTEM_ROLE = "system"


def may_act(actor: Actor, spec: WorkflowSpec, role: str, variables: Mapping[str, Any]) -> bool:
    if SYSTEM_ROLE in actor.roles:
        return True
    r = spec.roles.get(role)
    if r is None or r.base not in actor.roles:
        return False
    if r.department_variable is None:
        return True
    wanted = variables.get(r.department_variable)
    return wanted is not None and actor.department == wanted


def describe_role(spec: WorkflowSpec, role: str, variables: Mapping[str, Any]) -> str:
    """`provider.data_auditor (data_auditor of 1145...)`: what an actor needs to act in the role."""
    r = spec.roles.get(role)
    if r is None:
        return role
    where = ""
    if r.department_variable is not None:
        where = f" of department {variables.get(r.department_variable) or '(' + r.department_variable + ' unset)'}"
    return f"{role} ({r.base}{where})"


def authorise(
    actor: Actor, spec: WorkflowSpec, roles: Iterable[str], variables: Mapping[str, Any], action: str
) -> None:
    """Raise PermissionDenied naming who may, unless the actor may act in one of `roles`."""
    roles = tuple(roles)
    if any(may_act(actor, spec, role, variables) for role in roles):
        return
    reason = ""
    if actor.department is not None and any(
        (r := spec.roles.get(role)) is not None and r.base in actor.roles and r.department_variable for role in roles
    ):
        reason = f"department {actor.department} is not the department of this instance"
    elif actor.roles:
        reason = f"holds {', '.join(sorted(actor.roles))}"
    raise PermissionDenied(actor.id, action, [describe_role(spec, r, variables) for r in roles], reason)


def authorise_base(actor: Actor, base_roles: Iterable[str], action: str) -> None:
    """For commands outside the definition (cancel, suspend, resume): any of these base roles, or the system."""
    wanted = frozenset(base_roles) | {SYSTEM_ROLE}
    if actor.roles & wanted:
        return
    raise PermissionDenied(actor.id, action, sorted(wanted), f"holds {', '.join(sorted(actor.roles)) or 'no role'}")


def start_roles(spec: WorkflowSpec) -> tuple[str, ...]:
    """The roles that may start an instance: `start.roles`; a recurring workflow without it is started by the
    engine only; a file written before `start` existed lets every declared role start (the earlier rule)."""
    if spec.start_roles:
        return spec.start_roles
    return () if spec.recurring is not None else tuple(spec.roles)


def authorise_start(spec: WorkflowSpec, actor: Actor, variables: Mapping[str, Any]) -> None:
    """Raise PermissionDenied naming who may, unless the actor may start an instance with these variables.

    A role bound to a department variable needs the actor's department to be the one named in `variables`
    (a consumer's data administrator starts requests of its own department only).
    """
    if SYSTEM_ROLE in actor.roles:
        return
    action = f"start {spec.id}"
    roles = start_roles(spec)
    if not roles:
        raise PermissionDenied(actor.id, action, ["the engine (recurring start)"],
                               "this recurring workflow is started by the worker on its schedule")
    authorise(actor, spec, roles, variables, action)
