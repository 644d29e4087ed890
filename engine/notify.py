"""Turns notifications of a definition (on_enter / on_exit, SLA warnings, breaches, escalation levels) into
outbox rows: roles resolved to people with the Directory, one row per (person, channel with a contact). Every
notice names the department that holds the task (责任部门), whoever it is sent to, and writes deadlines one way."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.authz import department_wanted
from engine.clock import SHANGHAI
from engine.deadline_text import deadline_text
from engine.ports import Directory
from engine.spec import RoleSpec, StateKind, VariableType, WorkflowSpec
from engine.store import OutboxItem

log = logging.getLogger(__name__)

KIND_OF = {"state": "notification", "warning": "warning", "breach": "breach", "escalation": "escalation"}


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification to send: what, to which roles, about which state, with its dedupe key prefix."""

    kind: str  # state / warning / breach / escalation
    template: str
    roles: tuple[str, ...]
    state: str
    dedupe_prefix: str  # `sla:{clock}:{kind}:{level}` or `state:{instance}:{seq}:{template}`
    level: int = 0
    due: datetime | None = None
    late_by_days: int = 0
    outcome: str | None = None


class NoticeWriter:
    """Resolves the roles of a notice and writes its outbox items; without a Directory it writes none."""

    def __init__(self, directory: Directory | None) -> None:
        self.directory = directory
        self._warned = False
        self._unreachable: set[tuple[str, str, str | None]] = set()  # (workflow, role, department) said once

    def writes(self) -> bool:
        """Whether notices become outbox rows (a Directory is configured); said once in the log when not."""
        if self.directory is None:
            if not self._warned:
                log.warning("no directory configured: notifications are not written to the outbox")
                self._warned = True
            return False
        return True

    def items(
        self, spec: WorkflowSpec, instance_id: str, business_key: str, variables: Mapping[str, Any], notice: Notice
    ) -> list[OutboxItem]:
        directory = self.directory
        if not self.writes() or directory is None:
            return []
        out: list[OutboxItem] = []
        seen: set[tuple[str, str]] = set()
        holder = responsible_department(directory, spec, notice.state, variables)
        for role in notice.roles:
            r = spec.roles.get(role)
            if r is None:
                continue
            dept = bound_department(directory, spec, r, variables)
            # a state that is no task (an end, a wait) has no holder: the recipients' own department stands in
            where = holder or _named(directory, dept or procedure_department(spec, variables), r)
            data = {**notice_data(spec, instance_id, business_key, notice, where), "role": role,
                    "role_title": role_title(spec, role), "outcome": notice.outcome}
            if r.department_variable is not None and dept is None:
                # as nobody may act in the role (engine.authz), nobody is told: never every holder in the land
                log.warning("%s %s: %s is unset, so no one in role %s is told", spec.id, business_key,
                            r.department_variable, role)
                continue
            reached = False
            for person in directory.people(r.base, dept):  # unbound (or untagged org): every holder
                for channel, address in sorted(person.contacts.items()):
                    if not address:
                        continue
                    reached = True
                    if (person.id, channel) in seen:
                        continue
                    seen.add((person.id, channel))
                    out.append(OutboxItem(
                        instance_id=instance_id, channel=channel, recipient=person.id, recipient_address=address,
                        template=notice.template, data={**data, "recipient_name": person.name},
                        kind=KIND_OF[notice.kind], dedupe_key=f"{notice.dedupe_prefix}:{person.id}:{channel}",
                    ))
            if not reached:
                self._tell_unreachable(spec, role, dept)
        return out

    def _tell_unreachable(self, spec: WorkflowSpec, role: str, dept: str | None) -> None:
        """Say, once per workflow, role and department, that the directory has nobody reachable there: its
        notices go to no one until a person with a contact is added."""
        key = (spec.id, role, dept)
        if key in self._unreachable:
            return
        self._unreachable.add(key)
        where = f" of {self.directory.department_name(dept)} ({dept})" if dept and self.directory else ""
        log.warning("%s: nobody in role %s%s can be reached (no person with a contact in the directory): its "
                    "notices go to no one until one is added", spec.id, role, where)


def notice_data(spec: WorkflowSpec, instance_id: str, business_key: str, notice: Notice,
                where: tuple[str | None, str]) -> dict[str, Any]:
    """A notice's message data about its step: the case, the step, the department holding it, the deadline,
    how late and what to do. A notice adds whom it is for; the daily overdue list adds the clock's scope."""
    st = spec.states.get(notice.state)
    title = st.title.zh if st is not None and st.title is not None else notice.state
    assignee = st.assignee if st is not None and st.kind is StateKind.TASK else None
    department, dept_name = where
    due_text = notice.due.astimezone(SHANGHAI).isoformat() if notice.due is not None else None
    return {
        "workflow_id": spec.id, "workflow_name": spec.name.zh, "business_key": business_key,
        "instance_id": instance_id, "state": notice.state, "state_title": title,
        "department": department, "department_name": dept_name, "assignee_role": assignee,
        "assignee_role_title": role_title(spec, assignee) if assignee else None,
        "due": due_text, "due_text": deadline_text(notice.due) if notice.due is not None else None,
        "late_by": late_text(notice) if notice.kind in ("breach", "escalation") else "",
        "level": notice.level, "what_to_do": what_to_do(notice, title), "kind": KIND_OF[notice.kind],
    }


def role_title(spec: WorkflowSpec, role: str) -> str:
    """The role's Chinese title from the definition (`title:`), or its id when it has none."""
    r = spec.roles.get(role)
    return r.title if r is not None and r.title else role


def bound_department(directory: Directory, spec: WorkflowSpec, role: RoleSpec,
                     variables: Mapping[str, Any]) -> str | None:
    """The department a role is bound to in an instance: its department variable's value, or the department
    the directory tags as its organisation (`org: bureau`); None when unbound, unset or untagged. The same
    binding that decides who may act in the role (engine.authz)."""
    return department_wanted(role, spec, variables, directory)[1] or None


def responsible_department(directory: Directory, spec: WorkflowSpec, state: str,
                           variables: Mapping[str, Any]) -> tuple[str | None, str] | None:
    """(credit code, name) of the department that holds the task in `state` (责任部门): the one its assignee
    role is bound to; (None, the role's title) when that role names no department the directory knows;
    None when `state` is not a task."""
    st = spec.states.get(state)
    if st is None or st.kind is not StateKind.TASK or st.assignee is None:
        return None
    r = spec.roles.get(st.assignee)
    if r is None:
        return None
    return _named(directory, bound_department(directory, spec, r, variables), r)


def _named(directory: Directory, code: str | None, role: RoleSpec) -> tuple[str | None, str]:
    if code is None:
        return None, role.title or role.name
    return code, directory.department_name(code)


def procedure_department(spec: WorkflowSpec, variables: Mapping[str, Any]) -> str | None:
    """The department a notice about the whole procedure names: the provider's, else the one department
    variable set, else the consumer's, else the first department variable with a value."""
    for preferred in ("provider_dept", "department", "consumer_dept"):
        if isinstance(variables.get(preferred), str):
            return str(variables[preferred])
    for name, f in spec.variables.items():
        if f.type is VariableType.DEPARTMENT and isinstance(variables.get(name), str):
            return str(variables[name])
    return None


def late_text(notice: Notice) -> str:
    """How late, as a notice says it: 3个工作日, or 不足1个工作日 before a whole working day has passed."""
    # on the day after the last day, no whole working day has passed yet, but the deadline has
    # numbers run on in Chinese text, as official notices write them: 超时3个工作日
    return f"{notice.late_by_days}个工作日" if notice.late_by_days > 0 else "不足1个工作日"


def what_to_do(notice: Notice, title: str) -> str:
    """The sentence that tells the recipient what to do about the notice, in the bureau's wording."""
    when = f"（期限 {deadline_text(notice.due)}）" if notice.due is not None else ""
    if notice.kind == "warning":
        return f"「{title}」即将到期，请在期限前办结{when}"
    if notice.kind == "breach":
        return f"「{title}」已超过办理时限，请立即办理并说明原因{when}"
    if notice.kind == "escalation":
        return f"「{title}」超期未办，第{notice.level}级督办：请督促责任人立即办理"
    if notice.outcome:
        return f"流程已办结，结果：{notice.outcome}"
    return f"请办理「{title}」{when}"


def roles_of(items: Iterable[OutboxItem]) -> set[str]:
    return {i.recipient for i in items}
