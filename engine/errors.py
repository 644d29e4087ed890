"""The engine's error tree: every failure a caller can see is one of these, with structured fields.

    WorkflowError                      root of everything the engine raises on purpose
    ├── DefinitionError                a YAML definition is wrong: carries every problem, file:line:col each
    ├── UnknownWorkflow                no definition loaded under that id (or version)
    │   └── StoredVersionUnloadable    the version instances run on is stored, but this release refuses it
    ├── UnknownInstance                no instance with that id (or business key)
    ├── DuplicateBusinessKey           an instance with that business key already runs for the workflow
    ├── TransitionNotAllowed           the event does not leave the instance's current state (lists the allowed ones)
    ├── GuardRejected                  the event exists here, but its guard is false for this instance
    ├── PermissionDenied               the actor lacks the role or belongs to another department (says who may)
    ├── PayloadInvalid                 a payload or variable field is missing, of the wrong type, or too large
    ├── InstanceNotRunning             the instance is completed, cancelled or suspended
    ├── ConcurrentUpdate               another command changed the instance first (optimistic lock); retry
    ├── IdempotencyConflict            an idempotency key was reused for a different command
    ├── HookError                      an automatic step's hook is missing or raised (the step is retried)
    ├── ExpressionError                a guard or template expression failed at run time
    ├── StorageUnavailable             the database cannot be reached or refused the write; nothing was changed
    │   ├── SchemaTooNew               a later release migrated the database: this one must not use it
    │   └── DiskFull                   no room left on the disk holding a SQLite file: free space there
    ├── StoredRowInvalid               a row holds what the engine never writes (changed outside it): names the row
    ├── HistoryKeysInvalid             a history keyring file is missing, readable by others, or holds no key
    ├── HistoryKeysRequired            history keys seal steps in this database, and this engine was given none
    ├── DeadlinePolicyMismatch         this database records another deadline policy than the engine was given
    ├── CalendarYearMissing            a deadline needs a calendar year that has no data file (also a
    │                                  calendars.CalendarYearMissing, so either name catches it)
    └── CalendarDataInvalid            a calendar data file is wrong, file:line each (also a
                                       calendars.CalendarDataError)

Each type builds its own message from its fields and keeps the fields on the exception, so a backend can
react to `err.allowed_events` or `err.field` without parsing text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from calendars.errors import CalendarDataError as _CalendarDataError
from calendars.errors import CalendarYearMissing as _CalendarYearMissing
from engine.clock import SHANGHAI


class WorkflowError(Exception):
    """Root of every error the engine raises on purpose."""


@dataclass(frozen=True, slots=True, order=True)
class DefinitionProblem:
    """One problem in a definition file, located to the character."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.col}: {where}{self.message}"


#: A definition's problems are listed up to this many: past it a list helps nobody, and a hostile file costs
#: time and memory. The loader stops reading there; the checks list the first by position and count the rest.
MAX_PROBLEMS = 200


class DefinitionError(WorkflowError):
    """A definition has problems; `problems` lists them by position (per file at most MAX_PROBLEMS, then a note)."""

    def __init__(self, problems: Iterable[DefinitionProblem]) -> None:
        # by position only, and stable: problems at one place keep their order, a note after the one it follows
        self.problems: tuple[DefinitionProblem, ...] = tuple(sorted(problems, key=lambda p: (p.file, p.line, p.col)))
        if not self.problems:
            raise ValueError("DefinitionError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def file(self) -> str:
        return self.problems[0].file


class UnknownWorkflow(WorkflowError):
    def __init__(self, workflow_id: str, version: str | None = None, known: Sequence[str] = ()) -> None:
        self.workflow_id = workflow_id
        self.version = version
        self.known = tuple(known)
        what = f"workflow {workflow_id!r}" + (f" version {version}" if version else "")
        # a loaded id that close is named alone; otherwise every loaded id, to choose from
        close = difflib.get_close_matches(workflow_id, sorted(self.known), n=1) if version is None else []
        hint = (f" (did you mean {close[0]!r}?)" if close
                else f"; loaded workflows: {', '.join(sorted(self.known))}" if self.known else "")
        super().__init__(f"no {what} is loaded{hint}")


class StoredVersionUnloadable(UnknownWorkflow):
    """The version instances run on is kept in the database, but its source no longer loads (this release
    refuses what an earlier one accepted): its instances wait, untouched, rather than keep the engine from opening."""

    def __init__(self, workflow_id: str, version: str, problem: str) -> None:
        self.workflow_id = workflow_id
        self.version = version
        self.known = ()
        self.problem = problem
        WorkflowError.__init__(
            self, f"workflow {workflow_id!r} version {version[:12]}, which instances run on, is kept in the database "
                  f"but this release no longer loads it: {problem}. Its instances are left as they are: finish them "
                  f"with the release that started them")


def shown(value: object, limit: int = 80) -> str:
    """`repr(value)` cut to `limit` characters: a message names what it got, not a megabyte of it."""
    try:
        text = repr(value)
    except RecursionError:  # a hostile value nested thousands deep must not break its own refusal
        return f"<a {type(value).__name__} nested too deeply to show>"
    return text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text):,} characters)"


class UnknownInstance(WorkflowError):
    def __init__(self, instance_id: object) -> None:
        self.instance_id = instance_id
        super().__init__(f"no instance {shown(instance_id)}; check the id (list instances with `cli.py show`)")


class UnknownClock(WorkflowError):
    def __init__(self, clock_id: object) -> None:
        self.clock_id = clock_id
        super().__init__(f"no SLA clock {shown(clock_id)}; check the id (an instance's clocks: Engine.clocks)")


class DuplicateBusinessKey(WorkflowError):
    def __init__(self, workflow_id: str, business_key: str, instance_id: object) -> None:
        self.workflow_id = workflow_id
        self.business_key = business_key
        self.instance_id = instance_id
        super().__init__(
            f"workflow {workflow_id!r} already has instance {instance_id!r} for business key {business_key!r}"
        )


class TransitionNotAllowed(WorkflowError):
    def __init__(self, instance_id: object, state: str, event: str, allowed_events: Sequence[str]) -> None:
        self.instance_id = instance_id
        self.state = state
        self.event = event
        self.allowed_events = tuple(allowed_events)
        allowed = ", ".join(self.allowed_events) if self.allowed_events else "none (no event leaves this state)"
        super().__init__(
            f"event {shown(event)} is not allowed for instance {shown(instance_id)} in state {state!r}; "
            f"allowed: {allowed}"
        )


class GuardRejected(WorkflowError):
    def __init__(self, instance_id: object, state: str, event: str, guard: str) -> None:
        self.instance_id = instance_id
        self.state = state
        self.event = event
        self.guard = guard
        super().__init__(
            f"event {event!r} in state {state!r} of instance {instance_id!r} needs {guard!r} to hold, and it does not"
        )


class PermissionDenied(WorkflowError):
    def __init__(self, actor: str, action: str, allowed: Sequence[str], reason: str = "") -> None:
        self.actor = actor
        self.action = action
        self.allowed = tuple(allowed)
        self.reason = reason
        who = ", ".join(self.allowed) if self.allowed else "nobody"
        why = f" ({reason})" if reason else ""
        super().__init__(f"{actor!r} may not {action}{why}; who may: {who}")


class PayloadInvalid(WorkflowError):
    def __init__(self, field: str, expected: str, received: object = None, where: str = "payload") -> None:
        self.field = field
        self.expected = expected
        self.received = received
        self.where = where
        super().__init__(f"{where} field {field!r}: expected {expected}, received {shown(received)}")


class InstanceNotRunning(WorkflowError):
    def __init__(self, instance_id: object, status: str, action: str) -> None:
        self.instance_id = instance_id
        self.status = status
        self.action = action
        super().__init__(f"cannot {action} instance {instance_id!r}: it is {status}")


class StepLimitReached(WorkflowError):
    """An instance has recorded as many steps as its history can key (`storage.tables.MAX_STEP`): the step is
    refused, whole, and the instance stays where it was."""

    def __init__(self, instance_id: object, limit: int) -> None:
        self.instance_id = instance_id
        self.limit = limit
        super().__init__(f"instance {instance_id!r} has recorded {limit:,} steps, as many as its history can hold; "
                         "no further step is recorded: cancel it and start a new instance for what remains")


class ConcurrentUpdate(WorkflowError):
    def __init__(self, instance_id: object, expected_version: int) -> None:
        self.instance_id = instance_id
        self.expected_version = expected_version
        super().__init__(
            f"instance {instance_id!r} was changed by another command (expected row version {expected_version});"
            " reload it and retry"
        )


class RowOutOfDate(ConcurrentUpdate):
    """The instance row a command took from the rows its process wrote last (storage.remembered) had been written
    since by another process or connection. Nothing was done; the engine runs the command again on the row read
    from the database, so a caller meets this only when another writer overtook that second run too."""


class IdempotencyConflict(WorkflowError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different command; use a new key")


class HookError(WorkflowError):
    def __init__(self, hook: str, instance_id: object, detail: str) -> None:
        self.hook = hook
        self.instance_id = instance_id
        self.detail = detail
        super().__init__(f"hook {hook!r} failed for instance {instance_id!r}: {detail}")


class ExpressionError(WorkflowError):
    def __init__(self, expression: str, detail: str) -> None:
        self.expression = expression
        self.detail = detail
        super().__init__(f"expression {expression!r} failed: {detail}")


class StorageUnavailable(WorkflowError):
    """The database could not be used. Nothing was changed, unless `outcome_unknown`: the connection to a server
    broke during the commit itself, so the command may have been committed; read the instance, or repeat the
    command with the same idempotency key, which answers the committed result if there is one."""

    def __init__(self, detail: str, *, outcome_unknown: bool = False) -> None:
        self.detail = detail
        self.outcome_unknown = outcome_unknown
        if outcome_unknown:
            super().__init__("the connection to the database broke while the command was committed: it may or may "
                             "not have been done; read the instance, or repeat the command with the same "
                             f"idempotency key: {detail}")
        else:
            super().__init__(f"the database is unavailable, nothing was changed: {detail}")


class SchemaTooNew(StorageUnavailable):
    """A later release of shixian migrated the database: its schema is at `revision`, which this release does not
    know (`newest` is the last it does). This release neither reads nor migrates it; a downgrade or a change by
    hand would lose what the later release wrote."""

    def __init__(self, database: str, revision: str, newest: str) -> None:
        self.database, self.revision, self.newest = database, revision, newest
        super().__init__(f"{database} was written by a newer release of shixian: its schema is at revision "
                         f"{revision!r}, and the newest this release knows is {newest!r}; run that newer release "
                         "(or a later one) on it, and never downgrade its schema or change it by hand")


class DiskFull(StorageUnavailable):
    """The disk holding a SQLite database has no room for what SQLite had to write (the file, its log, its
    shared-memory file): `folder` is the database's folder, `free` the bytes left there when it failed (None when
    they could not be counted). Nothing was changed; once space is freed the same command can run again."""

    def __init__(self, folder: str, free: int | None) -> None:
        self.folder, self.free = folder, free
        left = "" if free is None else f" ({free // 1024:,} KiB free)"
        super().__init__(f"the disk holding {folder} is full{left}: SQLite could not write the database there; "
                         "free space on that disk, then try again")


class StoredRowInvalid(WorkflowError):
    """A stored row holds what the engine never writes there (text that is no JSON, changed outside the engine):
    `row` names it. Reading it again gives the same; it must be restored from a backup."""

    def __init__(self, row: str, detail: str) -> None:
        self.row, self.detail = row, detail
        super().__init__(f"{row} cannot be read: {detail}; it was changed outside the engine: restore it from a "
                         "backup")


class HistoryKeysInvalid(WorkflowError):
    """A history keyring file (engine.history_keys) cannot be used; `line` is set when one line is at fault."""

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path, self.problem, self.line = path, problem, line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"history keys {where}: {problem}")


class HistoryKeysRequired(WorkflowError):
    """Steps in this database are sealed with history keys (`key_ids`) and this engine was given no keyring:
    the steps it wrote would read as a rewritten history, so it writes none. Nothing was changed."""

    def __init__(self, key_ids: Sequence[str]) -> None:
        self.key_ids = tuple(key_ids)
        super().__init__(f"history in this database is sealed with history key {', '.join(self.key_ids)}, and this "
                         "engine was given no keyring: nothing was changed; give it the keyring file "
                         "(--history-keys FILE or $SHIXIAN_HISTORY_KEYS; Engine(history_keys=...))")


class DeadlinePolicyMismatch(WorkflowError):
    """The database records the deadline policy every process on it computes with (`recorded`, in plain words, as
    of `recorded_at`), and this engine was given another (`given`): deadlines of two kinds in one database would
    be a legal risk, so it opens nothing. `recorded_options` says how a process is given the recorded one;
    `recorded_policy` and `given_policy` are the two as canonical mappings (engine.policy_check). Nothing was
    changed."""

    def __init__(self, recorded: str, given: str, recorded_at: datetime, recorded_options: str,
                 recorded_policy: Mapping[str, object], given_policy: Mapping[str, object]) -> None:
        self.recorded, self.given, self.recorded_at = recorded, given, recorded_at
        self.recorded_options = recorded_options
        self.recorded_policy, self.given_policy = dict(recorded_policy), dict(given_policy)
        super().__init__(
            f"this database's deadline policy, recorded {recorded_at.astimezone(SHANGHAI):%Y-%m-%d}: {recorded}; "
            f"this process was given another: {given}. Nothing was changed. Every process on one database must "
            f"compute deadlines alike: give this one the database's policy ({recorded_options}), or, to change the "
            "database's policy on purpose, run `python cli.py policy --db DB --set [--business-hours OPEN-CLOSE]` "
            "and restart every process on it with the new value.")


class CalendarYearMissing(WorkflowError, _CalendarYearMissing):
    """The engine's face of `calendars.CalendarYearMissing`: catchable under either root."""

    @classmethod
    def wrap(cls, err: _CalendarYearMissing) -> CalendarYearMissing:
        return cls(err.year, err.region, missing=err.missing, since=err.since)


class CalendarDataInvalid(WorkflowError, _CalendarDataError):
    """The engine's face of `calendars.CalendarDataError` (a data file the engine met is wrong, every problem at
    its file:line): catchable under either root."""

    @classmethod
    def wrap(cls, err: _CalendarDataError) -> CalendarDataInvalid:
        return cls(list(err.problems))


__all__ = [
    "CalendarDataInvalid",
    "CalendarYearMissing",
    "ConcurrentUpdate",
    "DeadlinePolicyMismatch",
    "DefinitionError",
    "DefinitionProblem",
    "DiskFull",
    "DuplicateBusinessKey",
    "ExpressionError",
    "GuardRejected",
    "HistoryKeysInvalid",
    "HistoryKeysRequired",
    "HookError",
    "IdempotencyConflict",
    "InstanceNotRunning",
    "PayloadInvalid",
    "PermissionDenied",
    "SchemaTooNew",
    "StepLimitReached",
    "StorageUnavailable",
    "StoredRowInvalid",
    "StoredVersionUnloadable",
    "TransitionNotAllowed",
    "UnknownClock",
    "UnknownInstance",
    "UnknownWorkflow",
    "WorkflowError",
]
