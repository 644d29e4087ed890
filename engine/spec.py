"""The typed, immutable model of a workflow definition: what the YAML says, with no I/O and no behaviour.

The loader (`engine.loader`) builds it from YAML, the validator checks it, the compiler turns it into a
`transitions` machine, and the runtime reads it. `docs/language.md` is the reference of the YAML form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

#: Events the engine fires itself; user-defined event names may not start with an underscore.
EVENT_DECIDE = "_decide"  # leaves a decision state by its first true branch (or the default)
EVENT_AUTO_DONE = "_auto"  # leaves an automatic step after its hook returned
EVENT_TIMER = "_timer"  # leaves a timer wait when its time has come

EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen_map(items: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view, so a definition cannot be changed after loading."""
    return MappingProxyType(dict(items or {}))


class DurationUnit(StrEnum):
    WORKING_DAYS = "WD"  # 工作日: statutory holidays off, make-up days on
    CALENDAR_DAYS = "CD"  # 自然日: last day moves past a day off (民法典 art. 203)
    WORKING_HOURS = "WH"  # hours within business hours on working days


_DURATION = re.compile(r"^\s*(\d{1,4})\s*(WD|CD|WH)\s*$")


@dataclass(frozen=True, slots=True)
class DurationSpec:
    """A period such as `2 WD`, `10 CD` or `4 WH`."""

    amount: int
    unit: DurationUnit

    @classmethod
    def parse(cls, text: str) -> DurationSpec:
        """Parse `N WD|CD|WH`; raise ValueError with the accepted form otherwise."""
        m = _DURATION.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"bad duration {text!r}: write a whole number and a unit, e.g. '2 WD', '10 CD', '4 WH'")
        return cls(int(m.group(1)), DurationUnit(m.group(2)))

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}"


@dataclass(frozen=True, slots=True)
class DueSpec:
    """When something is due: a period from the start (or from a date held in a variable, `from_variable`), or
    the end of a date held in a variable (`date_variable`)."""

    duration: DurationSpec | None = None
    date_variable: str | None = None
    from_variable: str | None = None  # with `duration`: count from this date (the date itself not counted)


@dataclass(frozen=True, slots=True)
class LateMark:
    """A transition's own deadline: whether the event came at or after `due` (anchored to a date variable) is
    written into the bool variable `mark`, e.g. an objection raised after the 2 WD window following receipt."""

    due: DueSpec
    mark: str


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class LocalizedName:
    zh: str
    en: str = ""

    def __str__(self) -> str:
        return self.zh if not self.en else f"{self.zh} ({self.en})"


@dataclass(frozen=True, slots=True)
class SourceRef:
    """An article of a regulation that the definition implements."""

    document: str
    articles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """A workflow role (e.g. `provider.data_auditor`) bound to a base role and maybe a department.

    An actor may act in this role when it holds `base` among its roles and, if `department_variable`
    is set, its department equals the instance variable of that name; if `org` is set, its department is
    the one the directory tags as that organisation of the workflow's jurisdiction (e.g. `gx.bureau`).
    """

    name: str
    base: str
    department_variable: str | None = None
    title: str = ""
    org: str | None = None  # `bureau` or `center`: the jurisdiction's organisation the actor must belong to


class VariableType(StrEnum):
    STRING = "string"  # one line, at most 200 characters unless max_length says otherwise
    TEXT = "text"  # free text, at most 4000 characters unless max_length says otherwise
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATE = "date"  # ISO date
    DATETIME = "datetime"  # ISO date-time with offset
    DEPARTMENT = "department"  # 18-character unified social credit code (GB 32100), check digit verified
    ENUM = "enum"  # one of `values`
    LIST = "list"  # a list of strings


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A typed field: an instance variable or a field of an event payload."""

    name: str
    type: VariableType
    required: bool = False
    default: Any = None
    values: tuple[str, ...] = ()
    max_length: int | None = None
    title: str = ""
    minimum: int | float | None = None  # int and float: the smallest value allowed
    maximum: int | float | None = None  # int and float: the largest value allowed


@dataclass(frozen=True, slots=True)
class NotificationSpec:
    """Send `template` to every person holding one of the roles `to`."""

    template: str
    to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EscalationLevelSpec:
    """Escalation level `level` fires `after` the due time, to the roles in `notify` (督办)."""

    level: int
    after: DurationSpec
    notify: tuple[str, ...]
    template: str = "sla_escalation"


@dataclass(frozen=True, slots=True)
class SlaSpec:
    """A deadline on a task or on the whole procedure, with its warnings and escalation ladder."""

    due: DueSpec
    warn_before: tuple[DurationSpec, ...] = ()
    warn_notify: tuple[str, ...] = ()  # empty: the task's assignee role
    warn_template: str = "sla_warning"
    breach_notify: tuple[str, ...] = ()  # empty: the task's assignee role
    breach_template: str = "sla_breach"
    escalations: tuple[EscalationLevelSpec, ...] = ()
    pause_in: tuple[str, ...] = ()  # procedure SLA only: states during which the clock stands still


class StateKind(StrEnum):
    TASK = "task"  # a person acts: leaves by one of its events
    AUTO = "auto"  # the engine calls a registered hook, then moves on to `next`
    TIMER = "timer"  # waits `after` a period or `at` a date variable, then moves on to `next`; events may leave earlier
    DECISION = "decision"  # takes the first branch whose guard holds, else `default`
    END = "end"  # the procedure ends with `outcome`


@dataclass(frozen=True, slots=True)
class BranchSpec:
    when: str
    to: str


@dataclass(frozen=True, slots=True)
class StateSpec:
    name: str
    kind: StateKind
    title: LocalizedName | None = None
    assignee: str | None = None  # task: the workflow role that must act
    sla: SlaSpec | None = None  # task: its deadline
    hook: str | None = None  # auto: the hook to call
    next: str | None = None  # auto and timer: where to go afterwards
    after: DurationSpec | None = None  # timer: wait this long after entering
    at_variable: str | None = None  # timer: wait until the end of this date variable
    branches: tuple[BranchSpec, ...] = ()  # decision
    default: str | None = None  # decision
    outcome: str | None = None  # end: e.g. granted, refused, kept, offlined
    on_enter: tuple[NotificationSpec, ...] = ()
    on_exit: tuple[NotificationSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """A user event leaving `source` for `dest`, fired by one of `roles`, with its payload."""

    event: str
    source: str
    dest: str
    roles: tuple[str, ...]
    guard: str | None = None
    payload: tuple[FieldSpec, ...] = ()
    save: tuple[str, ...] = ()  # payload fields copied into the variables of the same name
    set: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # constants written into variables
    title: LocalizedName | None = None
    late: LateMark | None = None  # marks the event late when it comes at or after a deadline of its own


@dataclass(frozen=True, slots=True)
class RecurringSpec:
    """Start an instance on a cron schedule (Asia/Shanghai); the business key is a template over the date."""

    cron: str
    business_key: str
    variables: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    """One version of one workflow definition, immutable, identified by (id, content_hash)."""

    id: str
    name: LocalizedName
    jurisdiction: str
    calendar: str  # region code, e.g. CN or CN-GX
    initial: str
    states: Mapping[str, StateSpec]
    transitions: tuple[TransitionSpec, ...]
    roles: Mapping[str, RoleSpec] = field(default_factory=lambda: EMPTY)
    variables: Mapping[str, FieldSpec] = field(default_factory=lambda: EMPTY)
    hooks: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # name -> what it does
    templates: tuple[str, ...] = ()
    sources: tuple[SourceRef, ...] = ()
    sla: SlaSpec | None = None  # the whole procedure's deadline
    recurring: RecurringSpec | None = None
    #: the roles that may start an instance (`start: {roles: [...]}`); see `engine.authz.start_roles`
    start_roles: tuple[str, ...] = ()
    description: str = ""
    source_path: str = ""
    content_hash: str = ""
    locations: Mapping[str, Location] = field(default_factory=lambda: EMPTY)  # dotted path -> position

    @property
    def version(self) -> str:
        """The short form of the content hash used as the version label."""
        return self.content_hash[:12]

    def events_from(self, state: str) -> tuple[TransitionSpec, ...]:
        """The user events that leave `state`, in definition order."""
        return tuple(t for t in self.transitions if t.source == state)

    def transition(self, state: str, event: str) -> TransitionSpec | None:
        for t in self.transitions:
            if t.source == state and t.event == event:
                return t
        return None

    def end_states(self) -> tuple[str, ...]:
        return tuple(name for name, s in self.states.items() if s.kind is StateKind.END)

    def location(self, path: str) -> Location | None:
        """The position of a dotted path, or of its nearest located parent."""
        while path:
            loc = self.locations.get(path)
            if loc is not None:
                return loc
            path = path.rpartition(".")[0]
        return self.locations.get("")
