"""The inside of one command: moving an instance through states within one transaction, writing its history,
SLA clocks, timers, outbox rows and the events to publish after commit. `runtime.Engine` drives it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from engine.errors import ExpressionError, HookError
from engine.escalation import SlaAction, sla_actions
from engine.events import BREACH, COMPLETED, ESCALATION, STATE_ENTERED, WARNING, EngineEvent
from engine.fields import decode_values, encode_values
from engine.history import make_entry
from engine.hooks import HookRegistry
from engine.notify import Notice, NoticeWriter
from engine.sla import DueTime, SlaCalculator
from engine.spec import EVENT_AUTO_DONE, EVENT_DECIDE, NotificationSpec, SlaSpec, StateKind, WorkflowSpec
from engine.store import ClockView, HistoryEntry, InstanceView, NewClock, NewTimer, OutboxItem, StoreTx

#: A command that walks more automatic steps than this is caught in a loop of decisions and hooks.
MAX_AUTOMATIC_STEPS = 64


class CompiledMachine(Protocol):
    """What the runtime needs of `engine.definitions.CompiledWorkflow`."""

    @property
    def spec(self) -> WorkflowSpec: ...
    @property
    def version(self) -> str: ...
    def allowed_events(self, state: str) -> tuple[str, ...]: ...
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


class Run:
    """One instance's changes within one command; `finish()` gives the row to write."""

    def __init__(self, parts: Parts, tx: StoreTx, machine: CompiledMachine, inst: InstanceView, now: datetime) -> None:
        self.parts = parts
        self.tx = tx
        self.machine = machine
        self.spec = machine.spec
        self.inst = inst
        self.now = now
        self.state = inst.state
        self.vars: dict[str, Any] = decode_values(self.spec, inst.variables)
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

    # -- the row ------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write history, timers and outbox; after the instance row, so a lost race fails on the row version."""
        self.tx.append_history(self.history)
        self.tx.insert_timers(self.timers)
        self.tx.insert_outbox(self.outbox, self.now)

    def finish(self) -> InstanceView:
        """The instance's new row (one row version on)."""
        i = self.inst
        return InstanceView(i.id, i.workflow_id, i.version, i.business_key, self.state, encode_values(self.vars),
                            self.status, self.outcome, i.row_version + 1, self.seq, self.hash, self.last_error,
                            i.created_at, self.now)

    def record(self, actor: str, event: str, from_state: str | None, to_state: str,
               payload: Mapping[str, Any] | None = None) -> None:
        self.seq += 1
        entry = make_entry(self.hash, self.inst.id, self.seq, self.now, actor, event, from_state, to_state,
                           encode_values(payload or {}))
        self.hash = entry.hash
        self.history.append(entry)

    def event(self, kind: str, **data: Any) -> None:
        if not self.parts.events_wanted:
            return
        self.events.append(EngineEvent(kind, self.inst.id, self.inst.workflow_id, self.inst.business_key,
                                       self.state, self.now, data))

    # -- moving -------------------------------------------------------------------------------------------

    def transition(self, event: str, dest: str, actor: str, payload: Mapping[str, Any] | None = None) -> None:
        source = self.state
        self.leave(source, dest)
        self.record(actor, event, source, dest, payload)
        self.enter(dest)

    def begin(self, actor: str, payload: Mapping[str, Any]) -> None:
        """A new instance: record its start, start the procedure clock, enter the initial state."""
        self.record(actor, "start", None, self.spec.initial, payload)
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
        self.event(STATE_ENTERED, state_kind=st.kind.value)
        psla = self.spec.sla
        if psla is not None and name in psla.pause_in:
            self._pause_procedure_clock(name)
        due = None
        if st.kind is StateKind.TASK and st.sla is not None:
            due = self._start_clock("task", name, st.sla)
        elif st.kind is StateKind.END:
            self._complete(st.outcome)
        # after the clock started and the outcome is known, so that the message can tell them
        self._notify_state(st.on_enter, name, self.seq, due)
        if st.kind is StateKind.TIMER:
            self._arm_timer(name)
        elif st.kind is StateKind.DECISION:
            dest = self.machine.step(self.inst.id, name, EVENT_DECIDE, self.vars)
            self.transition(EVENT_DECIDE, dest, "system")
        elif st.kind is StateKind.AUTO:
            self.run_hook(name, attempts=0)

    def leave(self, name: str, dest: str) -> None:
        st = self.spec.states[name]
        self._notify_state(st.on_exit, name, self.seq + 1)  # the step being recorded is the one that leaves
        psla = self.spec.sla
        pausing = psla is not None and name in psla.pause_in and dest not in psla.pause_in
        if (st.kind is StateKind.TASK and st.sla is not None) or pausing:
            for clock in self.open_clocks():
                if clock.scope == "task" and clock.state == name:
                    self._stop_clock(clock)
                elif pausing and clock.scope == "procedure" and clock.status == "paused":
                    self._resume_clock(clock)
        if st.kind in (StateKind.TIMER, StateKind.AUTO):
            self.tx.cancel_timers(self.inst.id, kinds=("timer", "hook"))

    def run_hook(self, name: str, attempts: int) -> None:
        """Call the automatic step's hook; on failure stay here, keep the error and arm a retry with back-off."""
        st = self.spec.states[name]
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
        self.vars.update(updates)
        dest = self.machine.step(self.inst.id, name, EVENT_AUTO_DONE, self.vars)
        self.transition(EVENT_AUTO_DONE, dest, "system", {"hook": st.hook, "updates": updates})

    # -- clocks -------------------------------------------------------------------------------------------

    def open_clocks(self) -> list[ClockView]:
        if self._open_clocks is None:
            self._open_clocks = self.tx.open_clocks(self.inst.id)
        return self._open_clocks

    def _replace_clock(self, clock: ClockView) -> None:
        self.tx.update_clock(clock)
        if self._open_clocks is not None:
            self._open_clocks = [clock if c.id == clock.id else c for c in self._open_clocks
                                 if c.id != clock.id or clock.stopped_at is None]

    def _start_clock(self, scope: str, state: str | None, sla: SlaSpec) -> datetime:
        due = self.parts.sla.due(self.spec.calendar, self.now, sla.due, self.vars)
        clock_id = self.tx.insert_clock(NewClock(self.inst.id, scope, state, self.spec.calendar, self.now, due.due,
                                                 due.last_day.isoformat(), due.provisional))
        if self._open_clocks is not None:
            self._open_clocks.append(ClockView(clock_id, self.inst.id, scope, state, self.spec.calendar, self.now,
                                               due.due, due.due, due.last_day.isoformat(), 0, None, "running",
                                               False, due.provisional, None))
        self.timers.extend(clock_timers(self.parts.sla, self.inst.id, clock_id, self.spec.calendar, sla, due,
                                        self.now))
        return due.due

    def _stop_clock(self, clock: ClockView) -> None:
        late = clock.breached or self.now > clock.due_at
        self._replace_clock(dataclasses.replace(
            clock, status="breached" if late else "met", breached=late, stopped_at=self.now, paused_since=None))
        self.tx.cancel_timers(self.inst.id, clock_id=clock.id)

    def _pause_procedure_clock(self, state: str) -> None:
        for clock in self.open_clocks():
            if clock.scope == "procedure" and clock.status != "paused":
                self._replace_clock(dataclasses.replace(clock, status="paused", paused_since=self.now))
                self.tx.insert_pause(clock.id, state, self.now)
                self.tx.cancel_timers(self.inst.id, clock_id=clock.id)

    def _resume_clock(self, clock: ClockView) -> None:
        assert clock.paused_since is not None
        days = self.parts.sla.working_days_between(clock.calendar, clock.paused_since, self.now)
        self.tx.close_pause(clock.id, self.now, days)
        current = DueTime(clock.due_at, _date(clock.last_day), clock.provisional)
        due = self.parts.sla.extend(clock.calendar, current, days)
        resumed = dataclasses.replace(
            clock, status="breached" if clock.breached else "running", paused_since=None, due_at=due.due,
            last_day=due.last_day.isoformat(), paused_working_days=clock.paused_working_days + days,
            provisional=clock.provisional or due.provisional,
        )
        self._replace_clock(resumed)
        if self.spec.sla is not None:
            self.timers.extend(clock_timers(self.parts.sla, self.inst.id, clock.id, clock.calendar, self.spec.sla,
                                            due, self.now))

    def _complete(self, outcome: str | None) -> None:
        self.status = "completed"
        self.outcome = outcome
        for clock in self.open_clocks():
            self._stop_clock(clock)
        self.tx.cancel_timers(self.inst.id)
        self.event(COMPLETED, outcome=outcome)

    def _arm_timer(self, name: str) -> None:
        st = self.spec.states[name]
        if st.after is not None:
            at = self.parts.sla.after(self.spec.calendar, self.now, st.after)
        else:
            from engine.spec import DueSpec

            at = self.parts.sla.due(self.spec.calendar, self.now, DueSpec(date_variable=st.at_variable),
                                    self.vars).due
        self.timers.append(NewTimer(self.inst.id, "timer", at, state=name))

    # -- notifications ------------------------------------------------------------------------------------

    def _notify_state(self, notes: tuple[NotificationSpec, ...], state: str, seq: int,
                      due: datetime | None = None) -> None:
        for n in notes:
            notice = Notice("state", n.template, n.to, state, f"state:{self.inst.id}:{seq}:{n.template}",
                            due=due, outcome=self.outcome)
            self.outbox.extend(self.parts.notices.items(self.spec, self.inst.id, self.inst.business_key,
                                                        self.vars, notice))

    def sla_due(self, clock: ClockView) -> list[SlaAction]:
        """Record and notify the warnings, breach and escalation levels of a clock that are due now, once each."""
        sla, assignee = self.clock_sla(clock)
        if sla is None:
            return []
        due = DueTime(clock.due_at, _date(clock.last_day), clock.provisional)
        warn = self.parts.sla.warn_times(clock.calendar, due, sla)
        levels = self.parts.sla.level_times(clock.calendar, due, sla)
        done: list[SlaAction] = []
        for action in sla_actions(sla, clock, self.now, warn, levels, assignee):
            if not self.tx.record_sla_event(clock.id, self.inst.id, action.kind, action.level, self.now):
                continue
            if action.kind == "breach" and not clock.breached:
                clock = dataclasses.replace(clock, status="breached", breached=True)
                self._replace_clock(clock)
            late = self.parts.sla.late_by(clock.calendar, clock.due_at, self.now)
            notice = Notice(action.kind, action.template, action.roles, clock.state or self.state,
                            f"sla:{clock.id}:{action.kind}:{action.level}", level=action.level, due=clock.due_at,
                            late_by_days=late)
            self.outbox.extend(self.parts.notices.items(self.spec, self.inst.id, self.inst.business_key,
                                                        self.vars, notice))
            kind = {"warning": WARNING, "breach": BREACH, "escalation": ESCALATION}[action.kind]
            self.event(kind, clock_id=clock.id, level=action.level, roles=list(action.roles),
                       due=clock.due_at.isoformat(), late_by_working_days=late)
            done.append(action)
        return done

    def clock_sla(self, clock: ClockView) -> tuple[SlaSpec | None, str | None]:
        if clock.scope == "procedure":
            return self.spec.sla, None
        st = self.spec.states.get(clock.state or "")
        return (st.sla, st.assignee) if st is not None else (None, None)


def clock_timers(
    calc: SlaCalculator, instance_id: str, clock_id: int, region: str, sla: SlaSpec, due: DueTime, now: datetime
) -> list[NewTimer]:
    """The clock's whole schedule as timer rows: each warning still ahead, the due time, each escalation level.

    All of them, not only the next, so that operators (`cli.py show`, `simulate`) see the ladder; a late tick
    acts on everything due at once and the later rows then find nothing left to do.
    """
    timers = [NewTimer(instance_id, "warn", at, clock_id=clock_id, level=i)
              for i, at in enumerate(calc.warn_times(region, due, sla), start=1) if now < at < due.due]
    timers.append(NewTimer(instance_id, "due", due.due, clock_id=clock_id))
    timers.extend(NewTimer(instance_id, "escalate", at, clock_id=clock_id, level=level)
                  for level, at in calc.level_times(region, due, sla))
    return timers


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)
