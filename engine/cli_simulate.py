"""`cli.py simulate`: a dry run of one workflow on the real Engine, a throw-away SQLite file and a manual clock,
printing when each step is due, so a definition can be checked against the calendar before it is deployed.
Exit status: see EXIT_STATUS.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.authz import start_roles
from engine.cli_checks import UsageError, workflow_file
from engine.cli_values import field_value
from engine.clock import SHANGHAI, ManualClock
from engine.deadline_text import deadline_plain
from engine.definitions import DefinitionSet
from engine.errors import PayloadInvalid, WorkflowError
from engine.fields import make_credit_code, validate_variables
from engine.ports import Actor, Person
from engine.spec import FieldSpec, StateKind, VariableType, WorkflowSpec

_REPO = Path(__file__).resolve().parent.parent
EXIT_STATUS = ("exit status: 0 when the workflow started and every event in --events was applied; 1 when the "
               "workflow, or an event, could not be applied (the steps up to it are printed, then 'refused: ...'); "
               "2 on bad input (a date without a time of day, events out of time order, an unknown variable), "
               "nothing run")

#: Timers a simulation follows; past this many the definition is waiting on itself in a loop.
MAX_TIMER_STEPS = 500


class BadInput(Exception):
    """A command-line value that cannot be used; the message says what was expected."""


@dataclass(frozen=True)
class PlannedEvent:
    """One `event@moment` of `--events`; without a moment the event fires when the previous one did."""

    event: str
    moment: datetime | None


@dataclass
class Simulation:
    """What the run produced, in the order it happened."""

    workflow: WorkflowSpec
    start: datetime
    variables: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


# -- input ---------------------------------------------------------------------------------------------------------

def parse_moment(text: str) -> datetime:
    """An ISO date-time (Asia/Shanghai unless it carries an offset). A date without a time of day is refused:
    a deadline in working hours (WH) counts from the hour, so the run must not pick one for the user."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{text!r} is not a date-time; write e.g. 2026-09-30T10:00 or 2026-09-30T10:00+08:00") from None
    if "T" not in text.upper() and " " not in text.strip():
        raise BadInput(f"{text!r} has no time of day; write e.g. {text}T09:00 (a deadline in working hours "
                       "counts from the hour)")
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment


def parse_events(items: Sequence[str]) -> list[PlannedEvent]:
    """`pass@2026-10-09T10:00 approve` -> planned events (their order in time is checked by `run`)."""
    out: list[PlannedEvent] = []
    for item in items:
        for word in item.split():
            name, _, when = word.partition("@")
            if not name:
                raise BadInput(f"event {word!r} has no name; write EVENT or EVENT@DATETIME")
            out.append(PlannedEvent(name, parse_moment(when) if when else None))
    return out


def parse_pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f"{what} {item!r}: write NAME=VALUE")
        out[key.strip()] = value
    return out


def example_value(f: FieldSpec, start: datetime, seed: int) -> Any:
    """A valid stand-in for a required field nobody gave: enough to drive the flow, visibly an example."""
    if f.default is not None:
        return f.default
    if f.type is VariableType.DEPARTMENT:
        return make_credit_code(900 + seed)
    if f.type is VariableType.ENUM:
        return f.values[0]
    if f.type is VariableType.BOOL:
        return False
    if f.type is VariableType.INT:
        return 1
    if f.type is VariableType.FLOAT:
        return 1.0
    if f.type is VariableType.DATE:
        return (start.astimezone(SHANGHAI).date() + timedelta(days=90)).isoformat()
    if f.type is VariableType.DATETIME:
        return start.isoformat()
    if f.type is VariableType.LIST:
        return []
    return f"示例{f.title or f.name}"[: f.max_length or 200]


def starting_variables(spec: WorkflowSpec, given: Mapping[str, str], start: datetime) -> dict[str, Any]:
    """The given `--var`s (unknown names refused) plus an example for every required variable left out."""
    unknown = sorted(set(given) - set(spec.variables))
    if unknown:
        raise BadInput(f"--var {', '.join(unknown)}: not a variable of {spec.id}; "
                       f"its variables: {', '.join(spec.variables) or 'none'}")
    values: dict[str, Any] = {}
    for seed, (name, f) in enumerate(spec.variables.items()):
        if name in given:
            values[name] = field_value(f, given[name])
        elif f.required:
            values[name] = example_value(f, start, seed)
    try:
        validate_variables(spec, values)
    except PayloadInvalid as err:  # a value of the wrong form is bad input: refused before anything runs
        raise BadInput(f"--var: {err}") from None
    return values


# -- the run -------------------------------------------------------------------------------------------------------

class _RoleDirectory:
    """One stand-in person per base role and department, so the run shows who would be notified."""

    def people(self, base_role: str, department: str | None) -> Sequence[Person]:
        who = f"{base_role}@{department}" if department else base_role
        return [Person(who, who, frozenset({base_role}), department, {"outbox": who})]

    def department_name(self, code: str) -> str:
        return code

    def organisation_department(self, jurisdiction: str, org: str) -> str | None:
        return None  # a dry run tells roles, not organisations


@contextmanager
def _organisations_untold() -> Iterator[None]:
    """Keep the engine's warning that no department is tagged as an organisation (engine.authz) out of a dry run:
    its directory tells roles, not organisations, on purpose, and has no tags a reader could add."""
    authz_log = logging.getLogger("engine.authz")

    def errors_only(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    authz_log.addFilter(errors_only)
    try:
        yield
    finally:
        authz_log.removeFilter(errors_only)


def _actor(spec: WorkflowSpec, roles: Sequence[str], variables: Mapping[str, Any]) -> Actor:
    """An actor holding the first of `roles`, in the department that role requires."""
    role = spec.roles[roles[0]]
    dept = variables.get(role.department_variable) if role.department_variable else None
    return Actor(f"simulate:{role.name}", frozenset({role.base}), dept if isinstance(dept, str) else None)


def _payload(spec: WorkflowSpec, state: str, event: str, given: Mapping[str, str], start: datetime) -> dict[str, Any]:
    t = spec.transition(state, event)
    if t is None:
        return {}
    out: dict[str, Any] = {}
    for seed, f in enumerate(t.payload):
        if f.name in given:
            out[f.name] = field_value(f, given[f.name])
        elif f.required:
            out[f.name] = example_value(f, start, seed)
    return out


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="minutes")


def _human(iso: str) -> str:
    """`2026-10-10T00:00+08:00` -> `2026-10-09 24:00`, the way a deadline is read (the end of its last day)."""
    return deadline_plain(datetime.fromisoformat(iso))


def run(
    spec_id: str, definitions: DefinitionSet, start: datetime, events: Sequence[PlannedEvent],
    variables: Mapping[str, str], payload: Mapping[str, str], hooks: Mapping[str, Mapping[str, Any]],
    until: datetime | None, allow_provisional: bool = False,
) -> Simulation:
    """Start the workflow at `start`, fire the events at their moments, follow timers up to `until`."""
    from sqlalchemy import select
    from sqlmodel import col

    from engine.runtime import Engine
    from storage.outbox import OutboxMessage
    from storage.sql import SqlInstanceStore

    _in_order(start, events, until)
    spec = definitions.get(spec_id).spec
    sim = Simulation(spec, start, starting_variables(spec, variables, start))
    clock = ManualClock(start)
    with _organisations_untold(), tempfile.TemporaryDirectory(prefix="shixian-simulate-") as folder:
        store = SqlInstanceStore(str(Path(folder) / "simulate.db"))
        engine = Engine(store, definitions, clock=clock, directory=_RoleDirectory(),
                        allow_provisional=allow_provisional)
        for name in spec.hooks:
            engine.register_hook(name, _fixed_hook(hooks.get(name, {})))
        instance_id: str | None = None
        try:
            starters = list(start_roles(spec))
            starter = _actor(spec, starters, sim.variables) if starters else Actor.system()
            inst = engine.start(spec.id, "simulation", sim.variables, starter)
            instance_id = inst.id
            now = start
            for planned in events:
                target = planned.moment or now
                _follow_timers(engine, clock, inst.id, target)
                current = engine.get(inst.id)
                if current.status != "running":
                    sim.error = (f"event {planned.event!r}: the instance already ended in {current.state!r} "
                                 f"({current.outcome}); set the variables that route it with --var NAME=VALUE")
                    break
                t = spec.transition(current.state, planned.event)
                roles = t.roles if t is not None else tuple(spec.roles)
                clock.set(target)
                engine.fire(inst.id, planned.event, _actor(spec, roles, current.variables),
                            _payload(spec, current.state, planned.event, payload, start))
                now = target
            if until is not None and sim.error is None:
                _follow_timers(engine, clock, inst.id, until)
        except WorkflowError as err:
            sim.error = str(err)
        finally:
            _collect(sim, engine, instance_id)
            with store.engine.connect() as conn:
                rows = conn.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
            sim.notifications = [{"at": _local(r.created_at), "kind": r.kind, "template": r.template,
                                  "to": r.recipient} for r in rows]
            engine.close()
    return sim


def _in_order(start: datetime, events: Sequence[PlannedEvent], until: datetime | None) -> None:
    """Refuse an event moment, or `until`, earlier than the start or the last event moment before it: the
    engine would record the step at the later moment anyway, and the printed times would not be the ones asked."""
    last, what = start, f"the start ({_local(start)})"
    for planned in events:
        if planned.moment is None:
            continue
        if planned.moment < last:
            raise BadInput(f"event {planned.event}@{_local(planned.moment)} is earlier than {what}; "
                           "events must be in time order, not before the start")
        last, what = planned.moment, f"the event before it ({_local(planned.moment)})"
    if until is not None and until < last:
        raise BadInput(f"--until {_local(until)} is earlier than {what}")


def _fixed_hook(result: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """A stand-in for a backend hook: always answers the same updates (none unless --hook gives some)."""
    fixed = dict(result)

    def hook(_variables: Mapping[str, Any]) -> Mapping[str, Any]:
        return fixed

    return hook


def _follow_timers(engine: Any, clock: ManualClock, instance_id: str, target: datetime) -> None:
    """Fire, in order, every pending timer and SLA moment of the instance due by `target` (each at its own moment)."""
    for _ in range(MAX_TIMER_STEPS):
        pending = [t.fire_at for t in engine.timers(instance_id) if t.status == "pending" and t.fire_at <= target]
        pending += [c.next_fire_at for c in engine.clocks(instance_id)
                    if c.next_fire_at is not None and c.next_fire_at <= target]
        if not pending:
            return
        moment = min(pending)
        clock.set(moment)
        engine.tick(moment)
    raise BadInput(f"more than {MAX_TIMER_STEPS} timers before {target.isoformat()}: the definition loops")


def _collect(sim: Simulation, engine: Any, instance_id: str | None) -> None:
    if instance_id is None:
        return
    spec = sim.workflow
    inst = engine.get(instance_id)
    timers = engine.timers(instance_id)
    ladder = engine.schedule(instance_id)
    task_clocks = [c for c in engine.clocks(instance_id) if c.scope == "task"]
    history = engine.history(instance_id)
    for i, h in enumerate(history):
        st = spec.states[h.to_state]
        left = history[i + 1].at if i + 1 < len(history) else None
        step: dict[str, Any] = {
            "state": h.to_state, "kind": st.kind.value, "title": st.title.zh if st.title else "",
            "entered_at": _local(h.at), "event": h.event, "actor": h.actor,
            "left_at": _local(left) if left is not None else None,
        }
        clock = next((c for c in task_clocks if c.state == h.to_state and c.started_at == h.at), None)
        if clock is not None:
            step.update(_clock_fields(clock, ladder))
        if st.kind is StateKind.TIMER:
            # each entry into a timer state arms one timer, in order: the n-th entry's is the n-th one (an
            # earlier entry's timer, cancelled when that wait was left, is not this one's)
            armed = sorted((t for t in timers if t.kind == "timer" and t.state == h.to_state), key=lambda t: t.id)
            entry = sum(1 for e in history[:i] if e.to_state == h.to_state)
            if entry < len(armed):
                step["moves_on_at"] = _local(armed[entry].fire_at)
        sim.steps.append(step)
    for c in engine.clocks(instance_id):
        if c.scope == "procedure":
            sim.clocks.append({"scope": "procedure", **_clock_fields(c, ladder)})
    sim.final = {"state": inst.state, "status": inst.status, "outcome": inst.outcome,
                 "variables": dict(inst.variables)}


def _clock_fields(clock: Any, ladder: Sequence[Any]) -> dict[str, Any]:
    mine = [m for m in ladder if m.clock_id == clock.id]
    return {
        "due": _local(clock.due_at), "last_day": clock.last_day, "clock": clock.status,
        "provisional": clock.provisional, "paused_working_days": clock.paused_working_days,
        "warnings": [_local(m.at) for m in sorted(mine, key=lambda m: m.at) if m.kind == "warn"],
        "escalations": [{"level": m.level, "at": _local(m.at)} for m in sorted(mine, key=lambda m: m.level)
                        if m.kind == "escalate"],
    }


# -- output --------------------------------------------------------------------------------------------------------

def as_json(sim: Simulation) -> str:
    return json.dumps({
        "workflow": sim.workflow.id, "version": sim.workflow.version, "calendar": sim.workflow.calendar,
        "start": _local(sim.start), "variables": sim.variables, "steps": sim.steps,
        "procedure_clocks": sim.clocks, "notifications": sim.notifications, "final": sim.final, "error": sim.error,
    }, ensure_ascii=False, indent=2, default=str)


def as_text(sim: Simulation) -> str:
    spec = sim.workflow
    lines = [f"{spec.id} ({spec.name.zh}) version {spec.version}, calendar {spec.calendar}, "
             f"start {_local(sim.start)}", ""]
    for s in sim.steps:
        head = f"{_human(s['entered_at'])}  {s['state']:<24} {s['kind']:<8} via {s['event']}"
        if "due" in s:
            paused = f", paused {s['paused_working_days']} WD" if s["paused_working_days"] else ""
            head += f"  due {_human(s['due'])} ({s['clock']}{', provisional' if s['provisional'] else ''}{paused})"
        if "moves_on_at" in s:
            head += f"  moves on at {_human(s['moves_on_at'])}"
        lines.append(head)
        for w in s.get("warnings", []):
            lines.append(f"{'':18}warning   {_human(w)}")
        for e in s.get("escalations", []):
            lines.append(f"{'':18}level {e['level']:<3} {_human(e['at'])}")
    for c in sim.clocks:
        lines.append(f"procedure clock: due {_human(c['due'])} ({c['clock']}), "
                     f"paused {c['paused_working_days']} WD")
        lines.extend(f"{'':18}warning   {_human(w)}" for w in c["warnings"])
        lines.extend(f"{'':18}level {e['level']:<3} {_human(e['at'])}" for e in c["escalations"])
    if sim.final:  # none when the start itself was refused
        lines.append(f"final: {sim.final['state']} {sim.final['status']} {sim.final.get('outcome') or ''}".rstrip())
    if sim.error:
        lines.append(f"refused: {sim.error}")
    return "\n".join(lines)


# -- the command ---------------------------------------------------------------------------------------------------

def _definitions(target: str, folder: str | None) -> tuple[DefinitionSet, str]:
    """A workflow file (its own definition) or an id among the definitions of `folder`."""
    path = workflow_file(target)
    if path is not None:
        defs = DefinitionSet.load([path])
        return defs, defs.ids()[0]
    where = Path(folder) if folder else (Path("workflows") if Path("workflows").is_dir() else _REPO / "workflows")
    defs = DefinitionSet.load([where])
    defs.get(target)  # an unknown id is refused here, with the nearest loaded one
    return defs, target


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        start = parse_moment(args.start)
        events = parse_events(args.events or [])
        until = parse_moment(args.until) if args.until else None
        hooks = {k: _json_object(k, v) for k, v in parse_pairs(args.hook or [], "--hook").items()}
        defs, workflow_id = _definitions(args.workflow, args.workflows)
        sim = run(workflow_id, defs, start, events, parse_pairs(args.var or [], "--var"),
                  parse_pairs(args.payload or [], "--payload"), hooks, until, args.allow_provisional)
    except (BadInput, UsageError) as err:
        print(f"simulate: {err}", file=sys.stderr)
        return 2
    except WorkflowError as err:
        print(err, file=sys.stderr)
        return 1
    print(as_json(sim) if args.json else as_text(sim))
    return 1 if sim.error else 0


def _json_object(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise BadInput(f"--hook {name}: {text!r} is not JSON; write e.g. '{{\"users\": []}}'") from None
    if not isinstance(value, dict):
        raise BadInput(f"--hook {name}: give a JSON object of variable updates")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate", help="dry-run a workflow against the calendar and print each step's due time",
        epilog=EXIT_STATUS,
        description="Run WORKFLOW (an id, or a YAML file) on a throw-away database with a manual clock: start it at "
                    "--start, fire --events at their moments (the actor is assumed to hold the needed role), follow "
                    "timers, and print when every step is due, warned and escalated.",
    )
    p.add_argument("workflow", help="workflow id (e.g. gx.data_request) or a workflow YAML file")
    p.add_argument("--start", required=True,
                   help="start moment with its time of day, e.g. 2026-09-30T10:00 (Asia/Shanghai unless an offset "
                        "is given); a bare date is refused, since deadlines in working hours count from the hour")
    p.add_argument("--events", nargs="*", metavar="EVENT[@DATETIME]",
                   help="events in time order, none before --start, e.g. pass@2026-10-09T10:00 "
                        "approve@2026-10-12T09:00 (without @DATETIME: at the moment of the event before)")
    p.add_argument("--var", action="append", metavar="NAME=VALUE",
                   help="a starting variable (repeatable); required ones left out get example values")
    p.add_argument("--payload", action="append", metavar="FIELD=VALUE",
                   help="a payload field for any event that declares it (repeatable)")
    p.add_argument("--hook", action="append", metavar="NAME=JSON",
                   help="what a hook returns, e.g. resource_users='{\"users\": [\"x\"]}' (default: no updates)")
    p.add_argument("--until", metavar="DATETIME", help="after the events, follow timers up to this moment")
    p.add_argument("--allow-provisional", action="store_true",
                   help="compute deadlines in years without a published holiday schedule from weekends and fixed "
                        "holidays, marked provisional (default: refuse, as the engine does)")
    p.add_argument("--workflows", metavar="FOLDER", help="where to find workflow ids (default: workflows/)")
    p.add_argument("--json", action="store_true", help="print a machine-readable result")
    p.set_defaults(func=cmd_simulate)


__all__ = ["PlannedEvent", "Simulation", "as_json", "as_text", "cmd_simulate", "parse_events", "register", "run"]
