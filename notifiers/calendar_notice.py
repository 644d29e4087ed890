"""The calendar notice (日历数据提醒): the platform's operators are told, once a working day, that a year's holiday
schedule is missing and from which day deadlines that need it are refused, until the file is added.

The engine supplies the facts (engine.horizon_job); the rows go to the outbox with the dedupe key
`calendar:{date}:{person}:{channel}`, so a second worker, or a restart, on the same day enqueues nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from engine.ports import Directory
from notifiers.daily_digest import person_rows
from storage.outbox import Executor, insert_outbox_ignore_duplicates

TEMPLATE = "calendar_horizon"


def build_calendar_notices(directory: Directory, facts: Mapping[str, Any], day: date, now: datetime, *,
                           base_role: str) -> list[dict[str, Any]]:
    """Outbox rows of today's notice: one per holder of `base_role` and channel with a contact."""
    rows: list[dict[str, Any]] = []
    for person in directory.people(base_role, None):
        data = {**facts, "kind": "calendar", "date": day.isoformat(), "recipient_name": person.name}
        rows.extend(person_rows(person, now, TEMPLATE, data, "warning", f"calendar:{day.isoformat()}"))
    return rows


def enqueue_calendar_notices(executor: Executor, directory: Directory, facts: Mapping[str, Any], day: date,
                             now: datetime, **options: Any) -> int:
    """Build today's notices and insert them in the caller's transaction; answer how many were new."""
    return insert_outbox_ignore_duplicates(executor, build_calendar_notices(directory, facts, day, now, **options))


def notice_facts(items: Sequence[Mapping[str, Any]], missing: Sequence[str], first: str, count: int) -> dict[str, Any]:
    """The message data: the first day refused, how many deadlines are refused soon, the files to add, and the
    deadlines themselves (workflow_name, label, period, refused_from)."""
    return {"first_refused": first, "count": count, "missing": list(missing), "missing_files": "、".join(missing),
            "items": [dict(i) for i in items]}


__all__ = ["TEMPLATE", "build_calendar_notices", "enqueue_calendar_notices", "notice_facts"]
