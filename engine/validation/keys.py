"""The key tables of the workflow language: which keys each mapping takes, which are required, and the kind of
value each holds. The builder checks files against them and `engine.schema` derives the JSON Schema from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.spec import StateKind

#: snake_case names of states, events, variables, hooks, templates and outcomes.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Workflow roles are `party.role`, e.g. `provider.data_auditor`.
ROLE_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
#: Workflow ids are `jurisdiction.name`, e.g. `gx.data_request`.
WORKFLOW_ID_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
#: Durations, e.g. `2 WD`, `10 CD`, `4 WH` (the same form as engine.spec.DurationSpec.parse).
DURATION_PATTERN = r"^\s*\d{1,4}\s*(WD|CD|WH)\s*$"
#: Five cron fields: minute hour day month weekday.
CRON_PATTERN = r"^\s*\S+(\s+\S+){4}\s*$"

JURISDICTIONS = ("gx", "lz", "cq", "common")
#: Organisations a role may be bound to (`org:`); the directory tags one department per jurisdiction with each.
ORGANISATIONS = ("bureau", "center")
CALENDARS = ("CN", "CN-GX")
#: The calendar each regional jurisdiction must count on (Liuzhou lies in Guangxi); `common` may use either.
JURISDICTION_CALENDARS = {"gx": "CN-GX", "lz": "CN-GX", "cq": "CN"}
#: Escalation ladders end at this role; every file with an SLA declares it.
SUPERVISOR_ROLE = "bureau.data_supervisor"
#: Templates every definition may use without listing them under `templates:`.
SLA_DEFAULT_TEMPLATES = ("sla_warning", "sla_breach", "sla_escalation")


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a mapping: whether it is required, the kind of its value, and what it means."""

    required: bool
    kind: str
    doc: str = ""
    missing: str = ""  # the message when a required key is absent, if a plainer one helps


# Value kinds: workflow_id, localized, jurisdiction, calendar, text, name, event_name, role_ref, role_refs,
# names, name_or_names, strings, duration, durations, due, bool, positive_int, number, org, any, mapping_any,
# expression, variable_type, state_kind, cron, and the nested tables below (sources, roles, fields, hooks, states,
# transitions, task_sla, procedure_sla, notifications, escalations, branches, start, recurring).

TOP_KEYS: dict[str, Key] = {
    "id": Key(True, "workflow_id", "`jurisdiction.name`, lower case, e.g. gx.data_request"),
    "name": Key(True, "localized", "the procedure's name: {zh: ..., en: ...}"),
    "jurisdiction": Key(True, "jurisdiction", "gx (Guangxi), lz (Liuzhou), cq (Chongqing) or common"),
    "calendar": Key(True, "calendar", "calendar region: CN, or CN-GX for Guangxi's 壮族三月三"),
    "sources": Key(True, "sources", "the regulation articles the workflow implements"),
    "description": Key(False, "text", "free text"),
    "roles": Key(True, "roles", "the workflow roles: party.role -> {base, department, title}"),
    "variables": Key(False, "fields", "the instance's typed variables"),
    "hooks": Key(False, "hooks", "automatic-step hooks the backend registers: name -> what it does"),
    "templates": Key(False, "names", "notification templates the file uses besides the SLA defaults"),
    "start": Key(False, "start", "who may start an instance: {roles: [...]}; recurring workflows: besides the engine"),
    "initial": Key(True, "name", "the state a new instance enters"),
    "states": Key(True, "states", "state name -> state"),
    "transitions": Key(True, "transitions", "the user events"),
    "sla": Key(False, "procedure_sla", "the deadline of the whole procedure"),
    "recurring": Key(False, "recurring", "start instances on a schedule"),
}

LOCALIZED_KEYS: dict[str, Key] = {
    "zh": Key(True, "text", "Chinese name"),
    "en": Key(False, "text", "English name"),
}

SOURCE_KEYS: dict[str, Key] = {
    "document": Key(True, "text", "the regulation's title"),
    "articles": Key(False, "strings", 'article numbers, e.g. ["22", "22(5)"]'),
}

ROLE_KEYS: dict[str, Key] = {
    "base": Key(True, "name", "the base role an actor must hold, e.g. data_auditor"),
    "department": Key(False, "name", "a department variable the actor's department must equal"),
    "org": Key(False, "org", "bureau or center: the jurisdiction's organisation the actor must belong to"),
    "title": Key(False, "text", "the role's title"),
}

FIELD_KEYS: dict[str, Key] = {
    "type": Key(True, "variable_type", "string, text, int, float, bool, date, datetime, department, enum, list"),
    "required": Key(False, "bool", "refuse a start (or event) without it"),
    "default": Key(False, "any", "the value of an absent optional variable"),
    "values": Key(False, "strings", "enum: the allowed values"),
    "max_length": Key(False, "positive_int", "string/text: characters; list: items"),
    "min": Key(False, "number", "int/float: the smallest value allowed"),
    "max": Key(False, "number", "int/float: the largest value allowed"),
    "title": Key(False, "text", "the field's title"),
}

STATE_COMMON_KEYS: dict[str, Key] = {
    "kind": Key(True, "state_kind", "task, auto, timer, decision or end"),
    "title": Key(False, "localized", "{zh: ..., en: ...}"),
    "on_enter": Key(False, "notifications", "notifications sent on entering"),
    "on_exit": Key(False, "notifications", "notifications sent on leaving"),
}

STATE_KIND_KEYS: dict[StateKind, dict[str, Key]] = {
    StateKind.TASK: {
        "assignee": Key(True, "role_ref", "the workflow role that must act"),
        "sla": Key(False, "task_sla", "the task's deadline"),
    },
    StateKind.AUTO: {
        "hook": Key(True, "name", "a hook declared under `hooks`"),
        "next": Key(True, "name", "the state after the hook returned"),
    },
    StateKind.TIMER: {
        "after": Key(False, "duration", "wait this long after entering"),
        "at": Key(False, "name", "wait until the end of this date variable"),
        "next": Key(True, "name", "the state after the wait"),
    },
    StateKind.DECISION: {
        "branches": Key(True, "branches", "ordered {when, to}: the first true branch wins"),
        "default": Key(True, "name", "the state taken when no branch holds",
                       missing="a decision needs a `default` state, taken when no branch holds"),
    },
    StateKind.END: {
        "outcome": Key(True, "name", "granted, refused, kept, offlined, done, exempted, withdrawn, ..."),
    },
}

NOTIFICATION_KEYS: dict[str, Key] = {
    "template": Key(True, "name", "a template declared under `templates` (or an SLA default)"),
    "to": Key(True, "role_refs", "the roles to notify"),
}

SLA_KEYS: dict[str, Key] = {
    "due": Key(True, "due", "N WD | N CD | N WH, {date: variable}, or {after: N WD, from: variable}"),
    "warn_before": Key(False, "durations", "warnings, each that long before the due time"),
    "warn_notify": Key(False, "role_refs", "default: the assignee (procedure SLA: the supervisor)"),
    "warn_template": Key(False, "name", "default sla_warning"),
    "breach_notify": Key(False, "role_refs", "default: the assignee (procedure SLA: the supervisor)"),
    "breach_template": Key(False, "name", "default sla_breach"),
    "escalate": Key(False, "escalations", "the 督办 ladder after the due time"),
    "pause_in": Key(False, "names", "states in which the clock stands still (a task's: states reached from it)"),
}

DUE_KEYS: dict[str, Key] = {
    "date": Key(False, "name", "a date variable: due at the end of that day"),
    "after": Key(False, "duration", "with `from`: a period counted from a date variable"),
    "from": Key(False, "name", "with `after`: the date variable the period counts from (that day not counted)"),
}

LATE_KEYS: dict[str, Key] = {
    "due": Key(True, "due", "the event's deadline: {after: 2 WD, from: a date variable} or {date: a date variable}"),
    "mark": Key(True, "name", "a bool variable: true when the event came at or after the deadline, else false"),
}

ESCALATION_KEYS: dict[str, Key] = {
    "level": Key(True, "positive_int", "1, 2, ... strictly increasing"),
    "after": Key(True, "duration", "how long after the due time (non-decreasing)"),
    "notify": Key(True, "role_refs", "roles to notify; the last level includes bureau.data_supervisor"),
    "template": Key(False, "name", "default sla_escalation"),
}

BRANCH_KEYS: dict[str, Key] = {
    "when": Key(True, "expression", "a guard over the variables"),
    "to": Key(True, "name", "the state taken when it holds"),
}

TRANSITION_KEYS: dict[str, Key] = {
    "event": Key(True, "event_name", "the event's name (snake_case, not starting with _)"),
    "from": Key(True, "name_or_names", "one state or a list of states"),
    "to": Key(True, "name", "the destination state"),
    "role": Key(True, "role_refs", "the role (or roles) that may fire it"),
    "guard": Key(False, "expression", "a condition over the variables"),
    "payload": Key(False, "fields", "the fields the event carries"),
    "save": Key(False, "names", "payload fields copied into variables of the same name"),
    "set": Key(False, "mapping_any", "constants written into variables"),
    "title": Key(False, "localized", "{zh: ..., en: ...}"),
    "late": Key(False, "late", "marks the event late in a bool variable when it comes at or after its deadline"),
}

START_KEYS: dict[str, Key] = {
    "roles": Key(True, "role_refs", "the roles that may start an instance"),
}

RECURRING_KEYS: dict[str, Key] = {
    "cron": Key(True, "cron", "minute hour day month weekday, Asia/Shanghai"),
    "business_key": Key(True, "text", "a template over the fire date making repeated starts a no-op"),
    "variables": Key(False, "mapping_any", "the started instance's variables"),
}
