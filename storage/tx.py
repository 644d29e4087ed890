"""`SqlStoreTx`: the reads and writes of one engine command inside one database transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine.errors import ConcurrentUpdate, DuplicateBusinessKey
from engine.store import ClockView, HistoryEntry, InstanceView, NewClock, NewTimer, OutboxItem, TimerView
from storage.outbox import insert_outbox_ignore_duplicates
from storage.rows import clock_view, instance_view, timer_view
from storage.tables import clock_t, history_t, idempotency_t, instance_t, pause_t, sla_event_t, timer_t

log = logging.getLogger(__name__)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def insert_ignoring(
    conn: Connection, dialect: str, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> int:
    """INSERT rows, silently skipping any that would repeat a unique key; returns how many went in."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    count = 0
    for row in rows:
        stmt = module.insert(table).values(**row).on_conflict_do_nothing(index_elements=list(keys))
        # rowcount is -1 on PostgreSQL once RETURNING is involved: count the returned rows instead
        count += len(conn.execute(stmt.returning(table.c[keys[0]])).all())
    return count


def _instance_values(inst: InstanceView) -> dict[str, Any]:
    return {
        "state": inst.state, "variables": dumps(inst.variables), "status": inst.status, "outcome": inst.outcome,
        "row_version": inst.row_version, "history_seq": inst.history_seq, "history_hash": inst.history_hash,
        "last_error": inst.last_error, "updated_at": inst.updated_at,
    }


class SqlStoreTx:
    """One command's rows (see `engine.store.StoreTx` for the contract of each method)."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def get_instance(self, instance_id: str) -> InstanceView | None:
        row = self.conn.execute(select(instance_t).where(instance_t.c.id == instance_id)).first()
        return instance_view(row) if row is not None else None

    def find_instance(self, workflow_id: str, business_key: str) -> InstanceView | None:
        c = instance_t.c
        row = self.conn.execute(
            select(instance_t).where((c.workflow_id == workflow_id) & (c.business_key == business_key))
        ).first()
        return instance_view(row) if row is not None else None

    def insert_instance(self, inst: InstanceView) -> None:
        values = _instance_values(inst)
        values.update(id=inst.id, workflow_id=inst.workflow_id, version=inst.version,
                      business_key=inst.business_key, created_at=inst.created_at)
        # no SAVEPOINT: pysqlite would let it stand for the whole transaction and commit it on release
        try:
            self.conn.execute(insert(instance_t).values(**values))
        except IntegrityError as err:
            # this transaction is spoilt (PostgreSQL aborts it): name the holder from a connection of its own
            with self.conn.engine.connect() as other_conn:
                other = SqlStoreTx(other_conn, self.dialect).find_instance(inst.workflow_id, inst.business_key)
            raise DuplicateBusinessKey(inst.workflow_id, inst.business_key, other.id if other else "?") from err

    def update_instance(self, inst: InstanceView, expected_version: int) -> None:
        c = instance_t.c
        result = self.conn.execute(
            update(instance_t)
            .where((c.id == inst.id) & (c.row_version == expected_version))
            .values(**_instance_values(inst))
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(inst.id, expected_version)

    def append_history(self, entries: Sequence[HistoryEntry]) -> None:
        if not entries:
            return
        self.conn.execute(
            insert(history_t),
            [
                {"instance_id": e.instance_id, "seq": e.seq, "at": e.at, "actor": e.actor, "event": e.event,
                 "from_state": e.from_state, "to_state": e.to_state, "payload": dumps(e.payload),
                 "prev_hash": e.prev_hash, "hash": e.hash}
                for e in entries
            ],
        )

    def insert_clock(self, clock: NewClock) -> int:
        result = self.conn.execute(
            insert(clock_t).values(
                instance_id=clock.instance_id, scope=clock.scope, state=clock.state, calendar=clock.calendar,
                started_at=clock.started_at, base_due_at=clock.due_at, due_at=clock.due_at,
                last_day=clock.last_day, paused_working_days=0, status="running", breached=False,
                provisional=clock.provisional,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def update_clock(self, clock: ClockView) -> None:
        self.conn.execute(
            update(clock_t).where(clock_t.c.id == clock.id).values(
                base_due_at=clock.base_due_at, due_at=clock.due_at, last_day=clock.last_day,
                paused_working_days=clock.paused_working_days, paused_since=clock.paused_since,
                status=clock.status, breached=clock.breached, provisional=clock.provisional,
                stopped_at=clock.stopped_at,
            )
        )

    def open_clocks(self, instance_id: str) -> list[ClockView]:
        c = clock_t.c
        stmt = select(clock_t).where((c.instance_id == instance_id) & c.stopped_at.is_(None))
        return [clock_view(r) for r in self.conn.execute(stmt.order_by(c.id))]

    def get_clock(self, clock_id: int) -> ClockView | None:
        row = self.conn.execute(select(clock_t).where(clock_t.c.id == clock_id)).first()
        return clock_view(row) if row is not None else None

    def insert_pause(self, clock_id: int, state: str, started_at: datetime) -> None:
        self.conn.execute(insert(pause_t).values(clock_id=clock_id, state=state, started_at=started_at))

    def close_pause(self, clock_id: int, ended_at: datetime, working_days: int) -> None:
        c = pause_t.c
        self.conn.execute(
            update(pause_t)
            .where((c.clock_id == clock_id) & c.ended_at.is_(None))
            .values(ended_at=ended_at, working_days=working_days)
        )

    def insert_timers(self, timers: Sequence[NewTimer]) -> None:
        if not timers:
            return
        self.conn.execute(
            insert(timer_t),
            [
                {"instance_id": t.instance_id, "clock_id": t.clock_id, "kind": t.kind, "level": t.level,
                 "state": t.state, "fire_at": t.fire_at, "status": "pending", "attempts": t.attempts,
                 "last_error": t.last_error}
                for t in timers
            ],
        )

    def cancel_timers(self, instance_id: str, *, clock_id: int | None = None, kinds: Sequence[str] = ()) -> None:
        c = timer_t.c
        where = (c.instance_id == instance_id) & (c.status == "pending")
        if clock_id is not None:
            where &= c.clock_id == clock_id
        if kinds:
            where &= c.kind.in_(tuple(kinds))
        self.conn.execute(update(timer_t).where(where).values(status="cancelled"))

    def mark_timer_fired(self, timer_id: int, now: datetime) -> TimerView | None:
        c = timer_t.c
        result = self.conn.execute(
            update(timer_t).where((c.id == timer_id) & (c.status == "pending")).values(status="fired", fired_at=now)
        )
        if result.rowcount != 1:
            return None
        row = self.conn.execute(select(timer_t).where(c.id == timer_id)).first()
        return timer_view(row) if row is not None else None

    def record_sla_event(self, clock_id: int, instance_id: str, kind: str, level: int, at: datetime) -> bool:
        row = {"clock_id": clock_id, "instance_id": instance_id, "kind": kind, "level": level, "at": at}
        return insert_ignoring(self.conn, self.dialect, sla_event_t, [row], ("clock_id", "kind", "level")) == 1

    def insert_outbox(self, items: Sequence[OutboxItem], now: datetime) -> int:
        if not items:
            return 0
        rows = [
            {"created_at": now, "instance_id": i.instance_id, "channel": i.channel, "recipient": i.recipient,
             "recipient_address": i.recipient_address, "template": i.template, "data": dict(i.data),
             "kind": i.kind, "dedupe_key": i.dedupe_key, "status": "pending", "attempts": 0,
             "next_attempt_at": now}
            for i in items
        ]
        return insert_outbox_ignore_duplicates(self.conn, rows)

    def get_idempotency(self, key: str) -> tuple[str, str] | None:
        c = idempotency_t.c
        row = self.conn.execute(select(c.digest, c.result).where(c.key == key)).first()
        return (row.digest, row.result) if row is not None else None

    def put_idempotency(self, key: str, digest: str, instance_id: str, result: str, now: datetime) -> None:
        self.conn.execute(
            insert(idempotency_t).values(key=key, digest=digest, instance_id=instance_id, result=result, created_at=now)
        )
