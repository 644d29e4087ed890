"""What is due in a database and not yet done: SLA moments, timers and messages whose time has come, counted
with the oldest of each, and the messages given up on; what waits for a worker later; and the workers that tick
the database. Read through the indexes the worker claims by, so a check costs little on a large database while
little is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from storage.tables import clock_t, outbox_t, timer_t
from storage.workers import WorkerSeen, read_workers


@dataclass(frozen=True, slots=True)
class Backlog:
    """Work due at `now` that no worker has done yet (see engine.backlog for what it means)."""

    now: datetime
    #: SLA moments (warnings, breaches, escalation levels) whose time has come, and the earliest of those not
    #: yet tried
    moments_due: int
    oldest_moment: datetime | None
    #: of those, the moments that failed and wait for their back-off before the next try
    moments_failing: int
    #: timer transitions and hook retries whose time has come, and the earliest
    timers_due: int
    oldest_timer: datetime | None
    #: messages waiting to be sent whose time has come (a claim that expired counts again), and the earliest
    messages_due: int
    oldest_message: datetime | None
    #: messages given up on after their last try (`outbox dead`, `outbox retry`)
    messages_dead: int
    #: the earliest SLA moment, timer or message waiting for a worker, due or not (a message being sent counts
    #: from when its claim runs out); None when nothing does
    next_work: datetime | None
    #: the workers on record (storage.workers), the one that ticked last first
    workers: tuple[WorkerSeen, ...]

    @property
    def oldest_sweep_work(self) -> datetime | None:
        """The earliest moment or timer not yet tried: what a ticking worker would have taken first."""
        return _earliest(self.oldest_moment, self.oldest_timer)


def read_backlog(conn: Connection, now: datetime) -> Backlog:
    """The backlog at `now`, read on `conn`; the moments come back aware, in UTC (the columns' type)."""
    c, t, o = clock_t.c, timer_t.c, outbox_t.c
    moments = conn.execute(
        select(func.count(), func.min(case((c.fire_attempts == 0, c.next_fire_at))),
               func.count(case((c.fire_attempts > 0, 1))))
        .where(c.next_fire_at.is_not(None) & (c.next_fire_at <= now) & c.stopped_at.is_(None))).one()
    timers = conn.execute(
        select(func.count(), func.min(t.fire_at)).where((t.status == "pending") & (t.fire_at <= now))).one()
    pending = conn.execute(
        select(func.count(), func.min(o.next_attempt_at))
        .where((o.status == "pending") & (o.next_attempt_at <= now))).one()
    stuck = conn.execute(
        select(func.count(), func.min(o.claim_expires_at))
        .where((o.status == "sending") & (o.claim_expires_at <= now))).one()
    dead = conn.execute(select(func.count()).where(o.status == "dead")).scalar_one()
    # each the first entry of the index its worker claims by
    armed = conn.execute(select(c.next_fire_at).where(c.next_fire_at.is_not(None) & c.stopped_at.is_(None))
                         .order_by(c.next_fire_at).limit(1)).scalar()
    waiting = conn.execute(select(t.fire_at).where(t.status == "pending").order_by(t.fire_at).limit(1)).scalar()
    unsent = conn.execute(select(o.next_attempt_at).where(o.status == "pending").order_by(o.next_attempt_at)
                          .limit(1)).scalar()
    sending = conn.execute(select(func.min(o.claim_expires_at)).where(o.status == "sending")).scalar()
    return Backlog(
        now=now, moments_due=moments[0], oldest_moment=moments[1], moments_failing=moments[2],
        timers_due=timers[0], oldest_timer=timers[1], messages_due=pending[0] + stuck[0],
        oldest_message=_earliest(pending[1], stuck[1]), messages_dead=dead,
        next_work=_earliest(_earliest(armed, waiting), _earliest(unsent, sending)), workers=read_workers(conn))


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((x for x in (a, b) if x is not None), default=None)


__all__ = ["Backlog", "read_backlog"]
