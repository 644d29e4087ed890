"""The storage interface the engine runs on, and the plain records it exchanges with it.

`InstanceStore` opens transactions; a `StoreTx` reads and writes the rows of one command and commits all of
them or none. `storage.sql.SqlInstanceStore` implements both on SQLite and PostgreSQL. Every method raises
only engine errors (`StorageUnavailable`, `ConcurrentUpdate`, `DuplicateBusinessKey`), never a driver's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from storage.backlog import Backlog


@dataclass(frozen=True, slots=True)
class InstanceView:
    """An instance as stored: where it is, its variables (JSON form) and its row version."""

    id: str
    workflow_id: str
    version: str
    business_key: str
    state: str
    variables: Mapping[str, Any]
    status: str  # running / completed / cancelled / suspended
    outcome: str | None
    row_version: int
    history_seq: int
    history_hash: str
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One step of an instance; `hash` chains it to the step before.

    `actor_role` and `actor_department` record the capacity the actor took the step in, as it was then (the
    directory keeps no past): the workflow role the step was allowed under (the first of the transition's or
    start's roles the actor held, in the department the role is bound to), the administering role for
    cancel/suspend/resume (`bureau.reviewer`, or `bureau.<base role>`), `system` for the engine's own steps
    (decisions, automatic steps, timers, SLA moments, commands sent as `Actor.system()`); and the actor's
    department credit code (None for the engine, or a person given none). Both None on steps written before
    they were recorded; both are in `hash`. `key_id` names the history key that sealed `hash` (an HMAC, see
    engine.history_keys); None for a plain SHA-256 step, written with no keyring.
    """

    instance_id: str
    seq: int
    at: datetime
    actor: str
    event: str
    from_state: str | None
    to_state: str
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str
    actor_role: str | None = None
    actor_department: str | None = None
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceHistory:
    """An instance's steps in order, with what its row says of them: what checking its chain needs (an audit of
    the whole database), without its variables, whose decoding a damaged row would fail."""

    instance_id: str
    workflow_id: str
    business_key: str
    last_seq: int  # the instance's `history_seq`: its last step as the row records it
    last_hash: str  # the instance's `history_hash`: the last step's hash, which a removed last step leaves behind
    steps: Sequence[HistoryEntry]


@dataclass(frozen=True, slots=True)
class ClockView:
    """An SLA clock: a task's or the whole procedure's deadline."""

    id: int
    instance_id: str
    scope: str  # task / procedure
    state: str | None
    calendar: str
    started_at: datetime
    base_due_at: datetime
    due_at: datetime
    last_day: str
    paused_working_days: int
    paused_since: datetime | None
    status: str  # running / paused / met / breached / cancelled (its instance cancelled before it was met)
    breached: bool
    provisional: bool
    stopped_at: datetime | None
    # the clock's next moment (warning, due time or escalation level) for the worker; None when it has nothing
    # left to do or is paused or stopped. Only the next one is stored: `Engine.schedule` gives the whole ladder
    next_fire_at: datetime | None = None
    next_kind: str | None = None  # warn / due / escalate
    next_level: int = 0
    # the failed tries of the next moment and the last one's error; 0 and None once it fires or the clock moves on
    fire_attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class PauseEntry:
    """One pause of a procedure clock and the working days it added."""

    clock_id: int
    state: str
    started_at: datetime
    ended_at: datetime | None
    working_days: int | None


@dataclass(frozen=True, slots=True)
class TimerView:
    """Something the worker does at `fire_at`."""

    id: int
    instance_id: str
    clock_id: int | None
    kind: str  # warn / due / escalate / timer / hook
    level: int
    state: str | None
    fire_at: datetime
    status: str
    attempts: int
    last_error: str | None = None
    provisional: bool = False  # its moment rests on a year without calendar data (timer kind)
    armed_at: datetime | None = None  # when its period started: what a recompute counts from


@dataclass(frozen=True, slots=True)
class NewTimer:
    instance_id: str
    kind: str
    fire_at: datetime
    clock_id: int | None = None
    level: int = 0
    state: str | None = None
    attempts: int = 0
    last_error: str | None = None
    provisional: bool = False
    armed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewClock:
    instance_id: str
    scope: str
    state: str | None
    calendar: str
    started_at: datetime
    due_at: datetime
    last_day: str
    provisional: bool
    next_fire_at: datetime | None = None
    next_kind: str | None = None
    next_level: int = 0


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A notification to write into the outbox in the command's transaction."""

    instance_id: str | None
    channel: str
    recipient: str
    recipient_address: str
    template: str
    data: Mapping[str, Any]
    kind: str
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class InstanceQuery:
    """Filters for listing instances; None means any."""

    workflow_id: str | None = None
    status: str | None = None
    state: str | None = None
    business_key_prefix: str | None = None
    variable_equals: Mapping[str, str | int | bool] = field(default_factory=dict)
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class StoredDefinition:
    workflow_id: str
    version: str
    source: str
    source_path: str


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting every process on the database must share (the deadline policy): its value as canonical JSON
    text, and when it was recorded."""

    name: str
    value: str
    set_at: datetime


class StoreTx(Protocol):
    """The rows of one command. Leaving the transaction's `with` block normally commits; an exception rolls back."""

    def get_instance(self, instance_id: str) -> InstanceView | None: ...
    def find_instance(self, workflow_id: str, business_key: str) -> InstanceView | None: ...
    def insert_instance(self, inst: InstanceView) -> None:
        """Raises DuplicateBusinessKey when the workflow already has that business key."""
    def update_instance(self, inst: InstanceView, expected_version: int) -> None:
        """Write `inst` only if the stored row version is still `expected_version`; else ConcurrentUpdate.

        Records are never changed in place: `inst.variables` being the very mapping `get_instance` gave in this
        transaction means the variables are unchanged, and a store may write them back as it read them."""
    def confirm_current(self, instance_id: str) -> None:
        """Before an act no rollback undoes (a hook): make sure the instance this command took is the stored one.
        A store that hands out rows its process wrote earlier instead of reading them (storage.remembered) reads
        the row version and raises RowOutOfDate if another writer moved it on; a row read in this command passes."""
    def touch_instance(self, instance_id: str, expected_version: int) -> None:
        """Move the instance's row version on, nothing else, if it is still `expected_version`; else
        ConcurrentUpdate. For a change to its clocks alone (an SLA moment, a recomputed due time): a command that
        read the clocks before must then fail on its own row-version check rather than write them back."""
    def append_history(self, entries: Sequence[HistoryEntry]) -> None: ...
    def insert_clock(self, clock: NewClock) -> int: ...
    def update_clock(self, clock: ClockView) -> None:
        """Write the clock as a command or a firing moved it on: its failed tries and their error are cleared, and
        so is a back-off wait on it (a live worker's claim stays)."""
    def open_clocks(self, instance_id: str) -> list[ClockView]: ...
    def get_clock(self, clock_id: int) -> ClockView | None: ...
    def stop_task_clock(self, instance_id: str, state: str, now: datetime) -> bool:
        """Stop the open clock of the task `state` in one statement, if that needs no SLA event: it runs and is
        in time (before its due time: the due time itself is late, as for the tick), or its breach has happened
        already; its failed tries and their error are cleared. False (nothing written) otherwise."""
    def take_clock(self, clock_id: int, fire_at: datetime) -> ClockView | None:
        """Lock an open clock whose next moment is still `fire_at` and drop its claim; None when it moved on."""
    def insert_pause(self, clock_id: int, state: str, started_at: datetime) -> None: ...
    def close_pause(self, clock_id: int, ended_at: datetime, working_days: int) -> None: ...
    def closed_pauses(self, clock_id: int) -> list[tuple[int, datetime, datetime, int]]:
        """The clock's ended pauses in order, as (pause id, started, ended, working days counted)."""
    def set_pause_days(self, pause_id: int, working_days: int) -> None:
        """Correct the working days a pause covered (recounted when a year's calendar arrives)."""
    def insert_timers(self, timers: Sequence[NewTimer]) -> None: ...
    def cancel_timers(self, instance_id: str, *, kinds: Sequence[str] = ()) -> None: ...
    def hold_timers(self, instance_id: str, held: bool) -> None:
        """Hold the instance's pending timers (held=True: the worker skips them) or put held ones back to pending."""
    def reschedule_timer(self, timer_id: int, fire_at: datetime, provisional: bool) -> bool:
        """Move a timer not yet fired or cancelled to a recomputed moment; False when it has fired meanwhile."""
    def mark_timer_fired(self, timer_id: int, now: datetime) -> TimerView | None:
        """Mark a pending timer fired and return it; None when it is no longer pending (fired elsewhere)."""
    def record_sla_event(self, clock_id: int, instance_id: str, kind: str, level: int, at: datetime) -> bool:
        """True the first time (clock, kind, level) happens; False on every later try (unique key)."""
    def insert_outbox(self, items: Sequence[OutboxItem], now: datetime) -> int: ...
    def get_idempotency(self, key: str) -> tuple[str, str] | None:
        """(digest, result JSON) of an earlier command with this key, if any."""
    def put_idempotency(self, key: str, digest: str, instance_id: str, result: str, now: datetime) -> None: ...


class InstanceStore(Protocol):
    """Opens command transactions and answers the queries that need no transaction of their own."""

    def transaction(self) -> AbstractContextManager[StoreTx]: ...
    def claim_timers(self, now: datetime, worker: str, lease_seconds: float, limit: int) -> list[TimerView]:
        """Claim up to `limit` due timers not claimed by a live worker (expired claims are taken again)."""
    def release_timer(self, timer_id: int, fire_at: datetime, attempts: int, error: str | None) -> None: ...
    def claim_clocks(self, now: datetime, worker: str, lease_seconds: float, limit: int) -> list[ClockView]:
        """Claim up to `limit` open clocks whose next moment is due, like `claim_timers`."""
    def release_clock(self, clock_id: int, moment: datetime, retry_at: datetime | None, attempts: int,
                      error: str | None) -> None:
        """Drop a clock's claim on its next moment `moment`. While that is still its next moment, it stays due and
        is claimed again from `retry_at` (None: at once), with `attempts` failed tries and the last `error`; a
        clock a command moved on meanwhile is due at once, as the command left it."""
    def get_instance(self, instance_id: str) -> InstanceView | None: ...
    def find_instance(self, workflow_id: str, business_key: str) -> InstanceView | None: ...
    def history(self, instance_id: str) -> list[HistoryEntry]: ...
    def histories(self, workflow_id: str | None = None, batch: int = 200) -> Iterator[InstanceHistory]:
        """Every instance (of `workflow_id`), in instance id order, each with its whole history: `batch` instances
        are read at a time, each batch in one statement, so an instance is read with its steps as one moment left
        them, and only one batch is ever held, however many instances the database has."""
    def clocks(self, instance_id: str) -> list[ClockView]: ...
    def pauses(self, clock_id: int) -> list[PauseEntry]: ...
    def timers(self, instance_id: str) -> list[TimerView]: ...
    def list_instances(self, query: InstanceQuery) -> list[InstanceView]: ...
    def overdue_clocks(self, now: datetime, limit: int, workflow_id: str | None = None,
                       offset: int = 0) -> list[tuple[ClockView, InstanceView]]: ...
    def provisional_clocks(self) -> Iterator[ClockView]: ...
    def backlog(self, now: datetime) -> Backlog:
        """What is due at `now` and not yet done, what waits for a worker, and the workers (storage.backlog)."""
    def record_tick(self, token: str, worker_id: str, at: datetime, *, first: bool = False) -> None:
        """Record that the worker process drawing `token` (named `worker_id`) ticks the database at `at`; `first`
        for its first tick."""
    def record_worker_stop(self, token: str, at: datetime) -> None:
        """Record that the worker process drawing `token` stopped on purpose at `at`."""
    def provisional_timers(self) -> list[TimerView]: ...
    def save_definition(self, definition: StoredDefinition) -> None: ...
    def save_history_key(self, key_id: str, at: datetime) -> None:
        """List a history key as sealing steps here (by its public id), from `at`; listed already: nothing."""
    def history_keys(self) -> dict[str, datetime]:
        """The history keys that have sealed steps here, by id, with when each began."""
    def definitions_in_use(self) -> list[StoredDefinition]: ...
    def setting(self, name: str) -> Setting | None:
        """The setting recorded under `name`, or None when none is."""
    def record_setting(self, name: str, value: str, at: datetime) -> bool:
        """Record `value` under `name` unless a value is recorded already: the first writer wins, also against a
        process recording at the same moment. True when this call recorded it; False when another value (or this
        one) was there first, or the database cannot be written here (a read-only copy), and nothing was written."""
    def replace_setting(self, name: str, value: str, at: datetime) -> Setting | None:
        """Record `value` under `name` in place of whatever was there, on purpose; answer what was there."""
    def close(self) -> None: ...
