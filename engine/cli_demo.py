"""`cli.py demo`: a few hundred regulated procedures through autumn 2026 on SQLite, on a simulated clock.

Departments from the example directory answer on time, on the last day or late; warnings, breaches and
escalations go out as .eml files under `OUT/mail/`; it ends with a table per procedure, the October
supervision report, `summary.json`, and checks of what was delivered. Exit status: 0 when every check
passes, 1 when one fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
from collections import Counter
from datetime import datetime, time
from pathlib import Path
from time import perf_counter
from typing import Any

from engine.errors import WorkflowError

_REPO = Path(__file__).resolve().parent.parent
REPORT_MONTH = "2026-10"
DATABASE = "shixian-demo.db"
#: What a run writes at the top of its folder besides `mail/`; the database's journal files come and go with it.
_OWN_FILES = frozenset({"summary.json", DATABASE, *(DATABASE + s for s in ("-wal", "-shm", "-journal"))})
_REPORT_NAME = re.compile(r"\.?report-\d{4}-\d{2}\.(html|md|csv)(\.[^/]*\.tmp)?")


def _is_own_mail(folder: Path) -> bool:
    """`mail/` as the file channel writes it: one folder per recipient holding `.eml` files (and `.tmp` files of
    a write cut short), no links, nothing deeper."""
    for recipient in folder.iterdir():
        if recipient.is_symlink() or not recipient.is_dir():
            return False
        for message in recipient.iterdir():
            if message.is_symlink() or not message.is_file() or message.suffix not in (".eml", ".tmp"):
                return False
    return True


def entries_in_the_way(out: Path) -> list[str]:
    """The names in `out` that an earlier demo run did not write (sorted); `out` itself when it is not a folder.

    The demo clears its folder before a run, and must never clear anything else: `--out .` or `--out ~` would
    otherwise empty the working or home directory.
    """
    if not out.exists() and not out.is_symlink():
        return []
    if not out.is_dir():
        return [str(out)]
    foreign = []
    for entry in out.iterdir():
        if entry.is_symlink():
            ours = False
        elif entry.name == "mail":
            ours = entry.is_dir() and _is_own_mail(entry)
        else:
            ours = entry.is_file() and (entry.name in _OWN_FILES or _REPORT_NAME.fullmatch(entry.name) is not None)
        if not ours:
            foreign.append(entry.name + ("/" if entry.is_dir() and not entry.is_symlink() else ""))
    return sorted(foreign)


def clear_earlier_output(out: Path) -> None:
    """Remove an earlier run's files from `out` (kept as a folder, created if missing).

    FileExistsError, naming what is in the way, when `out` holds anything else: nothing is removed then.
    """
    foreign = entries_in_the_way(out)
    if foreign:
        shown = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
        raise FileExistsError(
            f"--out {out} holds files the demo did not write ({shown}); the demo empties its output folder, "
            "so pick another --out (a new or empty folder, or one an earlier demo run wrote)")
    if out.is_dir():
        for entry in out.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    (out / "mail").mkdir(parents=True)


def run_demo(out: Path, instances: int, seed: int, directory_path: Path, progress: Any = None) -> dict[str, Any]:
    """Run the whole demo into `out` (emptied first, see `clear_earlier_output`); answer the summary it also
    writes as summary.json."""
    from engine.cli_report import build_report, month_end
    from engine.clock import SHANGHAI, ManualClock
    from engine.definitions import DefinitionSet
    from engine.demo import checks as audit
    from engine.demo.cast import Cast
    from engine.demo.run import DemoRun
    from engine.demo.scenario import FIRST_START, plan_cases
    from engine.demo.summary import as_dict, procedure_rows, table, totals
    from engine.reporting.render import save
    from engine.runtime import Engine
    from notifiers.channels.file import FileNotifier
    from notifiers.directory import YamlDirectory
    from notifiers.dispatcher import DigestPolicy, OutboxDispatcher
    from notifiers.rendering import TemplateRenderer
    from storage import open_store
    from storage import reports as rows

    clear_earlier_output(out)
    clock = ManualClock(datetime.combine(FIRST_START, time(0), tzinfo=SHANGHAI))
    directory = YamlDirectory(directory_path, clock=clock)
    line_departments = sorted({p.department for p in directory.people("data_admin", None) if p.department})
    cast = Cast(directory, line_departments, seed)
    definitions = DefinitionSet.load([_REPO / "workflows"])
    # a throw-away database: no fsync per command
    store = open_store(str(out / DATABASE), synchronous="OFF")
    sender = str(directory.channel_settings.get("file", {}).get("from", "shixian@localhost"))
    mail = FileNotifier("file", out / "mail", clock, sender)
    # every alert its own message, so the delivered files can be counted against the SLA events
    dispatcher = OutboxDispatcher(store.engine, {"file": mail}, TemplateRenderer(), clock,
                                  digest=DigestPolicy(threshold=None), rng=random.Random(seed))
    engine = Engine(store, definitions, clock=clock, directory=directory, dispatcher=dispatcher,
                    allow_provisional=True)
    cases = plan_cases(instances, seed, line_departments)
    try:
        tally = DemoRun(engine, clock, cast, cases, seed, progress).run()
        until = tally.finished_at or clock.now()
        db = store.engine
        instances_, clocks, events, outbox = (rows.instance_records(db), rows.clock_audits(db),
                                              rows.sla_event_records(db), rows.outbox_records(db))
        names = {wf: definitions.get(wf).spec.name.zh for wf in {i.workflow_id for i in instances_}}
        pauses = rows.pause_counts(db)
        procs = procedure_rows(instances_, clocks, events, outbox, rows.timer_moves(db), names)
        report = build_report(db, definitions, directory, REPORT_MONTH, month_end(REPORT_MONTH))
    finally:
        engine.close()
    written = [out / DATABASE, out / "mail"]
    for fmt in ("html", "md", "csv"):
        path = out / f"report-{REPORT_MONTH}.{fmt}"
        save(report, fmt, path)
        written.append(path)
    files = audit.mail_files(out / "mail")
    told = Counter({"warning": tally.warnings, "breach": tally.breaches,
                    "escalation": sum(tally.escalations.values())})
    results = [*audit.check_mail(files, outbox), audit.check_events_have_mail(events, outbox),
               audit.check_events_told(told, events), audit.check_ladders(clocks, events, definitions, until)]
    if tally.refused:
        results.append(audit.Check("every command accepted", False, "; ".join(tally.refused[:5])))
    delivered: dict[str, int] = {}
    for kind, _ in files:
        delivered[kind] = delivered.get(kind, 0) + 1
    summary = {
        "seed": seed, "instances": instances,
        "simulated": {"from": FIRST_START.isoformat(), "until": until.isoformat()},
        "procedures": [as_dict(p) for p in procs], "totals": as_dict(totals(procs)),
        "mail_delivered": dict(sorted(delivered.items())),
        "report": {"month": REPORT_MONTH, "due": report.totals.due, "on_time": report.totals.on_time,
                   "late": report.totals.late, "open_overdue": report.totals.open_overdue},
        "clock_pauses": pauses,
        "late_share_by_department": {directory.department_name(code): habit.late
                                     for code, habit in sorted(cast.habits.items())},
        "answers_overtaken_by_timers": tally.overtaken, "stand_ins": sorted(cast.stand_ins), "commands": tally.commands,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in results],
    }
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    written.append(out / "summary.json")
    summary["_table"] = table(procs)
    summary["_written"] = [str(p) for p in written]
    return summary


def cmd_demo(args: argparse.Namespace) -> int:
    if args.instances < 1:
        print("error: --instances must be at least 1", file=sys.stderr)
        return 2
    directory = Path(args.directory)
    if not directory.is_file():
        print(f"error: no directory file at {directory}; give --directory PATH", file=sys.stderr)
        return 2
    out = Path(args.out).expanduser()
    foreign = entries_in_the_way(out)
    if foreign:
        print(f"error: --out {out} is not a folder an earlier demo run wrote; in the way: {', '.join(foreign)}. "
              "The demo empties its output folder: pick another --out (a new or empty folder).", file=sys.stderr)
        return 2
    began = perf_counter()
    try:
        summary = run_demo(out, args.instances, args.seed, directory, None if args.quiet else sys.stderr)
    except FileExistsError as err:  # the folder changed since the check above
        print(f"error: {err}", file=sys.stderr)
        return 2
    except WorkflowError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    elapsed = perf_counter() - began
    print(summary["_table"])
    print()
    delivered = summary["mail_delivered"]
    print("mail delivered: " + ", ".join(f"{k} {v}" for k, v in delivered.items()))
    print(f"October report: {summary['report']['due']} steps due, {summary['report']['on_time']} on time, "
          f"{summary['report']['late']} late, {summary['report']['open_overdue']} open past due")
    habits = summary["late_share_by_department"]
    print("the simulation's habits, each department's chance of answering late (an input, not a result): "
          + ", ".join(f"{k} {v:.0%}" for k, v in habits.items()))
    pauses = summary["clock_pauses"]
    print("procedure clocks paused: " + (", ".join(f"{n} in {state}" for state, n in pauses.items()) or "none"))
    if summary["stand_ins"]:
        print("acted by stand-ins (nobody in the directory, so nobody notified): " + "; ".join(summary["stand_ins"]))
    print()
    print("checks:")
    failed = 0
    for c in summary["checks"]:
        failed += not c["ok"]
        print(f"  [{'ok' if c['ok'] else 'FAILED'}] {c['name']}: {c['detail']}")
    print()
    print("written:")
    for path in summary["_written"]:
        print(f"  {path}")
    print(f"\n{summary['instances']} cases simulated in {elapsed:.1f} s")
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="simulate autumn 2026: deadlines, warnings, escalations, mail, report")
    p.add_argument("--out", default="demo-out",
                   help="output folder, emptied each run; refused when it holds anything an earlier demo run "
                   "did not write (default demo-out/)")
    p.add_argument("--instances", type=int, default=300, help="how many procedures to start (default 300)")
    p.add_argument("--seed", type=int, default=2026, help="random seed: the same seed gives the same figures")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--directory", default=str(_REPO / "notifiers" / "example_directory.yaml"),
                   help="people directory YAML (default: the example Guangxi / Liuzhou directory)")
    p.set_defaults(func=cmd_demo)
