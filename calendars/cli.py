"""`cli.py calendar ...`: ask the working-day calendar, compute a deadline, show a year, check the data files.

Exit status: 0 on success, 1 when `check` (or loading) finds problems in the data, 2 on bad input.
"""

from __future__ import annotations

import argparse
import calendar as month_names
import json
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from calendars import REGIONS, get_calendar
from calendars.china import ChinaWorkingCalendar
from calendars.data_files import load_data, read_data
from calendars.deadlines import SHANGHAI, UNITS, DeadlinePolicy, due_after
from calendars.errors import CalendarDataError, CalendarError
from calendars.store import data_dir


class _BadInput(Exception):
    """A command-line value that cannot be used; its message says what was expected."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _BadInput(f"{text!r} is not a date; write YYYY-MM-DD") from None


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _BadInput(f"{what} {text!r} is not a whole number") from None


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _BadInput(f"{text!r} is not a date-time; write e.g. 2026-09-30T15:00 or 2026-09-30T15:00+08:00") from None
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment


def _hours(text: str | None) -> tuple[time, time] | None:
    if text is None:
        return None
    try:
        first, last = text.split("-")
        opens, closes = time.fromisoformat(first), time.fromisoformat(last)
    except ValueError:
        raise _BadInput(f"business hours {text!r}: write OPEN-CLOSE, e.g. 09:00-17:00") from None
    if not opens < closes:
        raise _BadInput(f"business hours {text!r}: the opening time must come before the closing time, "
                        "e.g. 09:00-17:00")
    return opens, closes


def _calendar(args: argparse.Namespace) -> ChinaWorkingCalendar:
    if args.data is not None:
        return REGIONS[args.region](allow_provisional=args.provisional, data=load_data(Path(args.data)))
    return get_calendar(args.region, allow_provisional=args.provisional)


def _emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    print(json.dumps(payload, ensure_ascii=False, default=str) if args.json else text)


def _is_workday(args: argparse.Namespace) -> int:
    cal, day = _calendar(args), _date(args.date)
    working = cal.is_working_day(day)
    _emit(
        args,
        {"region": cal.region, "date": day, "working_day": working, "provisional": cal.is_provisional(day)},
        f"{day} {'working day' if working else 'day off'}" + (" (provisional)" if cal.is_provisional(day) else ""),
    )
    return 0


def _add(args: argparse.Namespace) -> int:
    cal, day, n = _calendar(args), _date(args.date), _int(args.n, "N")
    result = cal.add_working_days(day, n) if n >= 0 else cal.sub_working_days(day, -n)
    provisional = cal.touches_provisional(day, result)
    _emit(
        args,
        {"region": cal.region, "date": day, "n": n, "result": result, "provisional": provisional},
        result.isoformat() + (" (provisional)" if provisional else ""),
    )
    return 0


def _between(args: argparse.Namespace) -> int:
    cal, a, b = _calendar(args), _date(args.first), _date(args.second)
    count = cal.working_days_between(a, b)
    provisional = cal.touches_provisional(a, b)
    _emit(
        args,
        {"region": cal.region, "from": a, "to": b, "working_days": count, "provisional": provisional},
        str(count) + (" (provisional)" if provisional else ""),
    )
    return 0


def _deadline(args: argparse.Namespace) -> int:
    cal, start, n = _calendar(args), _moment(args.moment), _int(args.n, "N")
    policy = DeadlinePolicy(business_hours=_hours(args.business_hours), receipt=args.receipt)
    deadline = due_after(cal, start, n, args.unit, policy)
    due = deadline.due
    if due.time() == time(0) and due.date() > deadline.last_day:
        shown = f"{deadline.last_day.isoformat()}T24:00+08:00"
    else:  # to the minute, as the end of a day is written, unless the moment has seconds
        shown = due.isoformat(timespec="minutes" if due.second == due.microsecond == 0 else "auto")
    _emit(
        args,
        {
            "region": cal.region,
            "start": start.isoformat(),
            "amount": n,
            "unit": args.unit,
            "due": due.isoformat(),
            "last_day": deadline.last_day,
            "provisional": deadline.provisional,
        },
        f"due {shown} (last day {deadline.last_day})" + (" (provisional)" if deadline.provisional else ""),
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    cal, year = _calendar(args), _int(args.year, "YEAR")
    if not 1 < year < 9999:
        raise _BadInput(f"year {year} is out of range")
    off = [d for d, _ in cal.holidays(year)]
    makeup: list[date] = []
    lines_by_month: list[list[str]] = []
    for month in range(1, 13):
        lines = [f"{month_names.month_name[month]:^27}", "Mo  Tu  We  Th  Fr  Sa  Su "]
        week = "    " * date(year, month, 1).weekday()
        for day_no in range(1, month_names.monthrange(year, month)[1] + 1):
            day = date(year, month, day_no)
            working = cal.is_working_day(day)
            if working and day.weekday() >= 5:
                makeup.append(day)
                mark = "+"
            elif not working:
                mark = "*" if day in off else "-"
            else:
                mark = " "
            week += f"{day_no:>2}{mark} "
            if day.weekday() == 6:
                lines.append(week)
                week = ""
        if week:
            lines.append(week)
        lines_by_month.append(lines)
    since = cal.unknown_from(year) if cal.allow_provisional else None
    provisional = since is not None
    note = ""
    if since is not None and since == date(year, 1, 1):
        note = " (provisional: weekends and fixed-date holidays only)"
    elif since is not None:
        note = f" (provisional from {since.isoformat()}: the national schedule only, no regional days off)"
    out = [f"{year} {cal.region}{note}"]
    out.append("* day off by notice   + make-up working day (调休上班)   - weekend")
    for row in range(0, 12, 3):
        block = lines_by_month[row : row + 3]
        height = max(len(m) for m in block)
        out.append("")
        for i in range(height):
            out.append("   ".join(f"{(m[i] if i < len(m) else ''):<28}" for m in block).rstrip())
    _emit(
        args,
        {
            "region": cal.region,
            "year": year,
            "days_off": off,
            "makeup_working_days": makeup,
            "provisional": provisional,
        },
        "\n".join(out),
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    folder = Path(args.data) if args.data is not None else data_dir()
    data, problems = read_data(folder)
    years = {region: sorted(data.years(region)) for region in REGIONS}
    # a year with the national file but not the region's overlay: known up to the overlay's first possible day
    partial = {region: {y: day.isoformat() for y, day in sorted(data.partial_years(region).items())}
               for region in REGIONS}
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems, "years": years, "partial": partial},
                         ensure_ascii=False))
    else:
        for problem in problems:
            print(problem)
        if not problems:
            files = sum(len(v) for v in data.files.values())
            print(f"ok: {files} files, years with complete data: {data.coverage()}")
            for region, known in partial.items():
                for y, since in known.items():
                    print(f"note: {region} {y} has the national file only: days from {since} on are unknown "
                          f"until {', '.join(data.missing_files(region, y))} is added")
    return 1 if problems else 0


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except CalendarDataError as err:
            print("calendar data problems:\n" + str(err), file=sys.stderr)
            return 1
        except (_BadInput, CalendarError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    return run


def register(subparsers: Any) -> None:
    """Adds the `calendar` command group to the main parser."""
    group = subparsers.add_parser("calendar", help="the working-day calendar: ask, compute deadlines, check data")
    sub = group.add_subparsers(dest="calendar_command", metavar="SUBCOMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--region", choices=sorted(REGIONS), default="CN", help="calendar region (default CN)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--data", metavar="DIR", help="read the data files from DIR instead of the configured one")
        parser.add_argument(
            "--provisional", action="store_true", help="allow years without data (weekends + fixed-date holidays)"
        )
        parser.set_defaults(func=_guarded(func))
        return parser

    day = "an ISO date, e.g. 2026-09-30"
    command("is-workday", _is_workday, "is DATE a working day?").add_argument("date", metavar="DATE", help=day)
    add = command("add", _add, "the N-th working day after DATE (DATE not counted; negative N counts back)")
    add.add_argument("date", metavar="DATE", help=day)
    add.add_argument("n", metavar="N", help="working days to count, e.g. 10 (negative: back)")
    between = command("between", _between, "the number of working days in (FROM, TO]")
    between.add_argument("first", metavar="FROM", help=f"{day}; not counted")
    between.add_argument("second", metavar="TO", help=f"{day}; counted")
    deadline = command("deadline", _deadline, "the legal deadline of N units after DATETIME (Asia/Shanghai if naive)")
    deadline.add_argument("moment", metavar="DATETIME", help="when the period starts, e.g. 2026-09-30T15:00")
    deadline.add_argument("n", metavar="N", help="how many units, e.g. 10")
    deadline.add_argument("--unit", choices=UNITS, default="WD", help="WD working days (default), CD, WH")
    deadline.add_argument("--business-hours", metavar="OPEN-CLOSE", help="e.g. 09:00-17:00: days end at close")
    deadline.add_argument(
        "--receipt",
        choices=("never_counted", "next_working_day"),
        default="never_counted",
        help="what a receipt on a day off or after close counts as (default: the receipt day is never counted)",
    )
    command("show", _show, "a month grid of YEAR marking days off and make-up working days").add_argument(
        "year", metavar="YEAR", help="e.g. 2026"
    )
    command("check", _check, "validate the data files (exit 1 if a problem is found)")
