"""Command-line group for operators: `start`, `fire`, `show`, `history`, `overdue` and the `worker`."""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from engine.cli_values import field_values
from engine.clock import SHANGHAI, SystemClock
from engine.daily_digest_job import DEFAULT_AT as DEFAULT_DIGEST_AT
from engine.deadline_text import deadline_plain
from engine.errors import PayloadInvalid, UnknownWorkflow, WorkflowError
from engine.ports import Actor
from engine.runtime import LIST_LIMIT_MAX, Engine
from engine.spec import FieldSpec
from engine.store import ClockView, HistoryEntry, InstanceView

_REPO = Path(__file__).resolve().parent.parent


def _default_workflows() -> str:
    return "workflows" if Path("workflows").is_dir() else str(_REPO / "workflows")


def _common(parser: argparse.ArgumentParser, *, actor: bool = False, json_output: bool = True) -> None:
    parser.add_argument("--db", default=os.environ.get("SHIXIAN_DB", "shixian.db"),
                        help="SQLite file or PostgreSQL URL (default: $SHIXIAN_DB or shixian.db)")
    parser.add_argument("--workflows", action="append", default=None,
                        help="definition file or folder (repeatable; default: the repository's workflows/)")
    parser.add_argument("--directory", default=os.environ.get("SHIXIAN_DIRECTORY"),
                        help="people directory YAML for notifications (default: $SHIXIAN_DIRECTORY; none: no outbox)")
    parser.add_argument("--hooks", action="append", default=None, metavar="MODULE",
                        help="a Python module whose HOOKS mapping (hook name -> function) the automatic steps call "
                             "(repeatable; default: $SHIXIAN_HOOKS, comma-separated)")
    parser.add_argument("--business-hours", type=_business_hours, metavar="OPEN-CLOSE",
                        default=os.environ.get("SHIXIAN_BUSINESS_HOURS") or None,
                        help="e.g. 09:00-17:00: deadlines end at close of business (default: $SHIXIAN_BUSINESS_HOURS, "
                             "else at 24:00); every process on one database must use the same")
    parser.add_argument("--allow-provisional", action="store_true",
                        help="compute provisional deadlines in years without calendar data instead of refusing")
    if json_output:  # the worker prints no results, only its log: it has no --json to ignore
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    if actor:
        parser.add_argument("--actor", required=True, help="who acts (person id)")
        parser.add_argument("--role", action="append", default=[], help="a base role of the actor (repeatable)")
        parser.add_argument("--department", help="the actor's department credit code")
        parser.add_argument("--idempotency-key", help="repeat-safe key: the same command again changes nothing")


def _engine(args: argparse.Namespace, *, create: bool = False) -> Engine:
    """The engine on `--db`. Only `start` and `worker` (`create`) may begin a new SQLite file, and they say so:
    a mistyped path must not read as an empty database ("0 overdue") to whoever asks."""
    from engine.definitions import DefinitionSet
    from storage import database_missing, no_database, open_store
    from storage.sql import shown_url

    new_file = database_missing(args.db)  # one look at the database, which may be a server's
    if new_file and not create:
        raise no_database(args.db)
    directory = None
    if args.directory:
        from notifiers.directory import YamlDirectory

        directory = YamlDirectory(args.directory)
    defs = DefinitionSet.load(args.workflows or [_default_workflows()])
    hooks = _hooks(args.hooks or [m for m in os.environ.get("SHIXIAN_HOOKS", "").split(",") if m.strip()])
    if new_file:
        print(f"no database at {shown_url(args.db)}: creating a new one", file=sys.stderr)
    policy = None
    if args.business_hours is not None:
        from calendars import DeadlinePolicy

        policy = DeadlinePolicy(business_hours=args.business_hours)  # every deadline ends at close of business
    engine = Engine(open_store(args.db), defs, clock=SystemClock(), directory=directory,
                    allow_provisional=args.allow_provisional, deadline_policy=policy)
    for name, fn in hooks.items():
        engine.register_hook(name, fn)
    return engine


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


def _actor(args: argparse.Namespace) -> Actor:
    return Actor(args.actor, frozenset(args.role), args.department)


def _values(pairs: list[str], text: str | None, what: str, fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """`name=value` pairs, each read by the declared type of its field (as `simulate --var` reads them: a
    digits-only credit code or string stays text, an int field's `3` is a number), over a JSON object."""
    out: dict[str, Any] = {}
    if text:
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError) as err:  # nesting too deep for the decoder is bad input too
            raise PayloadInvalid("(all)", "a JSON object", text, where=what) from err
        if not isinstance(loaded, dict):
            raise PayloadInvalid("(all)", "a JSON object", text, where=what)
        out.update(loaded)
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise PayloadInvalid(pair, "name=value", pair, where=what)
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


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return _when(obj)
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def _print_instance(inst: InstanceView, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    data = _jsonable({**asdict(inst), **(extra or {})})
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
        else:
            print(f"  {key}: {value}")


def _clock(c: ClockView) -> dict[str, Any]:
    return _jsonable(asdict(c))  # type: ignore[no-any-return]


def cmd_start(args: argparse.Namespace) -> int:
    engine = _engine(args, create=True)
    variables = _values(args.var, args.vars, "variable", engine.definitions.get(args.workflow).spec.variables)
    inst = engine.start(args.workflow, args.business_key, variables, _actor(args),
                        idempotency_key=args.idempotency_key)
    _print_instance(inst, args.json)
    return 0


def cmd_fire(args: argparse.Namespace) -> int:
    engine = _engine(args)
    payload = _values(args.field, args.payload, "payload", _payload_fields(engine, args.instance, args.event))
    inst = engine.fire(args.instance, args.event, _actor(args), payload, idempotency_key=args.idempotency_key)
    _print_instance(inst, args.json)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.instance:
        inst = engine.get(args.instance)
        extra = {"allowed_events": list(engine.allowed_events(inst.id)),
                 "clocks": [_clock(c) for c in engine.clocks(inst.id)]}
        _print_instance(inst, args.json, extra)
        return 0
    rows = engine.list_instances(workflow_id=args.workflow, status=args.status, state=args.state, limit=args.limit,
                                 offset=args.offset)
    if args.json:
        print(json.dumps([_jsonable(asdict(i)) for i in rows], ensure_ascii=False, indent=2))
        return 0
    for i in rows:
        print(f"{i.id}  {i.workflow_id:28} {i.business_key:24} {i.state:22} {i.status}")
    print(f"{len(rows)} instance(s)", file=sys.stderr)
    return 0


def _entry(h: HistoryEntry) -> dict[str, Any]:
    return _jsonable(asdict(h))  # type: ignore[no-any-return]


def _acted(h: HistoryEntry) -> str:
    """`bob (provider.data_auditor, 9145...)`: who acted, in which role and for which department at the time."""
    if h.actor_role is None:  # a step written before roles were recorded
        return h.actor
    return f"{h.actor} ({h.actor_role}{', ' + h.actor_department if h.actor_department else ''})"


def cmd_history(args: argparse.Namespace) -> int:
    engine = _engine(args)
    entries = engine.history(args.instance)
    report = engine.verify_history(args.instance)
    if args.json:
        print(json.dumps({"steps": [_entry(h) for h in entries], "verified": asdict(report)}, ensure_ascii=False,
                         indent=2))
    else:
        for h in entries:
            payload = json.dumps(h.payload, ensure_ascii=False) if h.payload else ""
            print(f"{h.seq:3} {_when(h.at)}  {_acted(h):12} {h.event:22} {h.from_state or '-'} -> {h.to_state} "
                  f"{payload}")
        print("history verified: intact" if report.ok else
              f"HISTORY ALTERED at step {report.broken_seq}: {report.problem}")
    return 0 if report.ok else 3


def cmd_overdue(args: argparse.Namespace) -> int:
    engine = _engine(args)
    items = engine.overdue(limit=args.limit, offset=args.offset, workflow_id=args.workflow)
    if args.json:
        print(json.dumps([{"instance_id": o.instance.id, "workflow_id": o.instance.workflow_id,
                           "business_key": o.instance.business_key, "state": o.instance.state,
                           "clock": _clock(o.clock), "late_working_days": o.late_working_days} for o in items],
                         ensure_ascii=False, indent=2))
        return 0
    for o in items:
        print(f"{o.instance.id}  {o.instance.workflow_id:28} {o.instance.business_key:24} "
              f"{o.clock.scope}:{o.clock.state or '-'} due {deadline_plain(o.clock.due_at)}  "
              f"late {o.late_working_days} WD")
    print(f"{len(items)} overdue clock(s)", file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.daily_digest_job import DailyDigest
    from engine.scheduler import EngineScheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every run of every job at INFO
    engine = _engine(args, create=True)
    if args.worker_id:
        engine.worker_id = args.worker_id
    _warn_unregistered_hooks(engine)
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

    def on_signal(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("signal %s: finishing the running tick, then stopping", signum)
        stop.set()
        if engine.dispatcher is not None:  # the rest of an outbox batch goes back unsent, for another worker
            engine.dispatcher.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>`: every thread's stack on stderr, for a worker that hangs
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    scheduler = EngineScheduler(engine, interval=args.interval, daily_digest=daily)
    scheduler.start()
    from storage.sql import shown_url

    print(f"worker {engine.worker_id} ticking every {args.interval:g} s on {shown_url(args.db)}; "
          f"{_worker_settings(args, engine.dispatcher is not None, daily)}; stop with Ctrl-C or SIGTERM",
          file=sys.stderr, flush=True)
    try:
        # never an untimed wait: a SIGTERM the kernel hands to one of the scheduler's threads only marks the
        # handler due, and the main thread runs it at its next bytecode, which a wait without timeout never reaches
        while not stop.wait(0.5):
            pass
    finally:
        scheduler.stop(wait=True)
        engine.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    print(f"worker stopped after {scheduler.ticks} tick(s)", file=sys.stderr)
    return 0


def _worker_settings(args: argparse.Namespace, dispatching: bool, daily: Any) -> str:
    """The effective policy in the start line: deadlines, outbox delivery, daily digest."""
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
    if daily is not None:
        parts.append(f"daily overdue list at {daily.at:%H:%M} Beijing time on working days")
    elif args.directory:
        parts.append("no daily overdue list (--no-daily-digest)")
    else:
        parts.append("no daily overdue list is sent: it needs --directory")
    return "; ".join(parts)


#: The shortest `worker --interval`: a tick every 100 ms is already more than any deadline needs.
MIN_INTERVAL = 0.1
#: `worker --backoff` by default: the first retry after 30 s, doubling, at most 1 h apart (notifiers.Backoff).
DEFAULT_BACKOFF = (30.0, 3600.0)


def _interval(text: str) -> float:
    """`--interval` seconds: a finite number of at least MIN_INTERVAL (argparse exits 2 with the message)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < MIN_INTERVAL:
        raise argparse.ArgumentTypeError(f"{text} s: give at least {MIN_INTERVAL:g} s between ticks")
    return value


def _clock_time(text: str) -> time:
    """HH:MM (24-hour) as a time of day; ValueError otherwise."""
    hours, sep, minutes = text.strip().partition(":")
    if sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60:
        return time(int(hours), int(minutes))
    raise ValueError(text)


def _digest_time(text: str) -> time:
    """`--daily-digest HH:MM`: the Beijing time the daily overdue list goes out."""
    try:
        return _clock_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write a time of day as HH:MM, e.g. 09:00") from None


def _business_hours(text: str) -> tuple[time, time]:
    """`--business-hours OPEN-CLOSE` (HH:MM-HH:MM, open before close): deadlines end at close of business."""
    first, _, last = text.partition("-")
    try:
        opens, closes = _clock_time(first), _clock_time(last)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write OPEN-CLOSE as HH:MM-HH:MM, e.g. 09:00-17:00") from None
    if not opens < closes:
        raise argparse.ArgumentTypeError(f"{text}: the opening time must come before the closing time, e.g. "
                                         "09:00-17:00")
    return opens, closes


def _count(text: str, least: int, other: str = "") -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least {least}{other}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text}: give a whole number of at least {least}{other}")
    return value


def _page_size(text: str) -> int:
    """`--limit N` of a listing: 1 to the engine's largest page."""
    value = _count(text, 1, f" and at most {LIST_LIMIT_MAX}")
    if value > LIST_LIMIT_MAX:
        raise argparse.ArgumentTypeError(f"{text}: give a whole number of at least 1 and at most {LIST_LIMIT_MAX}; "
                                         "page on with --offset")
    return value


def _skip(text: str) -> int:
    """`--offset N` of a listing: how many of the first rows to skip."""
    return _count(text, 0)


def _max_attempts(text: str) -> int:
    """`--max-attempts N`: how often a message is tried before dead-letter (at least 1)."""
    return _count(text, 1)


def _digest_threshold(text: str) -> int | None:
    """`--digest-threshold N|off`: pending alerts for one person on one channel folded into one digest."""
    if text.strip().lower() == "off":
        return None
    return _count(text, 2, ", or off")


def _backoff(text: str) -> tuple[float, float]:
    """`--backoff SECONDS[:MAX_SECONDS]`: the first retry's wait, doubling up to the maximum (default 3600 s,
    or the first wait when that is longer)."""
    first, sep, last = text.partition(":")
    try:
        base = float(first)
        maximum = float(last) if sep else max(base, DEFAULT_BACKOFF[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write SECONDS or SECONDS:MAX_SECONDS, e.g. 30:3600") from None
    if not (math.isfinite(base) and math.isfinite(maximum) and 0 < base <= maximum):
        raise argparse.ArgumentTypeError(f"{text}: the first wait must be more than 0 s and at most the maximum, "
                                         "e.g. 30:3600")
    return base, maximum


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except WorkflowError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1

    return run


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("start", help="start an instance of a workflow")
    _common(p, actor=True)
    p.add_argument("workflow")
    p.add_argument("business_key")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a variable (repeatable)")
    p.add_argument("--vars", metavar="JSON", help="variables as a JSON object")
    p.set_defaults(func=_guarded(cmd_start))

    p = subparsers.add_parser("fire", help="send an event to an instance")
    _common(p, actor=True)
    p.add_argument("instance")
    p.add_argument("event")
    p.add_argument("--field", action="append", default=[], metavar="NAME=VALUE", help="a payload field (repeatable)")
    p.add_argument("--payload", metavar="JSON", help="the payload as a JSON object")
    p.set_defaults(func=_guarded(cmd_fire))

    p = subparsers.add_parser("show", help="show one instance, or list instances")
    _common(p)
    p.add_argument("instance", nargs="?")
    p.add_argument("--workflow")
    p.add_argument("--status", choices=["running", "completed", "cancelled", "suspended"])
    p.add_argument("--state")
    p.add_argument("--limit", type=_page_size, default=100, help="at most this many (default 100, at most 10000)")
    p.add_argument("--offset", type=_skip, default=0, help="skip this many first: the next page")
    p.set_defaults(func=_guarded(cmd_show))

    p = subparsers.add_parser("history", help="the steps of an instance, with the hash chain verified")
    _common(p)
    p.add_argument("instance")
    p.set_defaults(func=_guarded(cmd_history))

    p = subparsers.add_parser("overdue", help="open deadlines that have passed, most overdue first")
    _common(p)
    p.add_argument("--workflow")
    p.add_argument("--limit", type=_page_size, default=200, help="at most this many (default 200, at most 10000)")
    p.add_argument("--offset", type=_skip, default=0, help="skip this many first: the next page")
    p.set_defaults(func=_guarded(cmd_overdue))

    p = subparsers.add_parser("worker", help="run timers (and the outbox) until stopped")
    _common(p, json_output=False)
    p.add_argument("--interval", type=_interval, default=5.0,
                   help=f"seconds between ticks (default 5, at least {MIN_INTERVAL:g})")
    p.add_argument("--worker-id", help="name of this worker in timer claims (default host:pid)")
    p.add_argument("--no-dispatch", action="store_true", help="do not send the outbox from this worker")
    p.add_argument("--max-attempts", type=_max_attempts, default=8, metavar="N",
                   help="tries of a message before dead-letter (default 8)")
    p.add_argument("--backoff", type=_backoff, default=DEFAULT_BACKOFF, metavar="SECONDS[:MAX_SECONDS]",
                   help="wait before the first retry, doubling up to the maximum (default 30:3600)")
    p.add_argument("--digest-threshold", type=_digest_threshold, default=5, metavar="N|off",
                   help="pending alerts for one person on one channel sent as one digest (default 5; off: never)")
    daily = p.add_mutually_exclusive_group()
    daily.add_argument("--daily-digest", type=_digest_time, default=DEFAULT_DIGEST_AT, metavar="HH:MM",
                       help="Beijing time of the supervisors' daily overdue list on working days (default 09:00; "
                            "needs --directory)")
    daily.add_argument("--no-daily-digest", action="store_true", help="send no daily overdue list from this worker")
    p.set_defaults(func=_guarded(cmd_worker))
