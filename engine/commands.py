"""The inside of one command: moving an instance through states within one transaction, writing its history,
SLA clocks, timers, outbox rows and the events to publish after commit. `runtime.Engine` drives it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from engine.authz import SYSTEM_ROLE
from engine.errors import ExpressionError, HookError
from engine.escalation import SlaAction, sla_actions
from engine.events import BREACH, COMPLETED, ESCALATION, STATE_ENTERED, WARNING, EngineEvent
from engine.fields import decode_values, encode_value
from engine.history import step_hash
from engine.hooks import HookRegistry
from engine.memo import Derived
from engine.notify import Notice, NoticeWriter
from engine.ports import Actor
from engine.sla import DueTime, SlaCalculator
from engine.spec import (
    EVENT_AUTO_DONE,
    EVENT_DECIDE,
    NotificationSpec,
    SlaSpec,
    StateKind,
    StateSpec,
    TransitionSpec,
    WorkflowSpec,
)
from engine.store import ClockView, HistoryEntry, InstanceView, NewClock, NewTimer, OutboxItem, StoreTx

log = logging.getLogger(__name__)

#: A command that walks more automatic steps than this is caught in a loop of decisions and hooks.
MAX_AUTOMATIC_STEPS = 64

#: The smallest step of time: the moment just before a due time
_INSTANT = timedelta(microseconds=1)

# The state kinds the command path compares against, looked up once: on Python 3.11 every attribute read on
# an enum class goes through EnumType.__getattr__'s slot, several times the cost of a module global.
_TASK, _END, _TIMER, _DECISION, _AUTO = (StateKind.TASK, StateKind.END, StateKind.TIMER, StateKind.DECISION,
                                         StateKind.AUTO)

#: The actor id of the engine's own steps (decisions, automatic steps, timers), recorded in the role `system`.
ENGINE_ID = Actor.system().id


class CompiledMachine(Protocol):
    """What the runtime needs of `engine.definitions.CompiledWorkflow`."""

    @property
    def spec(self) -> WorkflowSpec: ...
    @property
    def version(self) -> str: ...
    def allowed_events(self, state: str) -> tuple[str, ...]: ...
    def transition(self, state: str, event: str) -> TransitionSpec | None: ...
    def step(self, instance_id: str, state: str, event: str, variables: Mapping[str, Any]) -> str: ...


@dataclasses.dataclass(slots=True)
class Parts:
    """The engine's collaborators a command uses."""

    sla: SlaCalculator
    hooks: HookRegistry
    notices: NoticeWriter
    hook_backoff: timedelta = timedelta(seconds=30)
    hook_backoff_max: timedelta = timedelta(hours=1)
    events_wanted: bool = False  # set once someone subscribes: until then no event objects are built
    #: the history key that seals each new step (engine.history_keys), by id and value; None: plain SHA-256
    seal: tuple[str, bytes] | None = None


class Run:
    """One instance's changes within one command; `finish()` gives the row to write."""

    __slots__ = ("_open_clocks", "_pausers", "_steps", "_stored_vars", "events", "hash", "history", "inst",
                 "last_error", "machine", "now", "outbox", "outcome", "parts", "seq", "spec", "state", "status",
                 "timers", "tx", "vars")

    def __init__(self, parts: Parts, tx: StoreTx, machine: CompiledMachine, inst: InstanceView, now: datetime) -> None:
        self.parts = parts
        self.tx = tx
        self.machine = machine
        self.spec = machine.spec
        self.inst = inst
        if now < inst.updated_at:
            # the clock is behind this instance's last step (set back, or another node's clock runs ahead): the
            # step is recorded at the last step's time, so an instance's history never runs backwards
            log.warning("clock at %s is behind the last step of instance %s (%s): recorded at the latter",
                        now.isoformat(), inst.id, inst.updated_at.isoformat())
            now = inst.updated_at
        self.now = now
        self.state = inst.state
        self.vars: dict[str, Any] = decode_values(self.spec, inst.variables)
        # the variables' stored form while they are as read (None once changed): written back without encoding
        self._stored_vars: Mapping[str, Any] | None = inst.variables
        self.status = inst.status
        self.outcome = inst.outcome
        self.seq = inst.history_seq
        self.hash = inst.history_hash
        self.last_error = inst.last_error
        self.history: list[HistoryEntry] = []
        self.outbox: list[OutboxItem] = []
        self.timers: list[NewTimer] = []
        self.events: list[EngineEvent] = []
        self._steps = 0
        self._open_clocks: list[ClockView] | None = None
        self._pausers = _pausing_tasks(self.spec)

    # -- the row ------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write history, timers and outbox; after the instance row, so a lost race fails on the row version."""
        self.tx.append_history(self.history)
        if self.timers:
            self.tx.insert_timers(self.timers)
        if self.outbox:
            self.tx.insert_outbox(self.outbox, self.now)

    def finish(self) -> InstanceView:
        """The instance's new row (one row version on)."""
        i = self.inst
        stored = self._stored_vars
        return InstanceView(i.id, i.workflow_id, i.version, i.business_key, self.state,
                            stored if stored is not None else _encode(self.vars), self.status, self.outcome,
                            i.row_version + 1, self.seq, self.hash, self.last_error, i.created_at, self.now)

    def update_vars(self, updates: Mapping[str, Any]) -> None:
        """Change variables (the values checked already); every change goes through here, so that `finish`
        knows whether the stored form still holds."""
        if updates:
            self.vars.update(updates)
            self._stored_vars = None

    def record(self, actor: str, event: str, from_state: str | None, to_state: str,
               payload: Mapping[str, Any] | None = None, role: str | None = None,
               department: str | None = None) -> None:
        self._append_step(actor, event, from_state, to_state, _encode(payload) if payload else {}, role, department)

    def _append_step(self, actor: str, event: str, from_state: str | None, to_state: str,
                     data: dict[str, Any], role: str | None, department: str | None) -> None:
        """Chain a step to the history; `data` is the payload's JSON form, kept by the entry. `role` and
        `department`: the capacity the actor acted in (`HistoryEntry.actor_role`); a step of the engine's own
        identity, given none, is recorded in the role `system`."""
        if role is None and actor == ENGINE_ID:
            role = SYSTEM_ROLE
        self.seq += 1
        seal = self.parts.seal
        key_id, key = seal if seal is not None else (None, None)
        digest = step_hash(self.hash, self.inst.id, self.seq, self.now, actor, event, from_state, to_state, data,
                           role, department, key)
        self.history.append(HistoryEntry(self.inst.id, self.seq, self.now, actor, event, from_state, to_state, data,
                                         self.hash, digest, role, department, key_id))
        self.hash = digest

    def event(self, kind: str, **data: Any) -> None:
        if not self.parts.events_wanted:
            return
        self.events.append(EngineEvent(kind, self.inst.id, self.inst.workflow_id, self.inst.business_key,
                                       self.state, self.now, data))

    # -- moving -------------------------------------------------------------------------------------------

    def transition(self, event: str, dest: str, actor: str, payload: Mapping[str, Any] | None = None,
                   role: str | None = None, department: str | None = None) -> None:
        """Move to `dest`, recording the step as `actor` acting in `role` for `department`."""
        source = self.state
        self.leave(source, dest)
        self.record(actor, event, source, dest, payload, role, department)
        self.enter(dest)

    def begin(self, actor: str, role: str | None = None, department: str | None = None) -> None:
        """A new instance: record its start with its variables, start the procedure clock, enter the initial
        state."""
        self._append_step(actor, "start", None, self.spec.initial, {"variables": dict(self.inst.variables)}, role,
                          department)
        if self.spec.sla is not None:
            self._start_clock("procedure", None, self.spec.sla)
        self.enter(self.spec.initial)

    def enter(self, name: str) -> None:
        self._steps += 1
        if self._steps > MAX_AUTOMATIC_STEPS:
            raise ExpressionError(name, f"more than {MAX_AUTOMATIC_STEPS} automatic steps in one command: "
                                  "the decisions and automatic steps of the definition form a loop")
        st = self.spec.states[name]
        self.state = name
        self.event(STATE_ENTERED, state_kind=st.kind)  # a StrEnum: the kind's text itself
        psla = self.spec.sla
        if psla is not None and name in psla.pause_in:
            self._pause_procedure_clock(name)
        due = None
        if st.kind is _TASK and st.sla is not None:
            # back from a state its clock pauses in: the same clock counts on (resumed when leaving that state)
            kept = next((c for c in self.open_clocks() if c.scope == "task" and c.state == name),
                        None) if st.sla.pause_in else None
            due = kept.due_at if kept is not None else self._start_clock("task", name, st.sla)
        elif st.kind is _END:
            self._complete(st.outcome)
        if st.on_enter:  # after the clock started and the outcome is known, so that the message can tell them
            self._notify_state(st.on_enter, name, self.seq, due)
        if st.kind is _TIMER:
            self._arm_timer(name)
        elif st.kind is _DECISION:
            dest = self.machine.step(self.inst.id, name, EVENT_DECIDE, self.vars)
            self.transition(EVENT_DECIDE, dest, ENGINE_ID, role=SYSTEM_ROLE)
        elif st.kind is _AUTO:
            self.run_hook(name, attempts=0)

    def leave(self, name: str, dest: str) -> None:
        st = self.spec.states[name]
        if st.on_exit:
            self._notify_state(st.on_exit, name, self.seq + 1)  # the step being recorded is the one that leaves
        psla = self.spec.sla
        pausing = psla is not None and name in psla.pause_in and dest not in psla.pause_in
        pausers = self._pausers.get(name)
        if pausers:  # rare: a task clock pauses here (else the clocks are not even read)
            self._task_clocks_leaving_pause(pausers, dest)
        if (st.kind is _TASK and st.sla is not None and not pausing and self._open_clocks is None
                and dest not in st.sla.pause_in and self.tx.stop_task_clock(self.inst.id, name, self.now)):
            pass  # stopped in time (or after its recorded breach) without reading the clocks
        elif (st.kind is _TASK and st.sla is not None) or pausing:
            for clock in self.open_clocks():
                if clock.scope == "task" and clock.state == name:
                    if st.sla is not None and dest in st.sla.pause_in:
                        self.pause_clock(clock, dest)  # stands still there, counts on when the task is back
                    else:
                        self.stop_clock(clock)
                elif pausing and clock.scope == "procedure" and clock.status == "paused":
                    self.resume_clock(clock)
        if st.kind in (_TIMER, _AUTO):
            self.tx.cancel_timers(self.inst.id, kinds=("timer", "hook"))

    def _task_clocks_leaving_pause(self, pausers: tuple[tuple[str, tuple[str, ...]], ...], dest: str) -> None:
        """A task clock paused in the state left (`pausers`: the tasks whose `pause_in` has it) stays paused when
        `dest` is another pausing state, counts on when `dest` is its task, and otherwise stops for good, the
        paused days not counted."""
        tasks = {task for task, pause_in in pausers if dest not in pause_in}
        if not tasks:
            return
        for clock in list(self.open_clocks()):
            if clock.scope != "task" or clock.status != "paused" or clock.state not in tasks:
                continue
            self.resume_clock(clock)
            if dest != clock.state:
                resumed = self._current(clock)
                self.stop_clock(resumed)

    def run_hook(self, name: str, attempts: int) -> None:
        """Call the automatic step's hook; on failure stay here, keep the error and arm a retry with back-off."""
        st = self.spec.states[name]
        self.tx.confirm_current(self.inst.id)  # a hook acts outside the transaction: never on a row out of date
        try:
            updates = self.parts.hooks.call(self.spec, st.hook or "", self.inst.id, self.vars)
        except HookError as err:
            self.last_error = str(err)
            delay = min(self.parts.hook_backoff * (2 ** min(attempts, 16)), self.parts.hook_backoff_max)
            self.timers.append(NewTimer(self.inst.id, "hook", self.now + delay, state=name, attempts=attempts + 1,
                                        last_error=str(err)))
            self.event("hook_failed", hook=st.hook, error=str(err), attempts=attempts + 1)
            return
        self.last_error = None
        self.update_vars(updates)
        dest = self.machine.step(self.inst.id, name, EVENT_AUTO_DONE, self.vars)
        self.transition(EVENT_AUTO_DONE, dest, ENGINE_ID, {"hook": st.hook, "updates": updates}, SYSTEM_ROLE)

    # -- clocks -------------------------------------------------------------------------------------------

    def open_clocks(self) -> list[ClockView]:
        if self._open_clocks is None:
            self._open_clocks = self.tx.open_clocks(self.inst.id)
        return self._open_clocks

    def _current(self, clock: ClockView) -> ClockView:
        """The clock as this command last stored it (a catch-up or a resumption replaces the row)."""
        return next((c for c in self.open_clocks() if c.id == clock.id), clock)

    def _replace_clock(self, clock: ClockView) -> None:
        self.tx.update_clock(clock)
        if self._open_clocks is not None:
            self._open_clocks = [clock if c.id == clock.id else c for c in self._open_clocks
                                 if c.id != clock.id or clock.stopped_at is None]

    def _start_clock(self, scope: str, state: str | None, sla: SlaSpec) -> datetime:
        due, last_day, ladder = self.parts.sla.opening(self.spec.calendar, self.now, sla, self.vars)
        at, kind, level = armed_moment(ladder, due.due, self.now)
        clock_id = self.tx.insert_clock(NewClock(self.inst.id, scope, state, self.spec.calendar, self.now, due.due,
                                                 last_day, due.provisional, at, kind, level))
        if self._open_clocks is not None:
            self._open_clocks.append(ClockView(clock_id, self.inst.id, scope, state, self.spec.calendar, self.now,
                                               due.due, due.due, last_day, 0, None, "running",
                                               False, due.provisional, None, at, kind, level))
        return due.due

    def stop_clock(self, clock: ClockView, on_time: str = "met") -> None:
        """Stop a clock for good: `on_time` is its status unless it is late (`met` when its step is done,
        `cancelled` when the instance is). The due time is the first late moment, as for the tick.

        A running clock stopped late before a tick caught the due time has its breach (and any level due with
        it) happen now, so that every late clock has its breach recorded and told. A paused clock stands still:
        its pause ends in the ledger with the working days it covered, and it is late only if it was before."""
        if clock.status == "paused":
            self._close_pause(clock, moves_deadline=False)  # the count only fills the ledger: no deadline moves
            late = clock.breached
        else:
            if not clock.breached and clock.next_fire_at is not None and self.now >= clock.due_at:
                self.sla_due(clock)
                clock = self._current(clock)
            late = clock.breached or self.now >= clock.due_at
        self._replace_clock(dataclasses.replace(
            clock, status="breached" if late else on_time, breached=late, stopped_at=self.now, paused_since=None,
            next_fire_at=None, next_kind=None, next_level=0))

    def paused_by_state(self, clock: ClockView) -> bool:
        """Whether the state the instance is in holds this clock paused (its SLA's `pause_in`), as opposed to a
        suspension: resuming the instance leaves such a clock paused until the state is left."""
        sla, _ = self.clock_sla(clock)
        return sla is not None and self.state in sla.pause_in

    def pause_clock(self, clock: ClockView, reason: str) -> None:
        """Stop the clock counting (a pausing state, or the instance suspended); `reason` goes to the ledger.

        A moment already due that no tick caught (the worker was down) happens first, now: a pause drops the next
        moment and resuming arms only moments after it, so a breach left for later would never be recorded."""
        if clock.next_fire_at is not None and clock.next_fire_at <= self.now:
            self.sla_due(clock)
            clock = self._current(clock)
        self._replace_clock(dataclasses.replace(clock, status="paused", paused_since=self.now, next_fire_at=None,
                                                next_kind=None, next_level=0))
        self.tx.insert_pause(clock.id, reason, self.now)

    def _pause_procedure_clock(self, state: str) -> None:
        for clock in self.open_clocks():
            if clock.scope == "procedure" and clock.status != "paused":
                self.pause_clock(clock, state)

    def resume_clock(self, clock: ClockView) -> None:
        """Count again: the due time moves on by the working days the pause took, the next moment is re-armed.

        A pause over days off only adds nothing: a clock paused at 22:00 on its last day and resumed on the
        Saturday is past its due time. The moments after the pause began are armed, so those already due happen
        now, in this command (the ones recorded before the pause are recorded once only)."""
        paused_since = clock.paused_since
        assert paused_since is not None
        days = self._close_pause(clock)
        current = DueTime(clock.due_at, _date(clock.last_day), clock.provisional)
        calc = self.parts.sla
        due = calc.extend(clock.calendar, current, days)
        sla, _ = self.clock_sla(clock)
        at, kind, level, provisional = None, None, 0, clock.provisional or due.provisional
        if sla is not None:
            ladder = calc.ladder(clock.calendar, due, sla)
            at, kind, level = _first_after(ladder, paused_since)
            provisional = provisional or calc.ladder_provisional(clock.calendar, due, ladder)
        resumed = dataclasses.replace(
            clock, status="breached" if clock.breached else "running", paused_since=None, due_at=due.due,
            last_day=due.last_day.isoformat(), paused_working_days=clock.paused_working_days + days,
            provisional=provisional, next_fire_at=at, next_kind=kind, next_level=level,
        )
        self._replace_clock(resumed)
        if at is not None and at <= self.now:
            self.sla_due(resumed)

    def _close_pause(self, clock: ClockView, *, moves_deadline: bool = True) -> int:
        """End a paused clock's open ledger row now; the working days the pause covered (see
        `SlaCalculator.working_days_between` for `moves_deadline`)."""
        assert clock.paused_since is not None
        days = self.parts.sla.working_days_between(clock.calendar, clock.paused_since, self.now,
                                                   moves_deadline=moves_deadline)
        self.tx.close_pause(clock.id, self.now, days)
        return days

    def _complete(self, outcome: str | None) -> None:
        self.status = "completed"
        self.outcome = outcome
        # timer and hook rows belong to timer and automatic states, whose leaving cancelled them already.
        # Only the procedure clock and the task clock of the state just left can be open, and `leave` has
        # stopped the latter: without a procedure SLA, nothing is left to stop unless clocks were loaded
        if self._open_clocks is not None or self.spec.sla is not None:
            for clock in self.open_clocks():
                self.stop_clock(clock)
        self.event(COMPLETED, outcome=outcome)

    def _arm_timer(self, name: str) -> None:
        due = timer_moment(self.parts.sla, self.spec.calendar, self.spec.states[name], self.now, self.vars)
        self.timers.append(NewTimer(self.inst.id, "timer", due.due, state=name, provisional=due.provisional,
                                    armed_at=self.now))

    # -- notifications ------------------------------------------------------------------------------------

    def _notify_state(self, notes: tuple[NotificationSpec, ...], state: str, seq: int,
                      due: datetime | None = None) -> None:
        if not notes or not self.parts.notices.writes():
            return
        for n in notes:
            notice = Notice("state", n.template, n.to, state, f"state:{self.inst.id}:{seq}:{n.template}",
                            due=due, outcome=self.outcome)
            self.outbox.extend(self.parts.notices.items(self.spec, self.inst.id, self.inst.business_key,
                                                        self.vars, notice))

    def sla_due(self, clock: ClockView) -> list[SlaAction]:
        """Record and notify the warnings, breach and escalation levels of a clock that are due now, once each,
        then store the clock's next moment (None when the ladder is done)."""
        sla, assignee = self.clock_sla(clock)
        if sla is None:
            self._replace_clock(dataclasses.replace(clock, next_fire_at=None, next_kind=None, next_level=0))
            return []
        due = DueTime(clock.due_at, _date(clock.last_day), clock.provisional)
        calc = self.parts.sla
        warn = calc.warn_times(clock.calendar, due, sla)
        levels = calc.level_times(clock.calendar, due, sla)
        done: list[SlaAction] = []
        for action in sla_actions(sla, clock, self.now, warn, levels, assignee):
            first = self.tx.record_sla_event(clock.id, self.inst.id, action.kind, action.level, self.now)
            if action.kind == "breach" and not clock.breached:
                # recorded now or already (by a tick this command read the clock before): breached either way, so
                # what this command writes holds to the rule of breached clocks until its row version fails it
                clock = dataclasses.replace(clock, status="breached", breached=True)
            if not first:
                continue
            late = calc.late_by(clock.calendar, clock.due_at, self.now)
            notice = Notice(action.kind, action.template, action.roles, clock.state or self.state,
                            f"sla:{clock.id}:{action.kind}:{action.level}", level=action.level, due=clock.due_at,
                            late_by_days=late)
            self.outbox.extend(self.parts.notices.items(self.spec, self.inst.id, self.inst.business_key,
                                                        self.vars, notice))
            kind = {"warning": WARNING, "breach": BREACH, "escalation": ESCALATION}[action.kind]
            self.event(kind, clock_id=clock.id, level=action.level, roles=list(action.roles),
                       due=clock.due_at.isoformat(), late_by_working_days=late)
            done.append(action)
        ladder = calc.ladder(clock.calendar, due, sla)
        at, next_kind, level = _first_after(ladder, self.now)
        provisional = clock.provisional or calc.ladder_provisional(clock.calendar, due, ladder)
        self._replace_clock(dataclasses.replace(clock, next_fire_at=at, next_kind=next_kind, next_level=level,
                                                provisional=provisional))
        return done

    def clock_sla(self, clock: ClockView) -> tuple[SlaSpec | None, str | None]:
        if clock.scope == "procedure":
            return self.spec.sla, None
        st = self.spec.states.get(clock.state or "")
        return (st.sla, st.assignee) if st is not None else (None, None)


def clock_schedule(calc: SlaCalculator, region: str, sla: SlaSpec, due: DueTime) -> list[tuple[datetime, str, int]]:
    """The clock's whole ladder in time order: (moment, kind, level) of each warning before the due time, the due
    time, each escalation level. Computed from the clock, so nothing but the next moment needs storing."""
    return list(calc.ladder(region, due, sla))


def armed_moment(rungs: Iterable[tuple[datetime, str, int]], due: datetime,
                 since: datetime) -> tuple[datetime | None, str | None, int]:
    """The moment a clock counting since `since` is armed at: the first of its ladder after `since`, and never
    one after its due time. A due time already past (a date variable: a completion date gone by) arms the due
    time itself, so the next tick records the breach and the levels due.

    The database holds every clock not yet breached to this (`ck_sla_clock_next_by_due`): the overdue listing
    finds the late ones no tick has caught among the clocks due to the worker."""
    return _first_after(rungs, min(since, due - _INSTANT))


def _first_after(rungs: Iterable[tuple[datetime, str, int]], now: datetime) -> tuple[datetime | None, str | None, int]:
    for at, kind, level in rungs:
        if at > now:
            return at, kind, level
    return None, None, 0


_Pausers = dict[str, tuple[tuple[str, tuple[str, ...]], ...]]
_PAUSERS: Derived[_Pausers] = Derived(256)


def _pausing_tasks(spec: WorkflowSpec) -> _Pausers:
    """Per state, the tasks whose clock pauses in it, with each one's pausing states; once per spec."""
    return _PAUSERS.of(spec, _work_out_pausers)


def _work_out_pausers(spec: WorkflowSpec) -> _Pausers:
    found: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for task, st in spec.states.items():
        if st.sla is not None:
            for name in st.sla.pause_in:
                found.setdefault(name, []).append((task, st.sla.pause_in))
    return {name: tuple(tasks) for name, tasks in found.items()}


_PLAIN = frozenset({str, int, bool, float, type(None)})


def _encode(values: Mapping[str, Any]) -> dict[str, Any]:
    """`engine.fields.encode_values`, with plain JSON values (most of them) passed through without a look."""
    return {k: v if type(v) in _PLAIN else encode_value(v) for k, v in values.items()}


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def timer_moment(calc: SlaCalculator, region: str, st: StateSpec, armed_at: datetime,
                 variables: Mapping[str, Any]) -> DueTime:
    """When a timer state moves on by itself: its period (`after`, e.g. the 10 WD publicity) counted from when it
    was armed, or the end of the date its `at` variable holds."""
    from engine.spec import DueSpec

    due = DueSpec(duration=st.after) if st.after is not None else DueSpec(date_variable=st.at_variable)
    return calc.due(region, armed_at, due, variables)
