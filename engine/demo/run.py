"""The demo's simulation: a real Engine on SQLite and a manual clock that moves through autumn 2026.

Cases start at their moments; each task that is entered gets an answer scheduled by the playbook and the
department's habits; the clock ticks the engine every two hours (deadlines fall at 24:00, so every warning,
breach, escalation and timer fires at its own moment) and the outbox goes out through the file channel.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TextIO

from calendars import get_calendar
from engine.clock import SHANGHAI, ManualClock
from engine.demo import playbook
from engine.demo.cast import Cast
from engine.demo.hooks import DemoHooks
from engine.demo.scenario import FIRST_START, Case, answer_moment, days_to_answer
from engine.errors import WorkflowError
from engine.events import BREACH, COMPLETED, ESCALATION, STATE_ENTERED, WARNING, EngineEvent
from engine.runtime import Engine
from engine.spec import DurationUnit, StateKind, WorkflowSpec

#: How far the clock moves between two ticks.
TICK = timedelta(hours=2)
#: The simulation stops here even if something is still open.
LAST_MOMENT = datetime(2027, 1, 1, tzinfo=SHANGHAI)


@dataclass(order=True)
class _Planned:
    moment: datetime
    seq: int
    instance_id: str = field(compare=False)
    state: str = field(compare=False)
    event: str = field(compare=False)
    visit: int = field(compare=False)
    case: Case | None = field(compare=False, default=None)


@dataclass
class Tally:
    """What happened, counted as it happened (from the engine's events and the commands' results)."""

    started: Counter[str] = field(default_factory=Counter)
    completed: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    warnings: int = 0
    breaches: int = 0
    escalations: Counter[int] = field(default_factory=Counter)
    dispatched: int = 0
    commands: int = 0
    overtaken: int = 0  # an answer that came after a timer had already moved the case on
    refused: list[str] = field(default_factory=list)
    unplayed: list[str] = field(default_factory=list)
    ticks: int = 0
    finished_at: datetime | None = None


class DemoRun:
    """Drives the engine through the cases; `run()` returns the tally."""

    def __init__(self, engine: Engine, clock: ManualClock, cast: Cast, cases: list[Case], seed: int,
                 progress: TextIO | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.cast = cast
        self.seed = seed
        self.progress = progress
        self.tally = Tally()
        self._open: set[str] = set()
        self._visits: Counter[tuple[str, str]] = Counter()
        self._keys: dict[str, str] = {}
        self._heap: list[_Planned] = []
        self._seq = 0
        self._calendars: dict[str, Any] = {}
        for case in cases:
            self._push(case.start, "", "", "", 0, case)
        engine.subscribe("*", self._on_event)
        DemoHooks(seed, cast.line_departments).register(engine)

    # -- the loop -------------------------------------------------------------------------------------------

    def run(self) -> Tally:
        tick_at = datetime.combine(FIRST_START, time(0), tzinfo=SHANGHAI)
        last_week: date | None = None
        while tick_at <= LAST_MOMENT:
            if self._heap and self._heap[0].moment < tick_at:
                self._do(heapq.heappop(self._heap))
                continue
            if not self._heap and not self._open:
                break
            self.clock.set(tick_at)
            report = self.engine.tick(tick_at)
            self.tally.ticks += 1
            self.tally.dispatched += report.dispatched
            day = tick_at.date()
            if day.weekday() == 0 and day != last_week and day > FIRST_START:
                last_week = day
                self._say(day - timedelta(days=7))
            tick_at += TICK
        # a last round sends what the final steps wrote
        self.clock.set(tick_at)
        self.tally.dispatched += self.engine.tick(tick_at).dispatched
        self.tally.finished_at = tick_at
        self._say(tick_at.date(), final=True)
        return self.tally

    def _say(self, day: date, final: bool = False) -> None:
        """One progress line: the week from Monday `day` (its holidays noted), or the end; figures so far."""
        if self.progress is None:
            return
        t = self.tally
        head = f"end {day.isoformat()}" if final else f"week {day.isoformat()}..{day + timedelta(days=6):%m-%d}"
        note = "" if final else self._week_note(day)
        self.progress.write(
            f"{head}{note}  started {sum(t.started.values()):4d}  open {len(self._open):4d}  "
            f"done {sum(t.completed.values()):4d} | warnings {t.warnings:4d}  breaches {t.breaches:4d}  "
            f"escalations {sum(t.escalations.values()):4d} | mails sent {t.dispatched:5d}\n")
        self.progress.flush()

    def _week_note(self, monday: date) -> str:
        """The week's days off and make-up working days, e.g. ` [国庆节 10-01..10-07, 调休上班 10-10]`."""
        cal = self._calendar("CN-GX")
        week = [monday + timedelta(days=i) for i in range(7)]
        names = dict(cal.get_calendar_holidays(monday.year))
        parts: list[str] = []
        for name in dict.fromkeys(names[d] for d in week if d in names):
            days = [d for d in week if names.get(d) == name]
            span = days[0].strftime("%m-%d") + (f"..{days[-1].strftime('%m-%d')}" if len(days) > 1 else "")
            parts.append(f"{name} {span}")
        parts += [f"调休上班 {d.strftime('%m-%d')}" for d in week if d.weekday() >= 5 and cal.is_working_day(d)]
        return f" [{', '.join(parts)}]" if parts else ""

    def _push(self, moment: datetime, instance_id: str, state: str, event: str, visit: int,
              case: Case | None = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Planned(moment, self._seq, instance_id, state, event, visit, case))

    def _do(self, item: _Planned) -> None:
        self.clock.set(item.moment)
        if item.case is not None:
            self._start(item.case)
            return
        inst = self.engine.get(item.instance_id)
        if inst.status != "running" or inst.state != item.state:
            self.tally.overtaken += 1
            return
        spec = self._spec(inst.workflow_id)
        t = spec.transition(inst.state, item.event)
        key = self._keys[inst.id]
        if t is None:
            self.tally.unplayed.append(f"{key}: no event {item.event!r} in {inst.state!r}")
            return
        rng = random.Random(f"payload:{self.seed}:{key}:{item.state}:{item.visit}")
        try:
            actor = self.cast.actor(spec, t.roles[0], inst.variables)
            self.engine.fire(inst.id, item.event, actor, playbook.payload(t.payload, rng))
            self.tally.commands += 1
        except WorkflowError as err:
            self.tally.refused.append(f"{key} {item.state} {item.event}: {err}")

    def _start(self, case: Case) -> None:
        spec = self._spec(case.workflow_id)
        role = _starter_role(spec)
        try:
            actor = self.cast.actor(spec, role, case.variables)
            inst = self.engine.start(case.workflow_id, case.business_key, case.variables, actor)
            self.tally.commands += 1
        except WorkflowError as err:
            self.tally.refused.append(f"{case.business_key} start: {err}")
            return
        self.tally.started[case.workflow_id] += 1
        if inst.status == "running":
            self._open.add(inst.id)

    # -- what the engine tells ------------------------------------------------------------------------------

    def _on_event(self, ev: EngineEvent) -> None:
        self._keys.setdefault(ev.instance_id, ev.business_key)
        if ev.kind == STATE_ENTERED:
            self._open.add(ev.instance_id)
            self._entered(ev)
        elif ev.kind == WARNING:
            self.tally.warnings += 1
        elif ev.kind == BREACH:
            self.tally.breaches += 1
        elif ev.kind == ESCALATION:
            self.tally.escalations[int(ev.data.get("level", 0))] += 1
        elif ev.kind == COMPLETED:
            self._open.discard(ev.instance_id)
            self.tally.completed[ev.workflow_id] += 1
            self.tally.outcomes[(ev.workflow_id, str(ev.data.get("outcome")))] += 1

    def _entered(self, ev: EngineEvent) -> None:
        spec = self._spec(ev.workflow_id)
        st = spec.states[ev.state]
        if st.kind not in (StateKind.TASK, StateKind.TIMER):
            return
        self._visits[(ev.instance_id, ev.state)] += 1
        visit = self._visits[(ev.instance_id, ev.state)]
        rng = random.Random(f"answer:{self.seed}:{ev.business_key}:{ev.state}:{visit}")
        event = playbook.choose(spec.id, ev.state, visit, rng)
        if event is None:
            self.tally.unplayed.append(f"{ev.business_key}: the playbook has nothing for {ev.state!r}")
            return
        if event == playbook.WAIT:
            return
        cal = self._calendar(spec.calendar)
        if st.kind is StateKind.TIMER:
            window = st.after.amount if st.after is not None and st.after.unit is DurationUnit.WORKING_DAYS else 2
            days = rng.randint(0, max(window - 2, 0))  # an objection comes within the window
        else:
            due = st.sla.due.duration if st.sla is not None else None
            wd = due.amount if due is not None and due.unit is DurationUnit.WORKING_DAYS else None
            role = spec.transition(ev.state, event)
            dept = self.cast.department_of(spec, st.assignee, self._variables(ev)) if st.assignee else None
            habit = self.cast.punctuality(dept)
            days = days_to_answer(wd, habit.late, habit.last_day, rng) if role is not None else 0
        self._push(answer_moment(cal, ev.at, days, rng), ev.instance_id, ev.state, event, visit)

    def _variables(self, ev: EngineEvent) -> Mapping[str, Any]:
        return self.engine.get(ev.instance_id).variables

    # -- lookups --------------------------------------------------------------------------------------------

    def _spec(self, workflow_id: str) -> WorkflowSpec:
        spec: WorkflowSpec = self.engine.definitions.get(workflow_id).spec
        return spec

    def _calendar(self, region: str) -> Any:
        if region not in self._calendars:
            self._calendars[region] = get_calendar(region, allow_provisional=True)
        return self._calendars[region]


def _starter_role(spec: WorkflowSpec) -> str:
    """The role that files the case: a department's data administrator or list compiler."""
    for name, role in spec.roles.items():
        if role.department_variable and role.base in ("data_admin", "list_compiler"):
            return name
    return next(iter(spec.roles))
