"""`cli.py health`: whether the deadlines, timers and messages due in a database are being handled, and which
workers tick it, for the operators' monitoring. Exit status: 0 when they are, 1 when a worker is missing or
behind, a moment keeps failing or a message was given up on, 2 on a bad command line or database path."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from engine.backlog import DEFAULT_GRACE, ahead, backlog_problems, ticking
from engine.cli_checks import UsageError, exit_codes, open_to_read, require_engine_db
from engine.cli_options import add_database, count, seconds
from engine.cli_runtime import jsonable
from engine.clock import SystemClock, beijing_text
from engine.errors import WorkflowError
from storage.workers import WorkerSeen


def cmd_health(args: argparse.Namespace) -> int:
    require_engine_db(args.db)
    store = open_to_read(args.db)
    try:
        backlog = store.backlog(SystemClock().now())
    finally:
        store.close()
    grace = timedelta(seconds=args.grace)
    problems = backlog_problems(backlog, grace, args.workers)
    if args.json:
        print(json.dumps({**jsonable(asdict(backlog)), "grace_seconds": args.grace, "workers_wanted": args.workers,
                          "problems": [{"kind": p.kind, "text": p.text} for p in problems]},
                         ensure_ascii=False, indent=2))
    else:
        print(f"due now: {backlog.moments_due} SLA moment(s) ({backlog.moments_failing} failing), "
              f"{backlog.timers_due} timer(s), {backlog.messages_due} message(s); "
              f"{backlog.messages_dead} message(s) given up on")
        live = {w.id for w in ticking(backlog, grace)}
        early = {w.id for w in ahead(backlog, grace)}
        for w in backlog.workers[:_WORKERS_SHOWN]:
            state = "dated ahead of this host's clock" if w.id in early else _worker_state(w, w.id in live)
            print(f"worker {w.name}: {state}; last tick {beijing_text(w.last_tick_at, seconds=True)}, {w.ticks} "
                  f"tick(s) since {beijing_text(w.started_at, seconds=True)}")
        if len(backlog.workers) > _WORKERS_SHOWN:
            print(f"... and {len(backlog.workers) - _WORKERS_SHOWN} more worker(s) on record")
        for p in problems:
            print(f"problem: {p.text}")
        if not problems:
            waiting = "" if backlog.next_work is not None else "; nothing waits for a worker"
            print(f"ok: nothing due has waited longer than {args.grace:g} s; {len(live)} worker(s) ticking{waiting}")
    return 1 if problems else 0


#: the workers listed in the text report, the latest first; the JSON lists every one on record
_WORKERS_SHOWN = 10


def _worker_state(worker: WorkerSeen, live: bool) -> str:
    if worker.stopped_at is not None:
        return f"stopped on {beijing_text(worker.stopped_at, seconds=True)}"
    return "ticking" if live else "silent (ended without stopping, by an error, or cannot reach the database)"


def _grace(text: str) -> float:
    return seconds(text, 1, "of grace")


def _workers(text: str) -> int:
    return count(text, 0, " (workers)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "health", help="whether due deadlines, timers and messages are handled: exit 1 when a worker is missing or "
                       "behind, a moment keeps failing or a message was given up on (for monitoring)")
    add_database(p)
    p.add_argument("--grace", type=_grace, default=DEFAULT_GRACE.total_seconds(), metavar="SECONDS",
                   help=f"how long due work may wait before its worker counts as missing (default "
                        f"{DEFAULT_GRACE.total_seconds():g})")
    p.add_argument("--workers", type=_workers, default=1, metavar="N",
                   help="how many workers must have ticked the database within the grace while work waits for one "
                        "(default 1; 0 leaves the workers unchecked)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=exit_codes(cmd_health, [(UsageError, 2, None), (WorkflowError, 1, None)]))


__all__ = ["cmd_health", "register"]
