"""The supervision report's query: every task SLA clock with its instance and its SLA events, as plain records.

One statement: task clocks joined with their instances and with the warnings, breach and highest escalation
level that had happened by the report's moment. What a step *means* (department, titles) is the engine's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import StorageUnavailable
from storage.rows import instance_variables
from storage.tables import clock_t, history_t, instance_t, outbox_t, pause_t, sla_event_t


@dataclass(frozen=True, slots=True)
class ClockRecord:
    """A task clock as it stood at the report's moment (later stops and events are not yet known)."""

    clock_id: int
    instance_id: str
    workflow_id: str
    version: str
    business_key: str
    variables: dict[str, Any]
    state: str
    calendar: str
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    warnings: int
    breached: bool
    escalation_level: int
    #: stopped because its instance was cancelled, not because the step was answered (see `stopped_by_cancel`)
    cancelled: bool = False
    #: standing still at the report's moment (a pausing state, or its instance suspended): its due time moves on
    paused: bool = False


def stopped_by_cancel(clock_status: str, stopped_at: datetime | None, state: str | None, instance_status: str,
                      instance_state: str, instance_updated_at: datetime) -> bool:
    """Whether a stopped task clock was stopped by cancelling its instance.

    Cancelling marks the clocks it stops `cancelled` (or `breached`, when the step was already past due). Rows
    written before that mark say `met`; they are told apart by their instance: cancelled, last changed at the
    very moment the clock stopped (the cancel), and waiting in the clock's own state (a cancel moves no state).
    """
    if stopped_at is None:
        return False
    if clock_status == "cancelled":
        return True
    return instance_status == "cancelled" and state == instance_state and stopped_at == instance_updated_at


def task_clock_records(db: Engine, as_of: datetime, due_by: datetime) -> list[ClockRecord]:
    """Task clocks started by `as_of` and due by `due_by` (inclusive), oldest due first.

    `due_by` is inclusive because a step whose last day ends a month is due at 24:00 of that day, the very moment
    the next month begins. A clock stopped after `as_of` reads as still open (and so not cancelled either), and
    SLA events after `as_of` are left out, so a report for a past month shows what the supervisor saw then; a
    clock reads as paused when a pause of its ledger, or its current one, covers `as_of`.
    """
    ev = sla_event_t.c
    events = (
        select(
            ev.clock_id,
            func.sum(case((ev.kind == "warning", 1), else_=0)).label("warnings"),
            func.sum(case((ev.kind == "breach", 1), else_=0)).label("breaches"),
            func.max(case((ev.kind == "escalation", ev.level), else_=0)).label("level"),
        )
        .where(ev.at <= as_of)
        .group_by(ev.clock_id)
        .subquery()
    )
    c, i = clock_t.c, instance_t.c
    stmt = (
        select(
            c.id, c.instance_id, i.workflow_id, i.version, i.business_key, i.variables, c.state, c.calendar,
            c.started_at, c.due_at, c.stopped_at, events.c.warnings, events.c.breaches, events.c.level,
            c.status, i.status.label("instance_status"), i.state.label("instance_state"), i.updated_at,
            _paused_at(as_of).label("paused"),
        )
        .select_from(clock_t.join(instance_t, i.id == c.instance_id).outerjoin(events, events.c.clock_id == c.id))
        .where(and_(c.scope == "task", c.started_at <= as_of, c.due_at <= due_by))
        .order_by(c.due_at, c.id)
    )
    try:
        with db.connect() as conn:
            rows = conn.execute(stmt).all()
    except SQLAlchemyError as err:
        raise StorageUnavailable(f"cannot read the SLA clocks for the report: {str(err).splitlines()[0]}") from err
    records = []
    for r in rows:
        stopped = r.stopped_at if r.stopped_at is not None and r.stopped_at <= as_of else None
        records.append(ClockRecord(
            clock_id=r.id, instance_id=r.instance_id, workflow_id=r.workflow_id, version=r.version,
            business_key=r.business_key, variables=instance_variables(r.instance_id, r.variables), state=r.state or "",
            calendar=r.calendar, started_at=r.started_at, due_at=r.due_at, stopped_at=stopped,
            warnings=int(r.warnings or 0), breached=bool(r.breaches), escalation_level=int(r.level or 0),
            cancelled=stopped_by_cancel(r.status, stopped, r.state, r.instance_status, r.instance_state,
                                        r.updated_at),
            paused=stopped is None and bool(r.paused),
        ))
    return records


def _paused_at(as_of: datetime) -> Any:
    """Whether the clock stood still at `as_of`: a pause of its ledger covers that moment, or its current pause
    had begun by then (so that a clock paused without a ledger row does not read as running)."""
    c, p = clock_t.c, pause_t.c
    in_ledger = (select(p.id).where(p.clock_id == c.id, p.started_at <= as_of,
                                    or_(p.ended_at.is_(None), p.ended_at > as_of)).exists())
    current = and_(c.status == "paused", c.paused_since.is_not(None), c.paused_since <= as_of)
    return or_(in_ledger, current)


# -- the demo's audit: everything the engine recorded about deadlines and messages -----------------------------

@dataclass(frozen=True, slots=True)
class SlaEventRecord:
    clock_id: int
    instance_id: str
    workflow_id: str
    kind: str  # warning / breach / escalation
    level: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ClockAudit:
    """Any SLA clock (task or procedure) with what its ladder needs: the due moment and its last day."""

    clock_id: int
    instance_id: str
    workflow_id: str
    version: str
    scope: str
    state: str | None
    calendar: str
    due_at: datetime
    last_day: str
    stopped_at: datetime | None
    breached: bool


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    id: int
    instance_id: str | None
    workflow_id: str | None
    kind: str
    status: str
    recipient: str
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    instance_id: str
    workflow_id: str
    business_key: str
    status: str
    outcome: str | None


def _all(db: Engine, stmt: Any, what: str) -> list[Any]:
    try:
        with db.connect() as conn:
            return list(conn.execute(stmt).all())
    except SQLAlchemyError as err:
        raise StorageUnavailable(f"cannot read {what}: {str(err).splitlines()[0]}") from err


def sla_event_records(db: Engine) -> list[SlaEventRecord]:
    e, i = sla_event_t.c, instance_t.c
    stmt = (select(e.clock_id, e.instance_id, i.workflow_id, e.kind, e.level, e.at)
            .select_from(sla_event_t.join(instance_t, i.id == e.instance_id)).order_by(e.id))
    return [SlaEventRecord(*row) for row in _all(db, stmt, "the SLA events")]


def clock_audits(db: Engine) -> list[ClockAudit]:
    c, i = clock_t.c, instance_t.c
    stmt = (select(c.id, c.instance_id, i.workflow_id, i.version, c.scope, c.state, c.calendar, c.due_at,
                   c.last_day, c.stopped_at, c.breached)
            .select_from(clock_t.join(instance_t, i.id == c.instance_id)).order_by(c.id))
    return [ClockAudit(r.id, r.instance_id, r.workflow_id, r.version, r.scope, r.state, r.calendar, r.due_at,
                       r.last_day, r.stopped_at, bool(r.breached)) for r in _all(db, stmt, "the SLA clocks")]


def outbox_records(db: Engine) -> list[OutboxRecord]:
    o, i = outbox_t.c, instance_t.c
    stmt = (select(o.id, o.instance_id, i.workflow_id, o.kind, o.status, o.recipient, o.dedupe_key)
            .select_from(outbox_t.outerjoin(instance_t, i.id == o.instance_id)).order_by(o.id))
    return [OutboxRecord(*row) for row in _all(db, stmt, "the outbox")]


def instance_records(db: Engine) -> list[InstanceRecord]:
    i = instance_t.c
    stmt = select(i.id, i.workflow_id, i.business_key, i.status, i.outcome).order_by(i.business_key)
    return [InstanceRecord(*row) for row in _all(db, stmt, "the instances")]


def timer_moves(db: Engine) -> dict[str, int]:
    """How many steps each workflow took by a timer (the engine's `_timer` event), by workflow."""
    h, i = history_t.c, instance_t.c
    stmt = (select(i.workflow_id, func.count()).select_from(history_t.join(instance_t, i.id == h.instance_id))
            .where(h.event == "_timer").group_by(i.workflow_id))
    return {wf: int(n) for wf, n in _all(db, stmt, "the history")}


def pause_counts(db: Engine) -> dict[str, int]:
    """How many times procedure clocks stood still, by the state they waited in (a coordination meeting...)."""
    p = pause_t.c
    stmt = select(p.state, func.count()).group_by(p.state).order_by(p.state)
    return {state: int(n) for state, n in _all(db, stmt, "the clock pauses")}


__all__ = [
    "ClockAudit", "ClockRecord", "InstanceRecord", "OutboxRecord", "SlaEventRecord", "clock_audits",
    "instance_records", "outbox_records", "pause_counts", "sla_event_records", "stopped_by_cancel",
    "task_clock_records", "timer_moves",
]
