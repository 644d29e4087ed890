"""The workers' record of their ticks: one row per worker id, written at each tick and when a worker stops on
purpose, so that a check can tell a database that no worker ticks, and why, before any deadline is missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from storage.tables import worker_t

#: A worker not heard from for this long is forgotten at another worker's start: a fleet restarted every day
#: leaves a row per process id, and the check needs only the recent ones.
FORGET_AFTER = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    """A worker as its last tick left it: `stopped_at` is set when it stopped on purpose (SIGTERM, Ctrl-C)."""

    id: str
    started_at: datetime
    last_tick_at: datetime
    ticks: int
    stopped_at: datetime | None


def record_tick(conn: Connection, insert: Any, worker_id: str, at: datetime, *, first: bool) -> None:
    """Record a tick of `worker_id` at `at`, on `conn`. `insert` is the dialect's INSERT of the table (with ON
    CONFLICT). The first tick of a process starts its row afresh (a process id used again after a restart is a new
    worker), and forgets the workers not heard from since FORGET_AFTER."""
    c = worker_t.c
    stmt = insert.values(id=worker_id, started_at=at, last_tick_at=at, ticks=1, stopped_at=None)
    if first:
        conn.execute(delete(worker_t).where(c.last_tick_at < at - FORGET_AFTER))
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
            "started_at": at, "last_tick_at": at, "ticks": 1, "stopped_at": None})
    else:
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
            "last_tick_at": at, "ticks": c.ticks + 1, "stopped_at": None})
    conn.execute(stmt)


def record_stop(conn: Connection, worker_id: str, at: datetime) -> None:
    """Mark `worker_id` as stopped on purpose at `at` (its row is kept: the check says when the last one stopped)."""
    conn.execute(update(worker_t).where(worker_t.c.id == worker_id).values(stopped_at=at))


def read_workers(conn: Connection) -> tuple[WorkerSeen, ...]:
    """Every worker on record, the one that ticked last first."""
    c = worker_t.c
    rows = conn.execute(select(worker_t).order_by(c.last_tick_at.desc(), c.id))
    return tuple(WorkerSeen(r.id, r.started_at, r.last_tick_at, r.ticks, r.stopped_at) for r in rows)


__all__ = ["FORGET_AFTER", "WorkerSeen", "read_workers", "record_stop", "record_tick"]
