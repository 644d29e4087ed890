"""Command-line group for operators: `start`, `fire`, `cancel`, `suspend`, `resume`, `show`, `history`,
`overdue` and the `worker`."""

from __future__ import annotations

import argparse
import difflib
import faulthandler
import importlib
import json
import logging
import os
import signal
import sys
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.arguments import REASON_MAX
from engine.backlog import DEFAULT_GRACE
from engine.cli_checks import (
    UsageError,
    check_choice,
    check_db_target,
    exit_codes,
    open_to_read,
)
from engine.cli_options import (
    DEFAULT_BACKOFF,
    MIN_INTERVAL,
    add_business_hours,
    add_database,
    backoff,
    calendar_warn_days,
    deadline_policy,
    digest_threshold,
    digest_time,
    interval,
    max_attempts,
    page_size,
    skip,
)
from engine.cli_values import field_values
from engine.clock import SHANGHAI, SystemClock
from engine.daily_digest_job import DEFAULT_AT as DEFAULT_DIGEST_AT
from engine.deadline_text import deadline_plain
from engine.definitions import DefinitionSet
from engine.errors import (
    DeadlinePolicyMismatch,
    PayloadInvalid,
    PermissionDenied,
    StorageUnavailable,
    UnknownWorkflow,
    WorkflowError,
    shown,
)
from engine.filters import STATUSES, known_states
from engine.history import ChainReport
from engine.history_keys import HistoryKeyring
from engine.horizon_job import DEFAULT_WITHIN as DEFAULT_HORIZON_WITHIN
from engine.ports import Actor, Directory, Person
from engine.runtime import Engine
from engine.spec import FieldSpec, WorkflowSpec
from engine.store import ClockView, HistoryEntry, InstanceView

_REPO = Path(__file__).resolve().parent.parent


def _default_workflows() -> str:
    return "workflows" if Path("workflows").is_dir() else str(_REPO / "workflows")


def _common(parser: argparse.ArgumentParser, *, actor: bool = False, json_output: bool = True,
            idempotent: bool = True) -> None:
    add_database(parser)
    parser.add_argument("--workflows", action="append", default=None,
                        help="definition file or folder (repeatable; default: the repository's workflows/)")
    parser.add_argument("--directory", default=os.environ.get("SHIXIAN_DIRECTORY"),
                        help="people directory YAML: departments of roles bound with org:, who is told of each step "
                             "(default: $SHIXIAN_DIRECTORY; required by the commands that change an instance; "
                             "the worker without it sends no outbox)")
    parser.add_argument("--hooks", action="append", default=None, metavar="MODULE",
                        help="a Python module whose HOOKS mapping (hook name -> function) the automatic steps call "
                             "(repeatable; default: $SHIXIAN_HOOKS, comma-separated)")
    add_business_hours(parser, "every process on one database must use the same")
    parser.add_argument("--history-keys", default=os.environ.get("SHIXIAN_HISTORY_KEYS") or None, metavar="FILE",
                        help="keyring that seals each new history step and checks sealed ones (default: "
                             "$SHIXIAN_HISTORY_KEYS; make one with `history-keys new FILE`); every process "
                             "writing to one database must have it")
    parser.add_argument("--allow-provisional", action="store_true",
                        help="compute provisional deadlines in years without calendar data instead of refusing")
    if json_output:  # the worker prints no results, only its log: it has no --json to ignore
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    if actor:
        parser.add_argument("--actor", required=True,
                            help="who acts: a person id of --directory, which gives their roles and department")
        parser.add_argument("--role", action="append", default=[],
                            help="act in this base role only (repeatable; one the directory gives the actor)")
        parser.add_argument("--department", help="the actor's department credit code (must be the directory's)")
        if idempotent:
            parser.add_argument("--idempotency-key",
                                help="repeat-safe key: the same command again changes nothing")


@dataclass(frozen=True)
class _Setup:
    """What a command loads before it opens the database: definitions, directory, hooks."""

    definitions: DefinitionSet
    directory: Directory | None
    hooks: dict[str, Any]


def _setup(args: argparse.Namespace) -> _Setup:
    directory = None
    if args.directory:
        from notifiers.directory import YamlDirectory

        directory = YamlDirectory(args.directory)
    defs = DefinitionSet.load(args.workflows or [_default_workflows()])
    hooks = _hooks(args.hooks or [m for m in os.environ.get("SHIXIAN_HOOKS", "").split(",") if m.strip()])
    return _Setup(defs, directory, hooks)


def _engine(args: argparse.Namespace, *, create: bool = False, reads: bool = False,
            setup: _Setup | None = None) -> Engine:
    """The engine on `--db`. Only `start` and `worker` (`create`) may begin a new SQLite file, and they say so:
    a mistyped path must not read as an empty database ("0 overdue") to whoever asks. A command that only
    `reads` may be given a SQLite file it cannot write (a supervisor's copy): it reads it as it stands."""
    from storage import database_missing, foreign_tables, no_database, open_store, snapshot_path
    from storage.sql import shown_url

    check_db_target(args.db)
    if not reads and snapshot_path(args.db) is not None:
        raise StorageUnavailable(f"{args.db} cannot be written here (a read-only copy or mount); show, history, "
                                 "overdue and report read it as it stands, the commands that change cases need "
                                 "the database's own writable file")
    new_file = database_missing(args.db)  # one look at the database, which may be a server's
    if new_file and not create:
        raise UsageError(no_database(args.db).detail)
    if new_file and (others := foreign_tables(args.db)):
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise UsageError(f"{shown_url(args.db)} holds another application's tables ({shown}), not the engine's: "
                         "nothing was added to it; give --db a new file, or the engine's own database")
    setup = setup or _setup(args)
    if new_file:
        print(f"no database at {shown_url(args.db)}: creating a new one", file=sys.stderr)
    keyring = HistoryKeyring.load(args.history_keys) if args.history_keys else None
    store = open_to_read(args.db) if reads else open_store(args.db)
    engine = Engine(store, setup.definitions, clock=SystemClock(), directory=setup.directory,
                    allow_provisional=args.allow_provisional, deadline_policy=deadline_policy(args.business_hours),
                    history_keys=keyring)
    for name, fn in setup.hooks.items():
        engine.register_hook(name, fn)
    return engine


def _require_directory(args: argparse.Namespace) -> None:
    """A step changed without the directory would skip the department check of roles bound with `org:` and
    write no notices, which nothing sends later: refuse it."""
    if not args.directory:
        raise UsageError(f"{args.command} needs --directory FILE (or $SHIXIAN_DIRECTORY): the people directory "
                         "gives the bureau's department, which roles bound with org: must act in, and who is told "
                         "of the step")


def _hooks(modules: list[str]) -> dict[str, Any]:
    """The hooks of the backend's modules: each names its automatic-step functions in a `HOOKS` mapping."""
    found: dict[str, Any] = {}
    for module in modules:
        module = module.strip()
        try:
            mapping = getattr(importlib.import_module(module), "HOOKS", None)
        except Exception as err:  # any failure of the backend's module is the operator's to see, in one line
            raise PayloadInvalid("--hooks", f"an importable Python module on PYTHONPATH, but importing it failed "
                                 f"({type(err).__name__}: {err})", module, where="command line") from err
        if not isinstance(mapping, Mapping) or not all(isinstance(k, str) and callable(v) for k, v in mapping.items()):
            raise PayloadInvalid("--hooks", "a module defining HOOKS = {hook name: function}", module,
                                 where="command line")
        found.update(mapping)
    return found


def unregistered_hooks(engine: Engine) -> dict[str, list[str]]:
    """The hooks the loaded workflows declare that no function is registered for: name -> declaring workflows."""
    registered = set(engine.hooks.names())
    missing: dict[str, list[str]] = {}
    for machine in engine.definitions:
        for name in machine.spec.hooks:
            if name not in registered:
                missing.setdefault(name, []).append(machine.spec.id)
    return dict(sorted(missing.items()))


def _warn_unregistered_hooks(engine: Engine) -> None:
    """One warning at worker start: an automatic step calling an unregistered hook fails only when reached."""
    missing = unregistered_hooks(engine)
    if missing:
        listed = "; ".join(f"{name} ({', '.join(ids)})" for name, ids in missing.items())
        logging.getLogger(__name__).warning(
            "no function registered for hook(s) the workflows declare: %s; their automatic steps will fail "
            "until the worker is started with --hooks MODULE (or $SHIXIAN_HOOKS) naming a module whose HOOKS "
            "maps them", listed)


def _warn_interval_beyond_health(interval: float) -> None:
    """One warning at worker start: `cli.py health` reads a worker that has not ticked within its grace as
    silent, so an interval near its default grace makes a running worker look lost between two ticks."""
    grace = DEFAULT_GRACE.total_seconds()
    if interval > grace / 2:
        logging.getLogger(__name__).warning(
            "an interval of %g s between ticks: run `cli.py health` with --grace above %g (its default is %g s), or "
            "it reads this worker as silent between two ticks", interval, 2 * interval, grace)


def _actor(args: argparse.Namespace, directory: Directory | None) -> Actor:
    """The person acting, as the directory records them. The command line has no sign-in, so the directory it
    requires is what vouches for who holds which role in which department: an id it does not list is refused, and
    `--role` and `--department`, when given, must be the person's (they narrow the roles the person acts in)."""
    find = getattr(directory, "person", None)
    if directory is None or find is None:
        return Actor(args.actor, frozenset(args.role), args.department)
    person = find(args.actor)
    if person is None:
        everyone: list[Person] = getattr(directory, "all_people", list)()
        close = difflib.get_close_matches(args.actor, [p.id for p in everyone], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise PermissionDenied(args.actor, "act from the command line", ["the people of --directory"],
                               f"no person has this id in {args.directory}{hint}")
    not_held = sorted(set(args.role) - person.roles)
    if not_held:
        raise PermissionDenied(args.actor, f"act as {', '.join(not_held)}", ["the people the directory gives it"],
                               f"the directory gives {person.id} the roles {', '.join(sorted(person.roles))}")
    if args.department is not None and args.department != person.department:
        raise PermissionDenied(args.actor, f"act for department {args.department}", [],
                               f"the directory puts {person.id} in {person.department or 'no department'}")
    return Actor(person.id, frozenset(args.role) or person.roles, person.department)


def _values(pairs: list[str], text: str | None, what: str, fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """`name=value` pairs, each read by the declared type of its field (as `simulate --var` reads them: a
    digits-only credit code or string stays text, an int field's `3` is a number), over a JSON object."""
    many, one = ("--vars", "--var") if what == "variable" else ("--payload", "--field")
    out: dict[str, Any] = {}
    if text:
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError):  # nesting too deep for the decoder is bad input too
            loaded = None
        if not isinstance(loaded, dict):
            raise UsageError(f"{many} {shown(text)}: expected a JSON object, e.g. '{{\"name\": \"value\"}}'")
        out.update(loaded)
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"{one} {shown(pair)}: expected NAME=VALUE")
        given[name] = raw
    out.update(field_values(fields, given))
    return out


def _payload_fields(engine: Engine, instance_id: str, event: str) -> dict[str, FieldSpec]:
    """The payload fields `event` declares from the instance's current state (none if it has no such event:
    the engine then refuses the event itself, naming the allowed ones)."""
    inst = engine.get(instance_id)
    try:
        spec = engine.machine(inst.workflow_id, inst.version).spec
    except UnknownWorkflow:
        return {}
    t = spec.transition(inst.state, event)
    return {f.name: f for f in t.payload} if t is not None else {}


def _when(value: datetime | None) -> str | None:
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds") if value is not None else None


def jsonable(obj: Any) -> Any:
    """A record's values for JSON output: moments as Beijing time to the second, containers walked."""
    if isinstance(obj, datetime):
        return _when(obj)
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    return obj


def _print_instance(inst: InstanceView, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    data = jsonable({**asdict(inst), **(extra or {})})
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    print(f"{inst.id}  {inst.workflow_id} [{inst.version[:12]}]  {inst.business_key}")
    print(f"  state {inst.state}  status {inst.status}" + (f"  outcome {inst.outcome}" if inst.outcome else "")
          + f"  row version {inst.row_version}")
    if inst.last_error:
        print(f"  last error: {inst.last_error}")
    for key, value in (extra or {}).items():
        if key == "clocks":
            for c in value:
                print(f"  clock {c['id']} {c['scope']} {c['state'] or ''} {c['status']} "
                      f"due {deadline_plain(datetime.fromisoformat(c['due_at']))}"
                      + (" (provisional)" if c["provisional"] else ""))
                if c["last_error"] and c["fire_attempts"]:  # its own failure: the worker retries with back-off
                    print(f"    its {c['next_kind']} moment failed {c['fire_attempts']} time(s), retried with "
                          f"back-off; last error: {c['last_error']}")
                elif c["last_error"]:  # the database or a concurrent command stood in the way: no try counted
                    print(f"    its {c['next_kind']} moment is tried again shortly; last error: {c['last_error']}")
        else:
            print(f"  {key}: {value}")


def _clock(c: ClockView) -> dict[str, Any]:
    return jsonable(asdict(c))  # type: ignore[no-any-return]


def cmd_start(args: argparse.Namespace) -> int:
    _require_directory(args)
    check_db_target(args.db)
    setup = _setup(args)
    spec = setup.definitions.get(args.workflow).spec
    variables = _values(args.var, args.vars, "variable", spec.variables)
    actor = _actor(args, setup.directory)
    _check_start(spec, args.business_key, variables, actor, setup.directory)
    engine = _engine(args, create=True, setup=setup)
    inst = engine.start(args.workflow, args.business_key, variables, actor, idempotency_key=args.idempotency_key)
    _print_instance(inst, args.json)
    return 0


def _check_start(spec: WorkflowSpec, business_key: str, variables: Mapping[str, Any], actor: Actor,
                 directory: Directory | None) -> None:
    """The engine's own refusals of a start that need no database, made before a new database file is created
    for it: a start refused for a typo must leave no empty database behind."""
    from engine.authz import authorise_start
    from engine.fields import check_identifier, validate_variables

    check_identifier(business_key, "business_key", 200, "start")
    authorise_start(spec, actor, validate_variables(spec, variables), directory)


def cmd_fire(args: argparse.Namespace) -> int:
    _require_directory(args)
    engine = _engine(args)
    payload = _values(args.field, args.payload, "payload", _payload_fields(engine, args.instance, args.event))
    actor = _actor(args, engine.parts.notices.directory)
    inst = engine.fire(args.instance, args.event, actor, payload, idempotency_key=args.idempotency_key)
    _print_instance(inst, args.json)
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    """Cancel, suspend (中止) or resume an instance: a bureau reviewer's or data supervisor's act, vouched for by
    the directory as a fire is, with the reason kept in the history."""
    _require_directory(args)
    engine = _engine(args)
    actor = _actor(args, engine.parts.notices.directory)
    act = {"cancel": engine.cancel, "suspend": engine.suspend, "resume": engine.resume}[args.command]
    inst = act(args.instance, actor, args.reason)
    _print_instance(inst, args.json)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    engine = _engine(args, reads=True)
    _check_filters(engine, args.workflow, args.state)
    if args.instance:
        inst = engine.get(args.instance)
        extra = {"allowed_events": list(engine.allowed_events(inst.id)),
                 "clocks": [_clock(c) for c in engine.clocks(inst.id)]}
        _print_instance(inst, args.json, extra)
        return 0
    rows = engine.list_instances(workflow_id=args.workflow, status=args.status, state=args.state, limit=args.limit,
                                 offset=args.offset)
    if args.json:
        print(json.dumps([jsonable(asdict(i)) for i in rows], ensure_ascii=False, indent=2))
        return 0
    for i in rows:
        print(f"{i.id}  {i.workflow_id:28} {_pad(i.business_key, 24)} {i.state:22} {i.status}")
    print(f"{len(rows)} instance(s)", file=sys.stderr)
    return 0


def _check_filters(engine: Engine, workflow_id: str | None, state: str | None) -> None:
    """Refuse a `--workflow` or `--state` no workflow has (loaded, or kept in the database for its instances):
    a typo would list nothing and read as "none there"."""
    if workflow_id is None and state is None:
        return
    states = known_states(engine.definitions, engine.store)
    check_choice("--workflow", workflow_id, states, "workflow loaded or stored in the database")
    if state is not None:
        known = states[workflow_id] if workflow_id is not None else set().union(*states.values())
        check_choice("--state", state, known, f"state of {workflow_id}" if workflow_id else "state of any workflow")


def _pad(text: str, width: int) -> str:
    """`text` left-aligned in `width` terminal columns: a CJK character takes two."""
    used = sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)
    return text + " " * max(width - used, 0)


def step_json(h: HistoryEntry) -> dict[str, Any]:
    """A step as `history --json` and `audit --json` give it, times in Beijing time; a payload whose stored text
    is not JSON (changed outside the engine) is null, its text under `payload_stored_text`."""
    data = {f.name: getattr(h, f.name) for f in fields(h)}  # not asdict: it rebuilds the payload's own type
    raw = getattr(h.payload, "raw", None)  # storage.rows.UndecodablePayload
    if raw is not None:
        data["payload"], data["payload_stored_text"] = None, raw
    else:
        data["payload"] = dict(h.payload)
    return jsonable(data)  # type: ignore[no-any-return]


def _acted(h: HistoryEntry) -> str:
    """`bob (provider.data_auditor, 9145...)`: who acted, in which role and for which department at the time."""
    if h.actor_role is None:  # a step written before roles were recorded
        return h.actor
    return f"{h.actor} ({h.actor_role}{', ' + h.actor_department if h.actor_department else ''})"


def cmd_history(args: argparse.Namespace) -> int:
    engine = _engine(args, reads=True)
    entries = engine.history(args.instance)
    report = engine.verify_history(args.instance)
    if args.json:
        print(json.dumps({"steps": [step_json(h) for h in entries], "verified": asdict(report)}, ensure_ascii=False,
                         indent=2))
    else:
        for h in entries:
            print(step_line(h))
        print(_verdict(report, entries))
        if report.unsealed_since_keys:
            print(f"warning: {report.unsealed_since_keys} unsealed step(s) are dated after history keys came into use "
                  "in this database: written by a process not given the keyring, or written again without it")
    return 0 if report.ok else EXIT_KEY_MISSING if report.missing_key else EXIT_ALTERED


#: `history`'s exit status when the chain is broken, and when a sealed step's key was not given (not checked).
EXIT_ALTERED, EXIT_KEY_MISSING = 3, 4


def step_line(h: HistoryEntry) -> str:
    """One step as `history` lists it: number, time, who acted and how, event, states and payload."""
    raw = getattr(h.payload, "raw", None)  # storage.rows.UndecodablePayload: text changed outside the engine
    payload = (f"(stored payload is not JSON: {raw[:80]!r})" if raw is not None
               else json.dumps(h.payload, ensure_ascii=False) if h.payload else "")
    return f"{h.seq:3} {_when(h.at)}  {_acted(h):12} {h.event:22} {h.from_state or '-'} -> {h.to_state} {payload}"


def broken_verdict(report: ChainReport) -> str | None:
    """The verdict on a chain broken or not checked from a step, in one line; None for an intact chain."""
    if report.missing_key:
        return f"HISTORY NOT CHECKED from step {report.broken_seq}: {report.problem}"
    if not report.ok:
        return f"HISTORY ALTERED at step {report.broken_seq}: {report.problem}"
    return None


def _verdict(report: ChainReport, entries: Sequence[HistoryEntry]) -> str:
    """The chain's verdict in one line, with how much of it is sealed with a history key."""
    broken = broken_verdict(report)
    if broken is not None:
        return broken
    keys = sorted({h.key_id for h in entries if h.key_id is not None})
    if report.sealed == 0:
        return "history verified: intact (not sealed with a history key)"
    shown = ", ".join(keys)
    if report.sealed == report.steps:
        return f"history verified: intact, every step sealed (history key {shown})"
    return (f"history verified: intact; the last {report.sealed} of {report.steps} steps sealed (history key "
            f"{shown}), the steps before them written before keys were used")


def cmd_overdue(args: argparse.Namespace) -> int:
    engine = _engine(args, reads=True)
    _check_filters(engine, args.workflow, None)
    items = engine.overdue(limit=args.limit, offset=args.offset, workflow_id=args.workflow)
    if args.json:
        print(json.dumps([{"instance_id": o.instance.id, "workflow_id": o.instance.workflow_id,
                           "business_key": o.instance.business_key, "state": o.instance.state,
                           "clock": _clock(o.clock), "late_working_days": o.late_working_days} for o in items],
                         ensure_ascii=False, indent=2))
        return 0
    for o in items:
        print(f"{o.instance.id}  {o.instance.workflow_id:28} {_pad(o.instance.business_key, 24)} "
              f"{o.clock.scope}:{o.clock.state or '-'} due {deadline_plain(o.clock.due_at)}  "
              f"late {o.late_working_days} WD")
    print(f"{len(items)} overdue clock(s)", file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.daily_digest_job import DailyDigest
    from engine.horizon_job import HorizonWatch
    from engine.scheduler import EngineScheduler

    log_handler = logging.StreamHandler()
    log_handler.setFormatter(BeijingTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[log_handler])
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every run of every job at INFO
    engine = _engine(args, create=True)
    engine.seal_guard.check()  # a worker that may not write steps here says so now, not at every tick
    if args.worker_id:
        engine.worker_id = args.worker_id
    _warn_unregistered_hooks(engine)
    _warn_interval_beyond_health(args.interval)
    directory = engine.parts.notices.directory
    if directory is not None and not args.no_dispatch:
        from notifiers.dispatcher import Backoff, DigestPolicy, OutboxDispatcher
        from notifiers.rendering import TemplateRenderer

        base, maximum = args.backoff
        engine.dispatcher = OutboxDispatcher(
            engine.store.engine, directory.channels, TemplateRenderer(), engine.clock,  # type: ignore[attr-defined]
            worker_id=engine.worker_id, max_attempts=args.max_attempts,
            backoff=Backoff(base=timedelta(seconds=base), maximum=timedelta(seconds=maximum)),
            digest=DigestPolicy(threshold=args.digest_threshold))
    daily = (DailyDigest(directory, args.daily_digest)
             if directory is not None and not args.no_daily_digest else None)
    stop = threading.Event()
    horizon = (HorizonWatch(args.calendar_warn_days, directory) if args.calendar_warn_days is not None else None)
    scheduler = EngineScheduler(engine, interval=args.interval, daily_digest=daily, horizon=horizon)

    def on_signal(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("signal %s: finishing the moment in hand, then stopping", signum)
        stop.set()
        scheduler.request_stop()  # the rest of a sweep's claims go back unfired, for another worker
        if engine.dispatcher is not None:  # the rest of an outbox batch goes back unsent, for another worker
            engine.dispatcher.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>`: every thread's stack on stderr, for a worker that hangs
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    scheduler.start()
    from storage.sql import shown_url

    settings = _worker_settings(args, engine.dispatcher is not None, daily, engine.history_keys)
    print(f"worker {engine.worker_id} ticking every {args.interval:g} s on {shown_url(args.db)}; {settings}; "
          "stop with Ctrl-C or SIGTERM",
          file=sys.stderr, flush=True)
    try:
        # never an untimed wait: a SIGTERM the kernel hands to one of the scheduler's threads only marks the
        # handler due, and the main thread runs it at its next bytecode, which a wait without timeout never reaches
        while not stop.wait(0.5) and scheduler.fatal is None:
            pass
    finally:
        scheduler.stop(wait=True)
        engine.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    print(f"worker stopped after {scheduler.ticks} tick(s)", file=sys.stderr)
    if scheduler.fatal is not None:
        print(f"error: {scheduler.fatal}", file=sys.stderr)
        return 2
    return 0


class BeijingTimeFormatter(logging.Formatter):
    """Log times in Beijing time with the offset, as every other time the worker prints is."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, SHANGHAI)
        return moment.strftime(datefmt) if datefmt else moment.isoformat(timespec="milliseconds")


def _worker_settings(args: argparse.Namespace, dispatching: bool, daily: Any, keyring: HistoryKeyring | None) -> str:
    """The effective policy in the start line: deadlines, outbox delivery, history seal, daily digest."""
    hours = args.business_hours
    parts = [f"deadlines end at {hours[1]:%H:%M} of working days (business hours {hours[0]:%H:%M}-{hours[1]:%H:%M})"
             if hours is not None else "deadlines end at 24:00 (no business hours)"]
    if dispatching:
        base, maximum = args.backoff
        threshold = args.digest_threshold
        parts.append(f"outbox: {args.max_attempts} attempt(s), back-off {base:g} s doubling to at most {maximum:g} s, "
                     + (f"a supervisor digest from {threshold} alerts" if threshold is not None
                        else "no supervisor digest"))
    elif args.directory:
        parts.append("outbox not sent by this worker (--no-dispatch)")
    else:
        parts.append("no outbox: no --directory")
    parts.append(f"history sealed with key {keyring.sealing_id}" if keyring is not None
                 else "history not sealed (no --history-keys)")
    if daily is not None:
        parts.append(f"daily overdue list at {daily.at:%H:%M} Beijing time on working days")
    elif args.directory:
        parts.append("no daily overdue list (--no-daily-digest)")
    else:
        parts.append("no daily overdue list is sent: it needs --directory")
    within = args.calendar_warn_days
    parts.append(f"calendar data checked {within} days ahead" if within is not None
                 else "calendar data not checked ahead (--calendar-warn-days off)")
    return "; ".join(parts)


#: The administrators' commands on an instance (Engine.cancel, suspend, resume), with what each does.
ADMIN_ACTIONS = {
    "cancel": "end an instance for good: its open deadlines stop and its timers are cancelled",
    "suspend": "suspend an instance (中止): its deadlines stand still until it is resumed",
    "resume": "resume a suspended instance: its deadlines move on by the working days it was suspended",
}


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A deadline policy other than the database's is the command line's fault, like a malformed option: exit 2."""
    return exit_codes(fn, [(UsageError, 2, None), (DeadlinePolicyMismatch, 2, None), (WorkflowError, 1, None)])


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("start", help="start an instance of a workflow")
    _common(p, actor=True)
    p.add_argument("workflow", help="the workflow's id, e.g. gx.data_request (its newest version serves the start)")
    p.add_argument("business_key", help="the case's own key, unique within the workflow (e.g. the request number)")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a variable (repeatable)")
    p.add_argument("--vars", metavar="JSON", help="variables as a JSON object")
    p.set_defaults(func=_guarded(cmd_start))

    p = subparsers.add_parser("fire", help="send an event to an instance")
    _common(p, actor=True)
    p.add_argument("instance", help="the instance's id, as start and show print it")
    p.add_argument("event", help="the event to send; an event not allowed in the instance's state is refused "
                                 "with the ones that are")
    p.add_argument("--field", action="append", default=[], metavar="NAME=VALUE", help="a payload field (repeatable)")
    p.add_argument("--payload", metavar="JSON", help="the payload as a JSON object")
    p.set_defaults(func=_guarded(cmd_fire))

    for action, what in ADMIN_ACTIONS.items():
        p = subparsers.add_parser(action, help=what)
        _common(p, actor=True, idempotent=False)
        p.add_argument("instance", help="the instance's id")
        p.add_argument("--reason", default="", help="why, kept in the instance's history (at most "
                                                    f"{REASON_MAX} characters)")
        p.set_defaults(func=_guarded(cmd_admin))

    p = subparsers.add_parser("show", help="show one instance, or list instances")
    _common(p)
    p.add_argument("instance", nargs="?", help="the instance's id; without it, a list of instances")
    p.add_argument("--workflow", help="list only this workflow's instances")
    p.add_argument("--status", choices=STATUSES, help="list only instances with this status")
    p.add_argument("--state", help="list only instances in this state")
    p.add_argument("--limit", type=page_size, default=100, help="at most this many (default 100, at most 10000)")
    p.add_argument("--offset", type=skip, default=0, help="skip this many first: the next page")
    p.set_defaults(func=_guarded(cmd_show))

    p = subparsers.add_parser("history", help="the steps of an instance, with the hash chain verified")
    _common(p)
    p.add_argument("instance", help="the instance's id")
    p.set_defaults(func=_guarded(cmd_history))

    p = subparsers.add_parser("overdue", help="open deadlines that have passed, most overdue first")
    _common(p)
    p.add_argument("--workflow", help="only this workflow's deadlines")
    p.add_argument("--limit", type=page_size, default=200, help="at most this many (default 200, at most 10000)")
    p.add_argument("--offset", type=skip, default=0, help="skip this many first: the next page")
    p.set_defaults(func=_guarded(cmd_overdue))

    p = subparsers.add_parser("worker", help="run timers (and the outbox) until stopped")
    _common(p, json_output=False)
    p.add_argument("--interval", type=interval, default=5.0,
                   help=f"seconds between ticks (default 5, at least {MIN_INTERVAL:g})")
    p.add_argument("--worker-id", help="name of this worker in timer claims (default host:pid)")
    p.add_argument("--no-dispatch", action="store_true", help="do not send the outbox from this worker")
    p.add_argument("--max-attempts", type=max_attempts, default=8, metavar="N",
                   help="tries of a message before dead-letter (default 8)")
    p.add_argument("--backoff", type=backoff, default=DEFAULT_BACKOFF, metavar="SECONDS[:MAX_SECONDS]",
                   help="wait before the first retry, doubling up to the maximum (default 30:3600)")
    p.add_argument("--digest-threshold", type=digest_threshold, default=5, metavar="N|off",
                   help="pending alerts for one person on one channel sent as one digest (default 5; off: never)")
    daily = p.add_mutually_exclusive_group()
    daily.add_argument("--daily-digest", type=digest_time, default=DEFAULT_DIGEST_AT, metavar="HH:MM",
                       help="Beijing time of the supervisors' daily overdue list on working days (default 09:00; "
                            "needs --directory)")
    daily.add_argument("--no-daily-digest", action="store_true", help="send no daily overdue list from this worker")
    p.add_argument("--calendar-warn-days", type=calendar_warn_days, default=DEFAULT_HORIZON_WITHIN, metavar="DAYS|off",
                   help="warn, at start and daily at 08:30, when a deadline will need a year without calendar data "
                        f"within DAYS (default {DEFAULT_HORIZON_WITHIN}); with --directory the information centre's "
                        "operators (center_operator) are told once a working day; off: never")
    p.set_defaults(func=_guarded(cmd_worker))
