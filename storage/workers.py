"""The workers' record of their ticks: one row per worker process, written at each tick and when the worker stops
on purpose, so that a check can tell a database that no worker ticks, and why, before any deadline is missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from storage.tables import worker_t

#: A worker not heard from for this long is forgotten at another worker's start: a fleet restarted every day
#: leaves a row per process, and the check needs only the recent ones.
FORGET_AFTER = timedelta(days=30)
#: The longest worker id kept for display (the id itself may be longer: claims carry their own copy).
NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    """A worker process as its last tick left it: `id` its token, `name` its worker id; `stopped_at` is set when
    it stopped on purpose (SIGTERM, Ctrl-C)."""

    id: str
    name: str
    started_at: datetime
    last_tick_at: datetime
    ticks: int
    stopped_at: datetime | None


def record_tick(conn: Connection, insert: Any, token: str, name: str, at: datetime, *, first: bool) -> None:
    """Record a tick at `at` of the process drawing `token`, on `conn`; `insert` is the dialect's INSERT of the
    table (with ON CONFLICT). A process's first tick also forgets the workers not heard from since FORGET_AFTER."""
    c = worker_t.c
    if first:
        conn.execute(delete(worker_t).where(c.last_tick_at < at - FORGET_AFTER))
    stmt = insert.values(id=token, name=name[:NAME_LENGTH], started_at=at, last_tick_at=at, ticks=1, stopped_at=None)
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
        "last_tick_at": at, "ticks": c.ticks + 1, "stopped_at": None}))


def record_stop(conn: Connection, token: str, at: datetime) -> None:
    """Mark the process drawing `token` as stopped on purpose at `at` (its row is kept: the check says when the
    last one stopped)."""
    conn.execute(update(worker_t).where(worker_t.c.id == token).values(stopped_at=at))


def read_workers(conn: Connection) -> tuple[WorkerSeen, ...]:
    """Every worker on record, the one that ticked last first."""
    c = worker_t.c
    rows = conn.execute(select(worker_t).order_by(c.last_tick_at.desc(), c.id))
    return tuple(WorkerSeen(r.id, r.name, r.started_at, r.last_tick_at, r.ticks, r.stopped_at) for r in rows)


__all__ = ["FORGET_AFTER", "NAME_LENGTH", "WorkerSeen", "read_workers", "record_stop", "record_tick"]
