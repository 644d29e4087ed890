"""Who may act: an actor acts in a workflow role when it holds the role's base role and, where the role is
bound to a department variable, belongs to that department, or, where it is bound to an organisation
(`org: bureau`), belongs to the department the directory tags as that organisation of the workflow's
jurisdiction (docs/language.md, "Roles")."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from engine.errors import PermissionDenied
from engine.ports import Actor
from engine.spec import RoleSpec, WorkflowSpec

SYSTEM_ROLE = "system"

log = logging.getLogger(__name__)
_untagged: set[tuple[str, str]] = set()  # (jurisdiction, org) already logged as having no tagged department


def organisation_department(directory: Any, spec: WorkflowSpec, org: str) -> str | None:
    """The credit code of the department the directory tags `<jurisdiction>.<org>`, or None: then the role
    is not bound (any holder of the base role, as before organisations were tagged), said once in the log."""
    lookup = getattr(directory, "organisation_department", None)
    code = lookup(spec.jurisdiction, org) if callable(lookup) else None
    if isinstance(code, str) and code:
        return code
    if (spec.jurisdiction, org) not in _untagged:
        _untagged.add((spec.jurisdiction, org))
        # a warning, not a note: it widens who may act on the bureau's steps
        log.warning("no department tagged org %s.%s in the directory: roles bound to the %s act and are told "
                    "as any holder of their base role (tag it in the directory: see docs/language.md)",
                    spec.jurisdiction, org, org)
    return None


def department_wanted(r: RoleSpec, spec: WorkflowSpec, variables: Mapping[str, Any],
                       directory: Any) -> tuple[bool, str | None]:
    """(bound, department): whether the role asks for one department, and which (None: unset variable)."""
    if r.department_variable is not None:
        wanted = variables.get(r.department_variable)
        return True, wanted if isinstance(wanted, str) else None
    if r.org is not None:
        code = organisation_department(directory, spec, r.org)
        return code is not None, code
    return False, None


def may_act(actor: Actor, spec: WorkflowSpec, role: str, variables: Mapping[str, Any],
            directory: Any = None) -> bool:
    if SYSTEM_ROLE in actor.roles:
        return True
    r = spec.roles.get(role)
    return r is not None and _holds(actor, r, spec, variables, directory)


def _holds(actor: Actor, r: RoleSpec, spec: WorkflowSpec, variables: Mapping[str, Any], directory: Any) -> bool:
    """Whether the actor holds the role's base role and belongs to the department the role is bound to."""
    if r.base not in actor.roles:
        return False
    bound, wanted = department_wanted(r, spec, variables, directory)
    return not bound or (wanted is not None and actor.department == wanted)


def describe_role(spec: WorkflowSpec, role: str, variables: Mapping[str, Any], directory: Any = None) -> str:
    """`provider.data_auditor (data_auditor of 1145...)`: what an actor needs to act in the role."""
    r = spec.roles.get(role)
    return role if r is None else _describe(spec, r, variables, directory)


def _describe(spec: WorkflowSpec, r: RoleSpec, variables: Mapping[str, Any], directory: Any) -> str:
    role = r.name
    where = ""
    if r.department_variable is not None:
        where = f" of department {variables.get(r.department_variable) or '(' + r.department_variable + ' unset)'}"
    elif r.org is not None:
        code = organisation_department(directory, spec, r.org)
        where = f" of {spec.jurisdiction}.{r.org}" + (f" ({code})" if code else "")
    return f"{role} ({r.base}{where})"


def acting_role(actor: Actor, spec: WorkflowSpec, roles: Iterable[str], variables: Mapping[str, Any],
                directory: Any = None) -> str | None:
    """The role the actor acts in: `system` for the engine, else the first of `roles` (in the order the
    definition lists them) whose base role it holds in the department the role is bound to; None when none.

    What the history records as the step's `actor_role`: the capacity the step was allowed in, which the
    directory cannot tell once the person has moved on."""
    if SYSTEM_ROLE in actor.roles:
        return SYSTEM_ROLE
    found = spec.roles
    for role in roles:
        r = found.get(role)
        if r is not None and _holds(actor, r, spec, variables, directory):
            return role
    return None


def may_act_in(actor: Actor, spec: WorkflowSpec, roles: Iterable[str], variables: Mapping[str, Any],
               directory: Any = None) -> bool:
    """Whether the actor may act in one of `roles`."""
    return acting_role(actor, spec, roles, variables, directory) is not None


def authorise(
    actor: Actor, spec: WorkflowSpec, roles: Iterable[str], variables: Mapping[str, Any], action: str,
    directory: Any = None,
) -> str:
    """The role the actor acts in (`acting_role`); PermissionDenied naming who may, unless it may act in one of
    `roles`."""
    roles = tuple(roles)
    role = acting_role(actor, spec, roles, variables, directory)
    if role is None:
        refuse(actor, spec, roles, variables, action, directory)
    return role


def refuse(
    actor: Actor, spec: WorkflowSpec, roles: Iterable[str], variables: Mapping[str, Any], action: str,
    directory: Any = None,
) -> NoReturn:
    """Raise PermissionDenied for `action`, naming the roles that may and why the actor does not hold one."""
    roles = tuple(roles)
    reason = ""
    held = [r for role in roles if (r := spec.roles.get(role)) is not None and r.base in actor.roles]
    if actor.department is not None and any(r.department_variable for r in held):
        reason = f"department {actor.department} is not the department of this instance"
    elif any(r.org for r in held):
        orgs = sorted({f"{spec.jurisdiction}.{r.org}" for r in held if r.org})
        reason = f"department {actor.department or '(none)'} is not {' or '.join(orgs)}"
    elif actor.roles:
        reason = f"holds {', '.join(sorted(actor.roles))}"
    raise PermissionDenied(actor.id, action, [describe_role(spec, r, variables, directory) for r in roles], reason)


def authorise_base(actor: Actor, base_roles: Iterable[str], action: str) -> None:
    """For commands outside the definition (cancel, suspend, resume): any of these base roles, or the system.

    Only the first check, made before the instance is read; `authorise_admin` then binds the role to the
    instance's jurisdiction."""
    wanted = frozenset(base_roles) | {SYSTEM_ROLE}
    if actor.roles & wanted:
        return
    raise PermissionDenied(actor.id, action, sorted(wanted), f"holds {', '.join(sorted(actor.roles)) or 'no role'}")


#: The organisation of a workflow's jurisdiction that administers its instances when the workflow declares
#: no role of an administering base role.
ADMIN_ORG = "bureau"


def admin_roles_of(spec: WorkflowSpec, base_roles: Iterable[str]) -> tuple[RoleSpec, ...]:
    """The roles that may cancel, suspend and resume instances of `spec`.

    Each role of the workflow whose base is one of `base_roles` (e.g. `bureau.reviewer`, `bureau.data_supervisor`,
    bound to `org: bureau`), bound as it is for the workflow's own transitions; a base role the workflow
    declares no role of acts as the jurisdiction's bureau (`org: bureau`): a Liuzhou bureau reviewer
    administers `lz.*` instances, not `gx.*` ones.
    """
    wanted = frozenset(base_roles)
    declared = [r for r in spec.roles.values() if r.base in wanted]
    bases = {r.base for r in declared}
    extra = [RoleSpec(f"{ADMIN_ORG}.{base}", base, org=ADMIN_ORG) for base in sorted(wanted - bases)]
    return (*declared, *extra)


def authorise_admin(actor: Actor, spec: WorkflowSpec, base_roles: Iterable[str], variables: Mapping[str, Any],
                    action: str, directory: Any = None) -> str:
    """The role the actor administers the instance in; PermissionDenied naming who may, unless the actor is the
    system (`system`) or acts in one of the roles `admin_roles_of(spec, base_roles)` (the first it does, by
    name: `bureau.reviewer`, or `bureau.<base role>` for a base role the workflow declares no role of): it holds
    the base role and belongs to the department the role is bound to (for `org: bureau`, the department the
    directory tags `<jurisdiction>.bureau`; where the directory tags none, any holder, as for the workflow's
    transitions)."""
    if SYSTEM_ROLE in actor.roles:
        return SYSTEM_ROLE
    roles = admin_roles_of(spec, base_roles)
    for r in roles:
        if _holds(actor, r, spec, variables, directory):
            return r.name
    held = [r for r in roles if r.base in actor.roles]
    if held:
        wanted = sorted({f"{spec.jurisdiction}.{r.org}" if r.org else "the department of this instance"
                         for r in held})
        reason = f"department {actor.department or '(none)'} is not {' or '.join(wanted)}"
    else:
        reason = f"holds {', '.join(sorted(actor.roles)) or 'no role'}"
    allowed = [_describe(spec, r, variables, directory) for r in roles] + [f"the engine ({SYSTEM_ROLE})"]
    raise PermissionDenied(actor.id, action, allowed, reason)


def start_roles(spec: WorkflowSpec) -> tuple[str, ...]:
    """The roles that may start an instance: `start.roles`; a recurring workflow without it is started by the
    engine only; a file written before `start` existed lets every declared role start (the earlier rule)."""
    if spec.start_roles:
        return spec.start_roles
    return () if spec.recurring is not None else tuple(spec.roles)


def authorise_start(spec: WorkflowSpec, actor: Actor, variables: Mapping[str, Any], directory: Any = None) -> str:
    """The role the actor starts the instance in (`system` for the engine, else the first of `start_roles`
    it acts in); PermissionDenied naming who may, unless it may start an instance with these variables.

    A role bound to a department variable needs the actor's department to be the one named in `variables`
    (a consumer's data administrator starts requests of its own department only).
    """
    if SYSTEM_ROLE in actor.roles:
        return SYSTEM_ROLE
    action = f"start {spec.id}"
    roles = start_roles(spec)
    if not roles:
        raise PermissionDenied(actor.id, action, ["the engine (recurring start)"],
                               "this recurring workflow is started by the worker on its schedule")
    return authorise(actor, spec, roles, variables, action, directory)
