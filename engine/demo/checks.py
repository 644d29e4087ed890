"""The demo's own checks: the mail really delivered matches the outbox and the SLA events, and every breached
clock climbed each rung of its escalation ladder that its time reached exactly once (none doubled, none missing).

The ladder is recomputed here from the calendar, not read back from the engine's timers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from calendars import get_calendar
from engine.clock import SHANGHAI
from engine.spec import DurationUnit, SlaSpec

ALERT_KINDS = ("warning", "breach", "escalation")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def mail_files(folder: Path) -> list[tuple[str, str]]:
    """(kind, dedupe key) of every delivered .eml under `folder`, read from its headers."""
    parser = BytesHeaderParser(policy=policy.default)  # decodes the RFC 2047 words long keys are folded into
    out: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*.eml")):
        with path.open("rb") as fh:
            headers = parser.parse(fh)
        key = "".join(str(headers.get("X-Shixian-Dedupe-Key", "")).split())
        out.append((str(headers.get("X-Shixian-Kind", "")), key))
    return out


def check_mail(files: Sequence[tuple[str, str]], outbox: Sequence[Any]) -> list[Check]:
    """Files by kind against outbox rows marked sent; nothing left pending or dead."""
    sent = [m for m in outbox if m.status == "sent"]
    by_file, by_outbox = Counter(k for k, _ in files), Counter(m.kind for m in sent)
    keys_file, keys_sent = {k for _, k in files}, {m.dedupe_key for m in sent}
    checks = [Check(
        "mail files match the outbox", by_file == by_outbox and keys_file == keys_sent,
        "files " + _kinds(by_file) + "; outbox sent " + _kinds(by_outbox)
        + ("" if keys_file == keys_sent else f"; {len(keys_sent - keys_file)} sent without a file, "
                                             f"{len(keys_file - keys_sent)} files not in the outbox"),
    )]
    stuck = Counter(m.status for m in outbox if m.status != "sent")
    checks.append(Check("every message delivered", not stuck,
                        "none pending or dead" if not stuck else _kinds(stuck)))
    return checks


def check_events_have_mail(events: Sequence[Any], outbox: Sequence[Any]) -> Check:
    """Each warning, breach and escalation level reached its recipients; no alert without its event."""
    prefixes: Counter[str] = Counter()
    per_recipient: Counter[str] = Counter()
    for m in outbox:
        if m.kind in ALERT_KINDS and m.status in ("sent", "digested"):
            prefix = ":".join(m.dedupe_key.split(":")[:4])
            prefixes[prefix] += 1
            per_recipient[f"{prefix}:{m.recipient}"] += 1
    wanted = {f"sla:{e.clock_id}:{e.kind}:{e.level}" for e in events}
    silent = sorted(wanted - set(prefixes))
    orphans = sorted(set(prefixes) - wanted)
    doubled = sorted(k for k, n in per_recipient.items() if n > 1)
    ok = not silent and not orphans and not doubled
    detail = (f"{len(wanted)} SLA events, {sum(prefixes.values())} alert messages"
              + (f"; events without mail: {silent[:5]}" if silent else "")
              + (f"; mail without event: {orphans[:5]}" if orphans else "")
              + (f"; sent twice to one person: {doubled[:5]}" if doubled else ""))
    return Check("every SLA event delivered once per recipient", ok, detail)


def check_events_told(told: Counter[str], events: Sequence[Any]) -> Check:
    """What subscribers were told (warnings, breaches, escalations) equals what the database recorded."""
    stored = Counter(e.kind for e in events)
    ok = all(told.get(k, 0) == stored.get(k, 0) for k in ALERT_KINDS)
    return Check("subscribers told of every SLA event", ok, f"told {_kinds(told)}; recorded {_kinds(stored)}")


def expected_levels(sla: SlaSpec, calendar: Any, due_at: datetime, last_day: date, until: datetime) -> set[int]:
    """The escalation levels whose moment (the due time, or the end of the Nth working / calendar day after
    the last day) lies at or before `until`."""
    reached: set[int] = set()
    for level in sla.escalations:
        amount, unit = level.after.amount, level.after.unit
        if amount == 0:
            moment = due_at
        elif unit is DurationUnit.WORKING_DAYS:
            moment = _end_of(calendar.add_working_days(last_day, amount))
        elif unit is DurationUnit.CALENDAR_DAYS:
            moment = _end_of(last_day + timedelta(days=amount))
        else:
            continue  # working hours: the shipped ladders use none
        if moment <= until:
            reached.add(level.level)
    return reached


def check_ladders(clocks: Iterable[Any], events: Sequence[Any], specs: Any, until: datetime) -> Check:
    """Every breached clock: one breach, and exactly the escalation levels its time reached; others none."""
    breaches: Counter[int] = Counter()
    levels: dict[int, Counter[int]] = {}
    for e in events:
        if e.kind == "breach":
            breaches[e.clock_id] += 1
        elif e.kind == "escalation":
            levels.setdefault(e.clock_id, Counter())[e.level] += 1
    calendars: dict[str, Any] = {}
    problems: list[str] = []
    breached = 0
    for c in clocks:
        got = levels.get(c.clock_id, Counter())
        if not c.breached:
            if got or breaches[c.clock_id]:
                problems.append(f"clock {c.clock_id}: alerts on a clock that never breached")
            continue
        breached += 1
        spec = specs.get_version(c.workflow_id, c.version).spec
        sla = spec.sla if c.scope == "procedure" else spec.states[c.state].sla
        cal = calendars.setdefault(c.calendar, get_calendar(c.calendar, allow_provisional=True))
        end = min(c.stopped_at, until) if c.stopped_at is not None else until
        want = expected_levels(sla, cal, c.due_at, date.fromisoformat(c.last_day), end)
        if breaches[c.clock_id] != 1:
            problems.append(f"clock {c.clock_id}: {breaches[c.clock_id]} breaches")
        if set(got) != want or any(n != 1 for n in got.values()):
            problems.append(f"clock {c.clock_id} ({c.workflow_id} {c.state or 'procedure'}): levels "
                            f"{dict(sorted(got.items()))}, expected {sorted(want)} once each")
    detail = f"{breached} breached clocks, {sum(sum(v.values()) for v in levels.values())} escalations"
    if problems:
        detail += "; " + "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
    return Check("every breach escalated once per level reached", not problems, detail)


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def _kinds(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"
