"""The daily digest: for each supervisor, one message per channel listing everything overdue in their scope.

The engine supplies the overdue items (dicts with the message data keys); the rows are enqueued with the
dedupe key `daily:{date}:{person}:{channel}`, so running it twice on one day enqueues nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from engine.ports import Directory, Person
from storage.outbox import Executor, insert_outbox_ignore_duplicates

Scope = Callable[[Person, Mapping[str, Any]], bool]


def _everything(person: Person, item: Mapping[str, Any]) -> bool:
    return True


def build_daily_digests(
    directory: Directory,
    items: Sequence[Mapping[str, Any]],
    day: date,
    now: datetime,
    *,
    base_role: str = "data_supervisor",
    channels: Collection[str] | None = None,
    in_scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """Outbox rows of today's digests: one per supervisor and channel with a contact, skipping empty ones.

    Scope: `in_scope(person, item)`, else the directory's own `in_scope` when it has one, else everything.
    """
    scope: Scope = in_scope or getattr(directory, "in_scope", None) or _everything
    ordered = sorted(items, key=lambda i: (str(i.get("due") or ""), str(i.get("business_key") or "")))
    rows: list[dict[str, Any]] = []
    for person in directory.people(base_role, None):
        mine = [dict(item) for item in ordered if scope(person, item)]
        if not mine:
            continue
        data = {"kind": "digest", "date": day.isoformat(), "count": len(mine), "items": mine,
                "recipient_name": person.name}
        rows.extend(person_rows(person, now, "daily_digest", data, "digest", f"daily:{day.isoformat()}", channels))
    return rows


def person_rows(person: Person, now: datetime, template: str, data: Mapping[str, Any], kind: str, key: str,
                channels: Collection[str] | None = None) -> list[dict[str, Any]]:
    """One message to `person` on each channel they have an address on (of `channels`, when given), each with
    the dedupe key `{key}:{person}:{channel}`: what a daily message to everyone holding a role is made of."""
    return [{"created_at": now, "channel": channel, "recipient": person.id, "recipient_address": address,
             "template": template, "data": dict(data), "kind": kind, "dedupe_key": f"{key}:{person.id}:{channel}"}
            for channel, address in sorted(person.contacts.items())
            if address and (channels is None or channel in channels)]


def enqueue_daily_digests(
    executor: Executor,
    directory: Directory,
    items: Sequence[Mapping[str, Any]],
    day: date,
    now: datetime,
    **options: Any,
) -> int:
    """Build today's digests and insert them in the caller's transaction; answer how many were new."""
    return insert_outbox_ignore_duplicates(executor, build_daily_digests(directory, items, day, now, **options))


__all__ = ["build_daily_digests", "enqueue_daily_digests", "person_rows"]
