"""`cli.py report`: the monthly supervision report (督查月报) from the database, as HTML, Markdown or CSV.

Exit status: 0 when written, 1 when the database or a definition cannot be read or the file cannot be written,
2 on bad input (including an --out that must not be written, see `engine.reporting.target`).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, time
from functools import partial
from pathlib import Path
from typing import Any

from engine.cli_checks import UsageError, check_db_target, open_to_read
from engine.cli_options import add_database
from engine.clock import SHANGHAI, SystemClock
from engine.deadline_text import deadline_plain
from engine.errors import WorkflowError
from engine.ports import Directory
from engine.reporting.figures import MonthReport, build_month_report, month_bounds
from engine.reporting.gather import Specs, StepGatherer
from engine.reporting.render import FORMATS, render, save
from engine.reporting.target import refusal
from engine.sla import SlaCalculator

_REPO = Path(__file__).resolve().parent.parent
#: The calendar the report counts working days on: the Liuzhou / Guangxi deployment's.
REPORT_CALENDAR = "CN-GX"


def month_end(month: str) -> datetime:
    """24:00 of the month's last day, Asia/Shanghai (ValueError names the expected form)."""
    _, nxt = month_bounds(month)
    return datetime.combine(nxt, time(0), tzinfo=SHANGHAI)


def build_report(db: Any, specs: Specs, directory: Directory | None, month: str, as_of: datetime,
                 calendar_region: str = REPORT_CALENDAR) -> MonthReport:
    """The month's figures from the database behind `db` (a SQLAlchemy engine), as things stood at `as_of`."""
    from calendars import get_calendar
    from storage.reports import task_clock_records

    rows = task_clock_records(db, as_of, month_end(month))
    records = StepGatherer(specs, directory).records(rows)
    late_by = partial(SlaCalculator().late_by, calendar_region)
    return build_month_report(records, month, as_of, get_calendar(calendar_region).working_days_between,
                              late_by=late_by)


def month_start(month: str) -> datetime:
    """00:00 of the month's first day, Asia/Shanghai (ValueError names the expected form)."""
    first, _ = month_bounds(month)
    return datetime.combine(first, time(0), tzinfo=SHANGHAI)


def _as_of(args: argparse.Namespace) -> datetime:
    """The report's moment; ValueError before the month has begun, when no step of it can have fallen due and
    the report would hold only other months' overdue items."""
    end = month_end(args.month)
    if args.as_of:
        try:
            moment = datetime.fromisoformat(args.as_of)
        except ValueError:
            raise ValueError(f"--as-of {args.as_of!r} is not a date-time; write YYYY-MM-DDTHH:MM (Beijing time), "
                             "e.g. 2026-10-31T18:00, or add an offset such as +08:00") from None
        moment = moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment
    else:
        moment = min(end, SystemClock().now())
    start = month_start(args.month)
    if moment < start:
        given = f"--as-of {args.as_of}" if args.as_of else "now"
        raise ValueError(f"{args.month} has not begun at the report's moment ({given}, "
                         f"{deadline_plain(moment.astimezone(SHANGHAI))}); give a month that has begun, or an "
                         f"--as-of on or after {start.date().isoformat()}T00:00")
    return moment


def _suffix_problem(out: str, suffix: str) -> str:
    """Why --out's suffix, which chose the format as no --format was given (argparse checks that one), is refused."""
    return (f"--out {out}: without --format the format is taken from the file's suffix, and {suffix!r} is none of "
            f"{', '.join(FORMATS)}; give --format {'|'.join(FORMATS)}, or an --out ending in "
            f"{', '.join('.' + f for f in FORMATS)}")


def cmd_report(args: argparse.Namespace) -> int:
    from engine.definitions import DefinitionSet
    from engine.errors import StorageUnavailable
    from storage import database_missing, no_database

    try:
        as_of = _as_of(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    fmt = args.format or (Path(args.out).suffix.lstrip(".") if args.out else "md")
    if fmt not in FORMATS:
        print(f"error: {_suffix_problem(args.out, fmt)}", file=sys.stderr)
        return 2
    try:
        check_db_target(args.db)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        missing = database_missing(args.db)
    except StorageUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if missing:
        print(f"error: {no_database(args.db)}", file=sys.stderr)
        return 2
    refused = refusal(Path(args.out), args.db, force=args.force) if args.out else None
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    try:
        directory = None
        if args.directory:
            from notifiers.directory import YamlDirectory

            directory = YamlDirectory(args.directory)
        specs = DefinitionSet.load(args.workflows or [str(_REPO / "workflows")])
        store = open_to_read(args.db)
        try:
            _add_stored_versions(specs, store)
            report = build_report(store.engine, specs, directory, args.month, as_of)
        finally:
            store.close()
    except WorkflowError as err:  # DirectoryError included: notifier errors are WorkflowErrors
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.out:
        try:
            save(report, fmt, Path(args.out).expanduser().resolve())
        except OSError as err:
            print(f"error: cannot write {args.out}: {err.strerror or err}; nothing was changed there", file=sys.stderr)
            return 1
        print(f"wrote {args.out} ({report.totals.due} steps due in {args.month})")
    else:
        sys.stdout.write(render(report, fmt))
    return 0


def _add_stored_versions(specs: Any, store: Any) -> None:
    """Every version the database holds that the files do not: a step of a workflow whose file is not given (or
    was changed since) is still counted under its own department and procedure, as the engine serves it."""
    from engine.definitions import add_stored_version

    for d in store.stored_definitions():
        if d.source:
            add_stored_version(specs, d)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("report", help="the monthly supervision report (HTML with a chart, Markdown, CSV)")
    p.add_argument("--month", required=True, help="the month, YYYY-MM (e.g. 2026-10)")
    p.add_argument("--format", choices=FORMATS, help="html, md or csv (default: from --out's suffix, else md)")
    add_database(p)
    p.add_argument("--out", help="write to this file instead of standard output; replaces an earlier report of that "
                   "name, never the database or a file that is not a report")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out that is not a report (never a SQLite database)")
    p.add_argument("--directory", default=os.environ.get("SHIXIAN_DIRECTORY", str(_REPO / "notifiers" /
                                                                                "example_directory.yaml")),
                   help="people directory YAML: department names, bureau departments (default: the example)")
    p.add_argument("--workflows", action="append", default=None,
                   help="definition file or folder (repeatable; default: the repository's workflows/)")
    p.add_argument("--as-of", help="the report's moment, ISO (default: the end of the month, or now if earlier)")
    p.set_defaults(func=cmd_report)
