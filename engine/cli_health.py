"""`cli.py health`: whether the deadlines, timers and messages due in a database are being handled, for the
operators' monitoring. Exit status: 0 when they are, 1 when a worker is missing or behind, a moment keeps failing
or a message was given up on, 2 on a bad command line or database path."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from engine.backlog import DEFAULT_GRACE, backlog_problems
from engine.cli_checks import UsageError, exit_codes, open_to_read, require_engine_db
from engine.cli_options import add_database, seconds
from engine.cli_runtime import jsonable
from engine.clock import SystemClock
from engine.errors import WorkflowError


def cmd_health(args: argparse.Namespace) -> int:
    require_engine_db(args.db)
    store = open_to_read(args.db)
    try:
        backlog = store.backlog(SystemClock().now())
    finally:
        store.close()
    problems = backlog_problems(backlog, timedelta(seconds=args.grace))
    if args.json:
        print(json.dumps({**jsonable(asdict(backlog)), "grace_seconds": args.grace,
                          "problems": [{"kind": p.kind, "text": p.text} for p in problems]},
                         ensure_ascii=False, indent=2))
    else:
        print(f"due now: {backlog.moments_due} SLA moment(s) ({backlog.moments_failing} failing), "
              f"{backlog.timers_due} timer(s), {backlog.messages_due} message(s); "
              f"{backlog.messages_dead} message(s) given up on")
        for p in problems:
            print(f"problem: {p.text}")
        if not problems:
            print(f"ok: nothing due has waited longer than {args.grace:g} s")
    return 1 if problems else 0


def _grace(text: str) -> float:
    return seconds(text, 1, "of grace")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "health", help="whether due deadlines, timers and messages are handled: exit 1 when a worker is missing or "
                       "behind, a moment keeps failing or a message was given up on (for monitoring)")
    add_database(p)
    p.add_argument("--grace", type=_grace, default=DEFAULT_GRACE.total_seconds(), metavar="SECONDS",
                   help=f"how long due work may wait before its worker counts as missing (default "
                        f"{DEFAULT_GRACE.total_seconds():g})")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=exit_codes(cmd_health, [(UsageError, 2, None), (WorkflowError, 1, None)]))


__all__ = ["cmd_health", "register"]
