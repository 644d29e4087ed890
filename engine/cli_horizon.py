"""`horizon`: from which day the calendar data runs short for the served workflows' deadlines (engine.horizon),
so that the next year's file is added before a strict engine starts refusing commands."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from engine.cli_checks import UsageError, exit_codes
from engine.cli_options import add_business_hours, count, deadline_policy
from engine.clock import SHANGHAI, SystemClock
from engine.errors import WorkflowError
from engine.horizon import CalendarHorizon, DeadlineReach, calendar_horizon, horizon_summary
from engine.horizon_job import DEFAULT_WITHIN


def horizon_of(args: argparse.Namespace) -> CalendarHorizon:
    from engine.cli_runtime import _default_workflows
    from engine.definitions import DefinitionSet

    definitions = DefinitionSet.load(args.workflows or [_default_workflows()])
    today = args.today or SystemClock().now().astimezone(SHANGHAI).date()
    return calendar_horizon([c.spec for c in definitions], deadline_policy(args.business_hours), today)


def _row(d: DeadlineReach) -> dict[str, Any]:
    return {"workflow_id": d.workflow_id, "workflow_name": d.workflow_name, "state": d.where or None,
            "kind": d.kind, "period": str(d.period), "calendar": d.calendar,
            "refused_from": d.refused_from.isoformat() if d.refused_from else None, "missing": list(d.missing)}


def cmd_horizon(args: argparse.Namespace) -> int:
    horizon = horizon_of(args)
    soon = horizon.refused_within(args.within)
    if args.json:
        print(json.dumps({"today": horizon.today.isoformat(), "within_days": args.within,
                          "refused_within": len(soon), "missing": list(horizon.missing),
                          "deadlines": [_row(d) for d in horizon.deadlines],
                          "counted_to_a_date": [{"workflow_id": w, "where": s} for w, s in horizon.by_date]},
                         ensure_ascii=False, indent=2))
    else:
        _print_table(horizon, args.all)
        print(horizon_summary(horizon, args.within))
    return 1 if soon and args.check else 0


def _print_table(horizon: CalendarHorizon, everything: bool) -> None:
    shown = [d for d in horizon.deadlines if everything or d.refused_from is not None]
    if not shown:
        return
    print(f"{'refused from':<13} {'workflow':<28} {'deadline':<34} {'period':>6}  calendar")
    for d in shown:
        when = d.refused_from.isoformat() if d.refused_from else "-"
        print(f"{when:<13} {d.workflow_id:<28} {d.label:<34} {d.period!s:>6}  {d.calendar}")
    if horizon.by_date:
        print(f"counted to a date a case gives (refused when that date has no data): "
              f"{', '.join(f'{w} {s}' for w, s in horizon.by_date)}")
    print()


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write a date as YYYY-MM-DD, e.g. 2026-12-01") from None


def _within(text: str) -> int:
    return count(text, 0, " (days)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "horizon", help="from which day the calendar data runs short for each deadline of the workflows")
    p.add_argument("--workflows", action="append", default=None,
                   help="definition file or folder (repeatable; default: the repository's workflows/)")
    p.add_argument("--today", type=_day, default=None, metavar="DATE",
                   help="count from this day (default: today in Beijing)")
    p.add_argument("--within", type=_within, default=DEFAULT_WITHIN, metavar="DAYS",
                   help=f"what counts as soon (default: {DEFAULT_WITHIN} days)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a deadline is refused within --within days (for monitoring)")
    p.add_argument("--all", action="store_true", help="list the deadlines the data covers as well")
    add_business_hours(p, "as the engine processes are given them")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=exit_codes(cmd_horizon, [(UsageError, 2, None), (WorkflowError, 1, None)]))


__all__ = ["cmd_horizon", "horizon_of", "register"]

