"""The engine's tables as SQLModel classes: one metadata for the schema, Alembic and the Core queries.

Instances, their tamper-evident history, SLA clocks and the ledger of pauses, timers, the once-only SLA
events (warning / breach / escalation level), idempotency records, the stored definition versions, the
settings every process on the database must share and the workers that tick it. The outbox table belongs to
`storage.outbox`; importing it here puts it into the same metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.outbox import OutboxMessage  # the outbox table joins this metadata (and so the migrations)
from storage.types import UtcDateTime


class DefinitionRow(SQLModel, table=True):
    """One version of one workflow definition, with its YAML source so running instances can be reloaded."""

    __tablename__ = "definition"

    workflow_id: str = Field(primary_key=True, max_length=120)
    version: str = Field(primary_key=True, max_length=64)  # the full content hash
    source: str = Field(sa_type=Text)
    source_path: str = Field(default="", max_length=400)
    created_at: datetime = Field(sa_type=UtcDateTime)


class InstanceRow(SQLModel, table=True):
    """A running or finished procedure instance; `row_version` guards every update (optimistic lock).

    On SQLite the row lives in its primary key's B-tree (WITHOUT ROWID): one page per command, not two.
    """

    __tablename__ = "instance"
    __table_args__ = (
        UniqueConstraint("workflow_id", "business_key", name="uq_instance_business_key"),
        Index("ix_instance_status_workflow", "status", "workflow_id"),
        {"sqlite_with_rowid": False},
    )

    id: str = Field(primary_key=True, max_length=32)
    workflow_id: str = Field(max_length=120)
    version: str = Field(max_length=64)
    business_key: str = Field(max_length=200)
    state: str = Field(max_length=120)
    variables: str = Field(sa_type=Text)  # JSON object
    status: str = Field(max_length=16)  # running / completed / cancelled / suspended
    outcome: str | None = Field(default=None, max_length=60)
    row_version: int = 1
    history_seq: int = 0  # seq of the last history row
    history_hash: str = Field(default="", max_length=64)  # hash of the last history row
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    # the ids of its SLA clocks, each followed by a comma ("12,13,"): a command finds them by key, and no index of
    # the clocks by instance takes a page of every command that starts one
    clock_ids: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": text("''")})
    # the instance's number in this database, given at its start (SQLite: one past the highest in the history;
    # PostgreSQL: the sequence `instance_ordinal`): its steps' keys are `history_key(ordinal, seq)`
    ordinal: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": text("0")})


class HistoryRow(SQLModel, table=True):
    """One step of an instance; `hash` covers the row and the previous row's hash, so edits are detectable.

    Keyed by one integer, `history_key(instance ordinal, seq)`: an instance's steps are one range of keys, read in
    order, and a step written twice is refused. On SQLite the key is the rowid, so the rows live in a B-tree whose
    inner pages hold keys only: appending a step writes the last page, and a full page only adds one. (Keyed by
    (instance, step) in a WITHOUT ROWID table, as before, the inner pages held whole rows of a few hundred bytes:
    a dozen a page, and appends rebalanced three leaves and their parents every few commits.)
    """

    __tablename__ = "history"

    hid: int = Field(sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                      autoincrement=False))
    instance_id: str = Field(max_length=32)
    seq: int
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(max_length=120)
    event: str = Field(max_length=120)
    from_state: str | None = Field(default=None, max_length=120)
    to_state: str = Field(max_length=120)
    payload: str = Field(sa_type=Text)  # JSON object
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # the capacity the actor acted in then (engine.store.HistoryEntry), in the hash; NULL on steps written before
    actor_role: str | None = Field(default=None, max_length=120)
    actor_department: str | None = Field(default=None, max_length=120)
    # the history key that sealed `hash` (an HMAC; engine.history_keys), by its public id; NULL: plain SHA-256
    key_id: str | None = Field(default=None, max_length=16)


class HistoryKeyRow(SQLModel, table=True):
    """A history key that has sealed steps in this database, by its public id (never the key itself).

    An engine given no keyring refuses to write where a key is in use: its unsealed steps after sealed ones would
    read as a rewritten history.
    """

    __tablename__ = "history_key"

    id: str = Field(primary_key=True, max_length=16)
    first_sealed_at: datetime = Field(sa_type=UtcDateTime)


#: The bits of a history key that hold the step number: an instance has at most 2**20 - 1 steps.
STEP_BITS = 20
MAX_STEP = (1 << STEP_BITS) - 1


def history_key(ordinal: int, seq: int) -> int:
    """The key of an instance's step: its ordinal in the high bits, the step number in the low `STEP_BITS`."""
    return (ordinal << STEP_BITS) | seq


def steps_of(ordinal: Any) -> Any:
    """The condition on `history.hid` that picks the steps of the instance numbered `ordinal` (a column or a
    value): one range of the key, which both databases read in order.

    Its readers keep only the rows with the instance's id: a number is given again when someone removed every
    step of the newest instance (SQLite), and that instance must not read the next one's steps as its own. The
    id is compared after the read, not in the join, where SQLite would build a temporary index of the whole
    history on it."""
    first = ordinal * (1 << STEP_BITS)
    return history_t.c.hid.between(first, first + MAX_STEP)


#: The rule `ck_sla_clock_next_by_due` keeps on `sla_clock` (revision 0013); the same text on both databases.
NEXT_BY_DUE = ("stopped_at IS NOT NULL OR breached OR status = 'paused' "
               "OR (next_fire_at IS NOT NULL AND next_fire_at <= due_at)")


class SlaClockRow(SQLModel, table=True):
    """A deadline running on a task or on the whole procedure.

    An instance's clocks are found through the ids its row lists (`InstanceRow.clock_ids`), not an index on
    `instance_id`: such an index took one page of every command that starts a clock.
    """

    __tablename__ = "sla_clock"
    __table_args__ = (
        # every open clock that counts and is not yet breached has its next moment at or before its due time
        # (the due time is a moment of its ladder): such a clock past due is due to the worker too, so the
        # overdue listing finds it through the next-moment index and needs no index of all open clocks
        CheckConstraint(NEXT_BY_DUE, name="ck_sla_clock_next_by_due"),
        # partial indexes, kept as small as the work they serve; a stopped clock leaves them all.
        # The worker's claim (next_fire_at <= now), and with it the late clocks no tick has caught yet
        Index("ix_sla_clock_next", "next_fire_at", sqlite_where=text("next_fire_at IS NOT NULL"),
              postgresql_where=text("next_fire_at IS NOT NULL")),
        # the breached clocks still open, by due time: the rest of the overdue listing; a clock enters it
        # at its breach, so a command on a case on time writes no page of it
        Index("ix_sla_clock_breached", "due_at", sqlite_where=text("stopped_at IS NULL AND breached = 1"),
              postgresql_where=text("stopped_at IS NULL AND breached")),
        # the open clocks counted on a year without calendar data, for their recomputation when it comes
        Index("ix_sla_clock_provisional", "id", sqlite_where=text("stopped_at IS NULL AND provisional = 1"),
              postgresql_where=text("stopped_at IS NULL AND provisional")),
    )

    id: int | None = Field(default=None, primary_key=True)
    instance_id: str = Field(max_length=32)
    scope: str = Field(max_length=12)  # task / procedure
    state: str | None = Field(default=None, max_length=120)  # the task's state; None for the procedure
    calendar: str = Field(max_length=16)
    started_at: datetime = Field(sa_type=UtcDateTime)
    base_due_at: datetime = Field(sa_type=UtcDateTime)  # the due time before any pause
    due_at: datetime = Field(sa_type=UtcDateTime)
    last_day: str = Field(max_length=10)  # ISO date of the last working day
    paused_working_days: int = 0
    paused_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = Field(max_length=12)  # running / paused / met / breached / cancelled
    breached: bool = False  # the due time passed while it ran (kept when it is stopped later)
    provisional: bool = False
    stopped_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # only the next moment of the ladder is stored (NULL when paused, stopped or done): entering a task writes
    # one row and leaving it updates that row, with no timer rows to insert and cancel
    next_fire_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    next_kind: str | None = Field(default=None, max_length=12)  # warn / due / escalate
    next_level: int = 0
    claimed_by: str | None = Field(default=None, max_length=80)
    claim_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # the failed tries of the next moment and the last one's error, for the worker's back-off and the operator;
    # 0 and NULL otherwise (cleared when the moment fires or the clock moves on), so a row takes no more room
    fire_attempts: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    last_error: str | None = Field(default=None, sa_type=Text)


class SlaPauseRow(SQLModel, table=True):
    """The ledger of pauses of a clock: each pause and the working days it added to the due time."""

    __tablename__ = "sla_pause"

    id: int | None = Field(default=None, primary_key=True)
    clock_id: int = Field(index=True)
    state: str = Field(max_length=120)
    started_at: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    working_days: int | None = None


class TimerRow(SQLModel, table=True):
    """Something to do at a moment: warn / due / escalate / timer (a timer transition) / hook (a retry)."""

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "status", "fire_at"),
        Index("ix_timer_instance", "instance_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    instance_id: str = Field(max_length=32)
    clock_id: int | None = None
    kind: str = Field(max_length=12)
    level: int = 0  # warning index or escalation level
    state: str | None = Field(default=None, max_length=120)  # the state it belongs to (timer, hook)
    fire_at: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(default="pending", max_length=12)  # pending / held (instance suspended) / fired / cancelled
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=80)
    claim_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    fired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    # a timer transition's moment counted on a year without calendar data: recomputed, from `armed_at`, when
    # the year's file is added (`Engine.recompute_provisional`)
    provisional: bool = False
    armed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SlaEventRow(SQLModel, table=True):
    """A warning, breach or escalation level that happened: the unique key makes each happen once."""

    __tablename__ = "sla_event"
    __table_args__ = (UniqueConstraint("clock_id", "kind", "level", name="uq_sla_event_once"),)

    id: int | None = Field(default=None, primary_key=True)
    clock_id: int
    instance_id: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=12)  # warning / breach / escalation
    level: int = 0
    at: datetime = Field(sa_type=UtcDateTime)


class IdempotencyRow(SQLModel, table=True):
    """The first result of a command sent with an idempotency key, and the digest of that command."""

    __tablename__ = "idempotency"

    key: str = Field(primary_key=True, max_length=200)
    digest: str = Field(max_length=64)
    instance_id: str = Field(max_length=32)
    result: str = Field(sa_type=Text)  # JSON of the instance view returned
    created_at: datetime = Field(sa_type=UtcDateTime)


class DeploymentSettingRow(SQLModel, table=True):
    """A setting every process on this database must share, by name, as canonical JSON text: the first engine to
    open the database records its own, and one given another is refused (engine.policy_check)."""

    __tablename__ = "deployment_setting"

    name: str = Field(primary_key=True, max_length=60)
    value: str = Field(sa_type=Text)
    set_at: datetime = Field(sa_type=UtcDateTime)


class WorkerRow(SQLModel, table=True):
    """A worker process that ticks this database: when it began, when it last ticked and whether it stopped on
    purpose, so that `cli.py health` can tell a worker that died from one that was stopped. Keyed by a token each
    process draws, since replicas may share a worker id (one `--worker-id`, or host:pid in containers)."""

    __tablename__ = "worker"

    id: str = Field(primary_key=True, max_length=32)  # the process's token
    name: str = Field(max_length=200)  # the worker id its claims carry (Engine.worker_id), for people to read
    started_at: datetime = Field(sa_type=UtcDateTime)  # its first tick
    last_tick_at: datetime = Field(sa_type=UtcDateTime)
    ticks: int = 0
    stopped_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # set by a worker stopping on purpose


METADATA = SQLModel.metadata

definition_t = DefinitionRow.__table__  # type: ignore[attr-defined]
instance_t = InstanceRow.__table__  # type: ignore[attr-defined]
history_t = HistoryRow.__table__  # type: ignore[attr-defined]
history_key_t = HistoryKeyRow.__table__  # type: ignore[attr-defined]
clock_t = SlaClockRow.__table__  # type: ignore[attr-defined]
pause_t = SlaPauseRow.__table__  # type: ignore[attr-defined]
timer_t = TimerRow.__table__  # type: ignore[attr-defined]
sla_event_t = SlaEventRow.__table__  # type: ignore[attr-defined]
idempotency_t = IdempotencyRow.__table__  # type: ignore[attr-defined]
outbox_t = OutboxMessage.__table__  # type: ignore[attr-defined]
deployment_setting_t = DeploymentSettingRow.__table__  # type: ignore[attr-defined]
worker_t = WorkerRow.__table__  # type: ignore[attr-defined]
