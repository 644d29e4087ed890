"""`Engine`: the runtime that platform backends embed. Each command is one database transaction.

    engine = Engine(store, definitions, clock=SystemClock(), directory=my_directory)
    inst = engine.start("gx.data_request", "REQ-1", {...}, actor)
    engine.fire(inst.id, "pass", reviewer)
    engine.tick()                      # what the worker does every few seconds
"""

from __future__ import annotations

import difflib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from engine import sweep
from engine.arguments import (
    REASON_MAX,
    aware,
    check_batch,
    check_filter_text,
    check_keys,
    check_page,
    check_query,
)
from engine.authz import acting_role, authorise_admin, authorise_base, authorise_start, may_act_in, refuse
from engine.backlog import DEFAULT_GRACE, Health, backlog_problems
from engine.calendar_check import CalendarDataGuard
from engine.clock import Clock, SystemClock
from engine.commands import CompiledMachine, Parts, Run, clock_schedule
from engine.definitions import add_stored_version
from engine.errors import (
    DefinitionError,
    DuplicateBusinessKey,
    IdempotencyConflict,
    InstanceNotRunning,
    PayloadInvalid,
    RowOutOfDate,
    StoredVersionUnloadable,
    TransitionNotAllowed,
    UnknownClock,
    UnknownInstance,
    WorkflowError,
)
from engine.events import INSTANCE_STARTED, EngineEvent, EventBus, Subscriber
from engine.fields import (
    check_identifier,
    check_mapping,
    check_text,
    encode_values,
    may_name_instance,
    validate_payload,
    validate_variables,
)
from engine.filters import check_filters
from engine.history import GENESIS, ChainReport, verify_chain
from engine.history_keys import HistoryKeyring, SealGuard, keys_in_use_since
from engine.hooks import Hook, HookRegistry
from engine.idempotency import IdempotencyKey, command_digest
from engine.ids import new_instance_id
from engine.loader import load_text, parse_text
from engine.notify import NoticeWriter
from engine.policy_check import PolicyGuard
from engine.ports import Actor, Directory
from engine.sla import DueTime, SlaCalculator
from engine.store import (
    ClockView,
    HistoryEntry,
    InstanceQuery,
    InstanceStore,
    InstanceView,
    PauseEntry,
    StoredDefinition,
    StoreTx,
    TimerView,
)
from engine.views import Moment, OverdueItem, TickReport, view_from_json, view_to_json

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The state name a suspension writes into the pause ledger of the clocks it stops.
SUSPENDED_PAUSE = "_suspended"

#: Base roles that may cancel, suspend and resume instances (besides the engine itself), each in the
#: jurisdiction its role is bound to (engine.authz.authorise_admin).
ADMIN_ROLES = frozenset({"data_supervisor", "bureau_reviewer"})


class Definitions(Protocol):
    """What the runtime needs of `engine.definitions.DefinitionSet`."""

    def get(self, workflow_id: str) -> Any: ...
    def get_version(self, workflow_id: str, content_hash: str) -> Any: ...
    def add(self, spec_or_compiled: Any, *, newest: bool = True) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...  # the newest version of each workflow


class Dispatcher(Protocol):
    def dispatch(self, now: datetime) -> int: ...
    def request_stop(self) -> None: ...


class Engine:
    """Runs instances of compiled definitions against the store, the calendar and the injected clock."""

    def __init__(
        self,
        store: InstanceStore,
        definitions: Definitions,
        *,
        clock: Clock | None = None,
        directory: Directory | None = None,
        dispatcher: Dispatcher | None = None,
        allow_provisional: bool = False,
        deadline_policy: Any = None,
        worker_id: str | None = None,
        claim_lease: timedelta = timedelta(minutes=2),
        admin_roles: Iterable[str] = ADMIN_ROLES,
        history_keys: HistoryKeyring | None = None,
    ) -> None:
        """`history_keys` seals every new history step with its first key and checks sealed steps with any of
        them (engine.history_keys); where keys seal steps in the database, an engine given none writes nothing.
        `deadline_policy` (a calendars.DeadlinePolicy; default: deadlines at 24:00) must be the one the database
        records, which the first engine to open it records: else DeadlinePolicyMismatch (engine.policy_check)."""
        self.store = store
        self.definitions = definitions
        self.clock: Clock = clock or SystemClock()
        self.dispatcher = dispatcher
        self.hooks = HookRegistry()
        self.bus = EventBus()
        self.parts = Parts(SlaCalculator(allow_provisional, deadline_policy), self.hooks, NoticeWriter(directory))
        self.history_keys = history_keys
        self.seal_guard = SealGuard(store, history_keys, self._now)
        if history_keys is not None:
            self.parts.seal = (history_keys.sealing_id, history_keys.sealing_key)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        # this engine's own key in the workers' record (storage.workers): replicas may share a worker id
        self._tick_token = uuid.uuid4().hex
        self._last_tick_recorded: datetime | None = None  # when this engine last recorded a tick
        self.claim_lease = claim_lease
        self.admin_roles = frozenset(admin_roles)
        self._saved_versions: set[tuple[str, str]] = set()
        self._sources: dict[tuple[str, str], str] = {}
        #: stored versions instances run on that this release refuses to load: (id, version) -> the first problem
        self.unloadable: dict[tuple[str, str], str] = {}
        # before anything else: a process counting deadlines otherwise than the database records opens nothing
        self.policy_guard = PolicyGuard(store, self.parts.sla.policy, self._now)
        self.policy_guard.check()
        # a year file added or corrected while the process runs is taken up within 30 s (engine.calendar_check)
        self.calendar_guard = CalendarDataGuard(self.parts.sla.reload)
        self.load_versions_in_use()

    # -- embedding ----------------------------------------------------------------------------------------

    def register_hook(self, name: str, fn: Hook) -> None:
        """Register the Python function an automatic step names (`fn(variables) -> dict of updates`).

        A name no loaded workflow declares is registered still (a definition added later may use it), with a
        warning: a misspelt hook would otherwise show only when an instance reaches its step."""
        self.hooks.register(name, fn)
        declared = {hook for machine in self.definitions for hook in machine.spec.hooks}
        if declared and name not in declared:
            close = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.6)
            log.warning("hook %r is declared by no loaded workflow%s; declared hooks: %s", name,
                        f" (did you mean {close[0]!r}?)" if close else "", ", ".join(sorted(declared)))

    def subscribe(self, kind: str, callback: Subscriber) -> None:
        """Call `callback(EngineEvent)` after commit for events of `kind` (see engine.events.KINDS, or '*')."""
        self.bus.subscribe(kind, callback)
        self.parts.events_wanted = True

    def load_versions_in_use(self) -> int:
        """Load the stored definition versions that unfinished instances run on; answer how many were added.

        They are kept for those instances only: the newest version of each id stays the one loaded from files
        (or added with `add_definition`), so an edited file serves new instances after a restart.
        """
        added = 0
        for d in self.store.definitions_in_use():
            if not d.source:
                log.warning("stored version %s of %s has no source; its instances need that version loaded",
                            d.version[:12], d.workflow_id)
                continue
            try:
                fresh = add_stored_version(self.definitions, d)
            except DefinitionError as err:
                # the engine still opens: every other instance runs, and these say why they wait when touched
                problem = str(err.problems[0]) if err.problems else str(err)
                self.unloadable[(d.workflow_id, d.version)] = problem
                log.error("%s", StoredVersionUnloadable(d.workflow_id, d.version, problem))
                continue
            self.unloadable.pop((d.workflow_id, d.version), None)
            if fresh:
                self._saved_versions.add((d.workflow_id, d.version))
                added += 1
        return added

    def machine(self, workflow_id: str, version: str | None = None) -> CompiledMachine:
        """The compiled definition: the newest version of `workflow_id`, or the given one (an instance's)."""
        if version is None:
            machine: CompiledMachine = self.definitions.get(workflow_id)
        elif (workflow_id, version) in self.unloadable:
            raise StoredVersionUnloadable(workflow_id, version, self.unloadable[(workflow_id, version)])
        else:
            machine = self.definitions.get_version(workflow_id, version)
        return machine

    def _remember_definition(self, machine: CompiledMachine) -> None:
        spec = machine.spec
        key = (spec.id, spec.content_hash)
        if key in self._saved_versions:
            return
        source = getattr(machine, "source", None) or self._sources.get(key)
        if not source and spec.source_path and Path(spec.source_path).is_file():
            text = Path(spec.source_path).read_text(encoding="utf-8")
            # the file may have changed since it was loaded: keep its text only if it is this version
            if parse_text(text, spec.source_path).content_hash == spec.content_hash:
                source = text
        if not source:
            log.warning("no YAML source for %s version %s: instances on it cannot be reloaded after a restart",
                        spec.id, spec.version)
        self.store.save_definition(StoredDefinition(spec.id, spec.content_hash, source or "", spec.source_path))
        self._saved_versions.add(key)

    def add_definition(self, text: str, filename: str = "<text>") -> CompiledMachine:
        """Load a definition from YAML text, make it the newest version of its id and keep its source."""
        spec = load_text(text, filename)
        machine: CompiledMachine = self.definitions.add(spec)
        self._sources[(spec.id, spec.content_hash)] = text
        self._remember_definition(machine)
        return machine

    # -- commands -----------------------------------------------------------------------------------------

    def start(
        self, workflow_id: str, business_key: str, variables: Mapping[str, Any] | None, actor: Actor,
        *, idempotency_key: str | None = None,
    ) -> InstanceView:
        """Start an instance on the newest version; refuses a business key already used for the workflow."""
        check_keys("start", actor, idempotency_key)
        check_identifier(business_key, "business_key", 200, "start")
        machine = self.machine(workflow_id)
        spec = machine.spec
        values = validate_variables(spec, variables)
        role = authorise_start(spec, actor, values, self.parts.notices.directory)
        self._remember_definition(machine)
        digest = (command_digest("start", workflow_id, business_key, encode_values(values), actor.id)
                  if idempotency_key else "")
        key = IdempotencyKey.of(actor.id, idempotency_key)
        self._may_write()
        return self._once(key, digest, partial(self._start, machine, business_key, values, actor, role, key, digest))

    def _start(self, machine: CompiledMachine, business_key: str, values: dict[str, Any], actor: Actor, role: str,
               idempotency_key: IdempotencyKey | None, digest: str) -> InstanceView:
        spec = machine.spec
        workflow_id = spec.id
        now = self._now()
        events: list[EngineEvent] = []
        with self.store.transaction() as tx:
            if idempotency_key is not None and (replay := self._replay(tx, idempotency_key, digest)) is not None:
                return replay
            existing = tx.find_instance(workflow_id, business_key)
            if existing is not None:
                raise DuplicateBusinessKey(workflow_id, business_key, existing.id)
            inst = InstanceView(
                id=new_instance_id(), workflow_id=workflow_id, version=spec.content_hash, business_key=business_key,
                state=spec.initial, variables=encode_values(values), status="running", outcome=None, row_version=0,
                history_seq=0, history_hash=GENESIS, last_error=None, created_at=now, updated_at=now,
            )
            run = Run(self.parts, tx, machine, inst, now)
            run.event(INSTANCE_STARTED, actor=actor.id)
            run.begin(actor.id, role, actor.department)
            row = run.finish()
            tx.insert_instance(row)
            run.flush()
            if idempotency_key is not None:
                self._remember(tx, idempotency_key, digest, row, now)
            events = run.events
        if events:
            self.bus.publish(events)
        return row

    def fire(
        self, instance_id: str, event: str, actor: Actor, payload: Mapping[str, Any] | None = None,
        *, idempotency_key: str | None = None,
    ) -> InstanceView:
        """Send a user event; the actor must hold one of the transition's roles and the payload must fit."""
        check_keys("fire", actor, idempotency_key)
        # the payload's shape first: the digest below reads it as a mapping (its fields are checked in the command)
        fields = check_mapping(payload, "payload") if payload is not None else {}
        digest = command_digest("fire", instance_id, event, encode_values(fields), actor.id) if idempotency_key else ""
        key = IdempotencyKey.of(actor.id, idempotency_key)
        self._may_write()
        return self._once(key, digest, partial(self._fire, instance_id, event, actor, payload, key, digest))

    def _fire(self, instance_id: str, event: str, actor: Actor, payload: Mapping[str, Any] | None,
              idempotency_key: IdempotencyKey | None, digest: str) -> InstanceView:
        now = self._now()
        with self.store.transaction() as tx:
            if idempotency_key is not None and (replay := self._replay(tx, idempotency_key, digest)) is not None:
                return replay
            inst = self._load(tx, instance_id, event)
            machine = self.machine(inst.workflow_id, inst.version)
            spec = machine.spec
            t = machine.transition(inst.state, event)
            if t is None:
                raise TransitionNotAllowed(inst.id, inst.state, event, machine.allowed_events(inst.state))
            run = Run(self.parts, tx, machine, inst, now)
            directory = self.parts.notices.directory
            role = acting_role(actor, spec, t.roles, run.vars, directory)
            if role is None:
                refuse(actor, spec, t.roles, run.vars, f"fire {event!r} in state {inst.state!r}", directory)
            values = validate_payload(t.payload, payload)
            if t.save or t.set:
                # a refused step (guard false) fails the whole command, so the variables may change before it
                run.update_vars(_saved(values, t.save, t.set))
            if t.late is not None:
                run.update_vars({t.late.mark: run.now >= self.parts.sla.due(spec.calendar, run.now, t.late.due,
                                                                             run.vars).due})
            dest = machine.step(inst.id, inst.state, event, run.vars)
            run.transition(event, dest, actor.id, values, role, actor.department)
            row = run.finish()
            tx.update_instance(row, inst.row_version)
            run.flush()
            if idempotency_key is not None:
                self._remember(tx, idempotency_key, digest, row, now)
            events = run.events
        if events:
            self.bus.publish(events)
        return row

    def cancel(self, instance_id: str, actor: Actor, reason: str = "") -> InstanceView:
        return self._admin(instance_id, actor, "cancel", reason)

    def suspend(self, instance_id: str, actor: Actor, reason: str = "") -> InstanceView:
        return self._admin(instance_id, actor, "suspend", reason)

    def resume(self, instance_id: str, actor: Actor, reason: str = "") -> InstanceView:
        return self._admin(instance_id, actor, "resume", reason)

    def _admin(self, instance_id: str, actor: Actor, action: str, reason: str) -> InstanceView:
        """Cancel, suspend (中止) or resume an instance.

        Suspension stops the instance's time: each running SLA clock is paused (a ledger row) and its next moment
        dropped, and its timer and hook rows are held, not polled. Resuming counts again: each clock the
        suspension paused moves its due time on by the working days suspended (as leaving a pausing state
        does) and re-arms its next moment; held timers go back to pending with their own moments, so one that
        fell due meanwhile fires at the next tick. A procedure clock paused by a pausing state stays paused.

        Who may: the engine (`system`), or a holder of one of `admin_roles` acting in the workflow's role of
        that base role, bound as for the workflow's own transitions: `bureau.reviewer` and
        `bureau.data_supervisor` (`org: bureau`) belong to the department the directory tags as the bureau of
        the workflow's jurisdiction (`gx.bureau` for `gx.*`); a base role the workflow declares no role of is
        bound to that bureau too (see engine.authz.admin_roles_of). PermissionDenied names who may.
        """
        check_keys(action, actor, None)
        check_text(reason, "reason", REASON_MAX, action)
        authorise_base(actor, self.admin_roles, f"{action} instances")
        if not may_name_instance(instance_id):
            raise UnknownInstance(instance_id)
        self._may_write()
        return on_stored_row(partial(self._admin_once, instance_id, actor, action, reason))

    def _admin_once(self, instance_id: str, actor: Actor, action: str, reason: str) -> InstanceView:
        now = self._now()
        with self.store.transaction() as tx:
            inst = tx.get_instance(instance_id)
            if inst is None:
                raise UnknownInstance(instance_id)
            machine = self.machine(inst.workflow_id, inst.version)
            role = authorise_admin(actor, machine.spec, self.admin_roles, inst.variables,
                                   f"{action} instance {inst.id} of {inst.workflow_id}", self.parts.notices.directory)
            wanted = "suspended" if action == "resume" else "running"
            if inst.status != wanted and not (action == "cancel" and inst.status == "suspended"):
                raise InstanceNotRunning(inst.id, inst.status, action)
            run = Run(self.parts, tx, machine, inst, now)
            run.status = {"cancel": "cancelled", "suspend": "suspended", "resume": "running"}[action]
            for clock in list(run.open_clocks()):
                if action == "cancel":
                    # a step that was never finished was not met: it leaves the on-time figures, unless it was
                    # late already, and a breach no tick recorded yet is recorded now
                    run.stop_clock(clock, on_time="cancelled")
                elif action == "suspend" and clock.status != "paused":
                    run.pause_clock(clock, SUSPENDED_PAUSE)
                elif action == "resume" and clock.status == "paused" and not run.paused_by_state(clock):
                    run.resume_clock(clock)
            if action == "cancel":
                tx.cancel_timers(inst.id)
            else:
                tx.hold_timers(inst.id, held=action == "suspend")
            run.record(actor.id, f"_{action}", inst.state, inst.state, {"reason": reason} if reason else {}, role,
                       actor.department)
            row = run.finish()
            tx.update_instance(row, inst.row_version)
            run.flush()
            events = run.events
        if events:
            self.bus.publish(events)
        return row

    def _may_write(self) -> None:
        """Refuse, before a command or tick touches the database, a process that no longer fits it: keys seal steps
        there and it has none (HistoryKeysRequired), or it counts deadlines otherwise (DeadlinePolicyMismatch).
        First the calendar data changed on disk is taken up (never refused: a wrong file leaves the old data)."""
        self.calendar_guard.check()
        self.seal_guard.check()
        self.policy_guard.check()

    def _now(self) -> datetime:
        """The injected clock's moment; a clock that answers a naive datetime is named, not met deep inside."""
        return aware(self.clock.now(), "the engine's clock (Engine(clock=...).now())")

    def _load(self, tx: StoreTx, instance_id: str, event: str) -> InstanceView:
        """The running instance an event is fired on."""
        inst = tx.get_instance(instance_id) if may_name_instance(instance_id) else None
        if inst is None:
            raise UnknownInstance(instance_id)
        if inst.status != "running":
            raise InstanceNotRunning(inst.id, inst.status, f"fire {event!r} on")
        return inst

    def _replay(self, tx: StoreTx, key: IdempotencyKey | None, digest: str) -> InstanceView | None:
        if key is None:
            return None
        found = tx.get_idempotency(key.stored)
        if found is None:
            return None
        if found[0] != digest:
            raise IdempotencyConflict(key.given)
        return view_from_json(found[1])

    def _once(self, key: IdempotencyKey | None, digest: str, command: Callable[[], InstanceView]) -> InstanceView:
        """Run a start or fire; when one with an idempotency key fails, answer the result of the same command
        that a concurrent retry committed meanwhile (the business key or the key row taken, the instance moved
        on), looked up in a fresh transaction, else raise the failure.

        The lookup runs only on failures, so a plain command pays nothing; a key used for another command
        raises IdempotencyConflict, as a sequential retry would.
        """
        try:
            return on_stored_row(command)
        except WorkflowError as err:
            if key is None or isinstance(err, IdempotencyConflict):
                raise
            try:
                with self.store.transaction() as tx:
                    replay = self._replay(tx, key, digest)
            except IdempotencyConflict as conflict:
                raise conflict from err
            except WorkflowError:
                raise err from None
            if replay is None:
                raise
            return replay

    def _remember(self, tx: StoreTx, key: IdempotencyKey | None, digest: str, row: InstanceView,
                  now: datetime) -> None:
        if key is not None:
            tx.put_idempotency(key.stored, digest, row.id, view_to_json(row), now)

    # -- the worker's sweep ---------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None, *, batch: int = 200, max_batches: int | None = None,
             stop: threading.Event | None = None) -> TickReport:
        """Fire every due SLA moment and timer (claimed in the database, each once), then dispatch the outbox.

        Setting `stop` (from another thread: a worker's SIGTERM) ends the tick after the moment in hand; what it
        claimed and had not fired is handed back for another worker (`TickReport.released`)."""
        now = aware(now, "tick") if now is not None else self._now()
        check_batch(batch, max_batches)
        self._may_write()  # before anything is claimed: an engine that may not write here claims nothing
        self.record_tick(self._now())  # the time it happens, whatever moment the sweep is asked to sweep to
        return sweep.tick(self, now, batch=batch, max_batches=max_batches, stop=stop)

    def record_tick(self, at: datetime) -> None:
        """Record in the database that this engine's worker ticks it, at `at` (`cli.py health` reads it). A tick
        records itself at its start, and a long sweep again as it goes (engine.sweep)."""
        self.store.record_tick(self._tick_token, self.worker_id, at, first=self._last_tick_recorded is None)
        self._last_tick_recorded = at

    @property
    def last_tick_recorded(self) -> datetime | None:
        """When this engine last recorded a tick; None before its first."""
        return self._last_tick_recorded

    def record_stop(self) -> None:
        """Record that this engine's worker stops on purpose, if it ever ticked: `cli.py health` then says that
        the last worker was stopped rather than lost. Raises StorageUnavailable when the database is away."""
        if self._last_tick_recorded is not None:
            self.store.record_worker_stop(self._tick_token, self._now())

    def recompute_provisional(self, *, reload: bool = True) -> int:
        """After a calendar year's file was added: recompute provisional due times and re-arm their timers; how
        many clocks and timers were. The data is read again first, unless `reload` is False (the caller has just
        reloaded it, as the worker has when its `calendar_guard` took up a changed folder)."""
        self._may_write()
        return sweep.recompute_provisional(self, reload=reload)

    # -- queries ------------------------------------------------------------------------------------------

    def get(self, instance_id: str) -> InstanceView:
        inst = self.store.get_instance(instance_id) if may_name_instance(instance_id) else None
        if inst is None:
            raise UnknownInstance(instance_id)
        return inst

    def find(self, workflow_id: str, business_key: str) -> InstanceView:
        known = isinstance(business_key, str) and "\x00" not in business_key and isinstance(workflow_id, str)
        inst = self.store.find_instance(workflow_id, business_key) if known else None
        if inst is None:
            if known:  # a misspelt workflow is named as such, not as a missing instance of it
                check_filters(self.definitions, self.store, "find", workflow_id=workflow_id)
            raise UnknownInstance(f"{workflow_id}/{business_key}")
        return inst

    def history(self, instance_id: str) -> list[HistoryEntry]:
        self.get(instance_id)
        return self.store.history(instance_id)

    def verify_history(self, instance_id: str) -> ChainReport:
        """Recompute the hash chain of the instance's history: `ok` False names the first altered step; sealed
        steps are checked with the keyring (engine.history_keys)."""
        inst = self.get(instance_id)
        keys = self.history_keys.keys if self.history_keys is not None else None
        return verify_chain(instance_id, self.store.history(instance_id), inst.history_hash, keys,
                            keys_in_use_since(self.store))

    def clocks(self, instance_id: str) -> list[ClockView]:
        """The instance's SLA clocks; UnknownInstance for an id no instance has (an instance may have none)."""
        found = self.store.clocks(instance_id) if may_name_instance(instance_id) else []
        if not found:
            self.get(instance_id)  # an empty answer is only an answer for an instance that exists
        return found

    def pauses(self, clock_id: int) -> list[PauseEntry]:
        """The pause ledger of one clock (ids from `clocks`); PayloadInvalid for what is no clock id at all,
        UnknownClock for an id no clock has."""
        if isinstance(clock_id, bool) or not isinstance(clock_id, int) or not 0 < clock_id < 2**63:
            raise PayloadInvalid("clock_id", "a clock id (a whole number > 0, see Engine.clocks)", clock_id,
                                 where="pauses")
        found = self.store.pauses(clock_id)
        if not found:
            with self.store.transaction() as tx:
                known = tx.get_clock(clock_id) is not None
            if not known:
                raise UnknownClock(clock_id)
        return found

    def timers(self, instance_id: str) -> list[TimerView]:
        """The instance's timer rows: timer waits and hook retries (SLA moments: see `schedule`); UnknownInstance
        for an id no instance has."""
        found = self.store.timers(instance_id) if may_name_instance(instance_id) else []
        if not found:
            self.get(instance_id)
        return found

    def schedule(self, instance_id: str) -> list[Moment]:
        """Every SLA clock's ladder (warnings, due time, escalation levels), computed from the clocks, by time.

        `pending` marks the moments still ahead of a running clock: its stored next moment and those after it.
        """
        inst = self.get(instance_id)
        spec = self.machine(inst.workflow_id, inst.version).spec
        out: list[Moment] = []
        for clock in self.store.clocks(instance_id):
            st = spec.states.get(clock.state or "")
            sla = spec.sla if clock.scope == "procedure" else st.sla if st is not None else None
            if sla is None:
                continue
            due = DueTime(clock.due_at, date.fromisoformat(clock.last_day), clock.provisional)
            nxt = clock.next_fire_at
            for at, kind, level in clock_schedule(self.parts.sla, clock.calendar, sla, due):
                if kind == "warn" and at <= clock.started_at:
                    continue  # a warning already past when the clock started never applied
                out.append(Moment(clock.id, clock.scope, clock.state, kind, level, at, nxt is not None and at >= nxt))
        out.sort(key=lambda m: (m.at, m.clock_id))
        return out

    def allowed_events(self, instance_id: str, actor: Actor | None = None) -> tuple[str, ...]:
        """The events that leave the instance's state (only those `actor` may fire, when given)."""
        inst = self.get(instance_id)
        if inst.status != "running":
            return ()
        machine = self.machine(inst.workflow_id, inst.version)
        events = machine.allowed_events(inst.state)
        if actor is None:
            return tuple(events)
        spec = machine.spec
        out = []
        for e in events:
            t = spec.transition(inst.state, e)
            if t is not None and may_act_in(actor, spec, t.roles, inst.variables, self.parts.notices.directory):
                out.append(e)
        return tuple(out)

    def list_instances(self, query: InstanceQuery | None = None, **filters: Any) -> list[InstanceView]:
        """Instances matching the query (or keyword filters: workflow_id, status, state, business_key_prefix...)."""
        if query is None:
            known = InstanceQuery.__dataclass_fields__
            for name in filters:
                if name not in known:
                    raise PayloadInvalid(name, f"one of the filters {', '.join(sorted(known))}", filters[name],
                                         where="list_instances")
            query = InstanceQuery(**filters)
        check_query(query)
        check_filters(self.definitions, self.store, "list_instances", workflow_id=query.workflow_id,
                      state=query.state, status=query.status)
        return self.store.list_instances(query)

    def search(self, *, workflow_id: str | None = None, **variables: str | int | bool) -> list[InstanceView]:
        """Instances whose variables equal the given values, e.g. `search(provider_dept="1145...")`; with
        `workflow_id`, a name the workflow does not declare is refused instead of matching nothing."""
        query = InstanceQuery(workflow_id=workflow_id, variable_equals=variables)
        check_query(query)
        declared = self._declared_variables(workflow_id)
        for name in variables:
            if name not in declared:
                whose = f"a variable of {workflow_id}" if workflow_id else "a variable a loaded workflow declares"
                hint = difflib.get_close_matches(name, declared, n=1)
                raise PayloadInvalid(f"variable name {name!r}", whose + (f" (did you mean {hint[0]!r}?)" if hint
                                                                         else ""), variables[name], where="search")
        return self.store.list_instances(query)

    def _declared_variables(self, workflow_id: str | None) -> frozenset[str]:
        """The variable names one workflow declares (its newest version), or every loaded workflow."""
        if workflow_id is not None:
            return frozenset(self.machine(workflow_id).spec.variables)
        return frozenset(name for machine in self.definitions for name in machine.spec.variables)

    def health(self, now: datetime | None = None, *, grace: timedelta = DEFAULT_GRACE, workers: int = 1) -> Health:
        """Whether the database's due work is being done, for a backend's health endpoint: what `cli.py health`
        judges (engine.backlog), read at `now` (default: this engine's clock). `ok` is False when due work has
        waited longer than `grace`, fewer than `workers` workers ticked within it while work waits for one, a
        moment keeps failing or a message was given up on; each problem says what to run."""
        now = aware(now, "health") if now is not None else self._now()
        if not (isinstance(grace, timedelta) and grace > timedelta(0)):
            raise PayloadInvalid("grace", "a positive timedelta", grace, where="health")
        if not (type(workers) is int and workers >= 0):
            raise PayloadInvalid("workers", "a count of workers, 0 or more", workers, where="health")
        backlog = self.store.backlog(now)
        return Health(backlog, tuple(backlog_problems(backlog, grace, workers)))

    def overdue(self, now: datetime | None = None, *, limit: int = 1000, offset: int = 0,
                workflow_id: str | None = None) -> list[OverdueItem]:
        """Open clocks past their due time, most overdue first, with how many working days late; a supervisor's
        screen pages with `offset` (at most `LIST_LIMIT_MAX` a page). A clock standing still (a pausing state,
        a suspended instance) is listed only if it was late before it stopped."""
        now = aware(now, "overdue") if now is not None else self._now()
        check_page(limit, offset, "overdue")
        check_filter_text("workflow_id", workflow_id, "overdue")
        check_filters(self.definitions, self.store, "overdue", workflow_id=workflow_id)
        late_by = self.parts.sla.late_by
        return [OverdueItem(inst, clock, late_by(clock.calendar, clock.due_at, now))
                for clock, inst in self.store.overdue_clocks(now, limit, workflow_id, offset)]

    def close(self) -> None:
        self.store.close()

    # `list` as the short name of list_instances, defined last: inside the class body it would shadow the builtin
    # in the annotations of every method after it
    list = list_instances


def _saved(values: Mapping[str, Any], save: Iterable[str], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The variables a transition changes: the payload fields it saves, then its fixed `set` values."""
    changes = {k: values[k] for k in save if k in values}
    changes.update(fixed)
    return changes


__all__ = ["ADMIN_ROLES", "SUSPENDED_PAUSE", "Engine"]


def on_stored_row(command: Callable[[], T]) -> T:
    """Run a command, and once more if the instance row it took from the rows its process committed last was out
    of date (RowOutOfDate: it was undone). Taking that row removed it, so the second run reads the row from the
    database; only a writer that overtakes that run too makes the error the caller's."""
    try:
        return command()
    except RowOutOfDate:
        return command()
