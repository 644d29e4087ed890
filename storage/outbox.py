"""The outbox table and its dispatch queries: messages written with a state change, sent after commit.

The engine inserts rows (`insert_outbox_ignore_duplicates`) inside its own transaction; the dispatcher in
`notifiers.dispatcher` claims, sends and records them with the functions below. Times are stored in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Index, Integer, String, and_, case, func, literal, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from engine.errors import PayloadInvalid
from storage.types import UtcDateTime

#: Message kinds the engine writes (`digest` is written by the dispatcher itself).
KINDS = ("notification", "warning", "breach", "escalation", "digest")
#: Statuses: pending -> sending -> sent | pending (retry) | dead; pending -> digested (folded into a digest).
STATUSES = ("pending", "sending", "sent", "dead", "digested")


class OutboxMessage(SQLModel, table=True):
    """One message to one recipient on one channel; `dedupe_key` makes a repeated write or send recognisable."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    instance_id: str | None = Field(default=None, index=True)
    channel: str
    recipient: str
    recipient_address: str
    template: str
    data: str
    kind: str
    dedupe_key: str = Field(sa_column=Column(String, unique=True, nullable=False))
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_error: str | None = None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    digest_id: int | None = None
    #: of a message a robot takes in several parts, those delivered already: a retry posts the rest
    parts_sent: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))

    def payload(self) -> dict[str, Any]:
        """The message's data as a dict (an unreadable payload yields an empty dict)."""
        try:
            value = json.loads(self.data)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]

_REQUIRED = ("created_at", "channel", "recipient", "recipient_address", "template", "data", "kind", "dedupe_key")
_OPTIONAL: Mapping[str, Any] = {
    "instance_id": None,
    "status": "pending",
    "attempts": 0,
    "next_attempt_at": None,  # defaults to created_at
    "last_error": None,
    "claimed_by": None,
    "claim_expires_at": None,
    "sent_at": None,
    "digest_id": None,
    "parts_sent": 0,
}

Executor = Connection | Session


def _dialect_name(executor: Executor) -> str:
    if isinstance(executor, Connection):
        return executor.dialect.name
    return executor.get_bind().dialect.name


def _normalise_row(index: int, row: Mapping[str, Any]) -> dict[str, Any]:
    where = f"outbox row {index}"
    unknown = sorted(set(row) - set(_REQUIRED) - set(_OPTIONAL) - {"id"})
    if unknown:
        raise PayloadInvalid(unknown[0], f"one of the outbox columns {', '.join(_REQUIRED)}", row[unknown[0]], where)
    out: dict[str, Any] = {}
    for key in _REQUIRED:
        if key not in row or row[key] is None:
            raise PayloadInvalid(key, "a value (the column is required)", None, where)
        out[key] = row[key]
    for key, default in _OPTIONAL.items():
        out[key] = row.get(key, default)
    if isinstance(out["data"], Mapping):
        out["data"] = json.dumps(out["data"], ensure_ascii=False, sort_keys=True, default=str)
    elif not isinstance(out["data"], str):
        raise PayloadInvalid("data", "a JSON text or a dict", out["data"], where)
    if out["kind"] not in KINDS:
        raise PayloadInvalid("kind", f"one of {', '.join(KINDS)}", out["kind"], where)
    if out["status"] not in STATUSES:
        raise PayloadInvalid("status", f"one of {', '.join(STATUSES)}", out["status"], where)
    for key in ("created_at", "next_attempt_at", "claim_expires_at", "sent_at"):
        value = out[key]
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise PayloadInvalid(key, "a timezone-aware datetime", value, where)
    if out["next_attempt_at"] is None:
        out["next_attempt_at"] = out["created_at"]
    return out


def insert_outbox_ignore_duplicates(executor: Executor, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the rows, skipping any whose dedupe_key is already there; answer how many were inserted.

    Runs in the caller's transaction (a Connection or Session), so messages commit with the state change.
    `data` may be a dict (stored as JSON); `next_attempt_at` defaults to `created_at`, `status` to pending.
    """
    if not rows:
        return 0
    values = [_normalise_row(i, row) for i, row in enumerate(rows)]
    dialect = _dialect_name(executor)
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(TABLE).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(TABLE).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    else:
        raise PayloadInvalid("dialect", "sqlite or postgresql", dialect, where="outbox database")
    # RETURNING counts the rows really inserted on both dialects (rowcount is -1 for batched inserts on psycopg)
    result = executor.execute(stmt.returning(TABLE.c.id))
    return len(result.all())


# ---- dispatch queries -------------------------------------------------------------------------------------------

_C = TABLE.c


def _claimable(now: datetime) -> Any:
    """Pending and due, or sending with a lease that has run out (its dispatcher died)."""
    return or_(
        and_(_C.status == "pending", _C.next_attempt_at <= now),
        and_(_C.status == "sending", _C.claim_expires_at <= now),
    )


@dataclass(frozen=True, slots=True)
class Hold:
    """Messages of `kinds` written after `since` stay pending: a burst another worker may still be writing,
    kept back so it can be folded into one digest. Only groups that fold are held: whether a group folds is
    `pairs[(recipient, channel)]`, else `recipients[recipient]`, else `default`."""

    kinds: tuple[str, ...]
    since: datetime
    default: bool = True
    recipients: Mapping[str, bool] = field(default_factory=dict)
    pairs: Mapping[tuple[str, str], bool] = field(default_factory=dict)


def _held(hold: Hold) -> Any:
    """The condition of a held row, or None when no group folds."""
    whens: list[tuple[Any, Any]] = [
        (and_(_C.recipient == recipient, _C.channel == channel), literal(int(folds)))
        for (recipient, channel), folds in hold.pairs.items()
    ]
    whens += [(_C.recipient == recipient, literal(int(folds))) for recipient, folds in hold.recipients.items()]
    if not whens and not hold.default:
        return None
    young = and_(_C.kind.in_(list(hold.kinds)), _C.created_at > hold.since)
    if not whens:
        return young
    return and_(young, case(*whens, else_=literal(int(hold.default))) == 1)


def claim_due(
    session: Session, now: datetime, claimant: str, lease: timedelta, limit: int, hold: Hold | None = None
) -> list[OutboxMessage]:
    """Claim up to `limit` due messages for `claimant` (unique per call) and count the attempt; commit after.

    The longest-waiting first (`next_attempt_at`, then id), in that order: a message retried for hours does not
    go ahead of one written a second ago. Rows `hold` names stay pending. PostgreSQL: rows are chosen with FOR
    UPDATE SKIP LOCKED, so concurrent dispatchers never take the same one. SQLite: one conditional UPDATE
    (SQLite serialises writers). A claim expires at now + lease.
    """
    chosen = select(_C.id).where(_claimable(now))
    held = _held(hold) if hold is not None else None
    if held is not None:
        chosen = chosen.where(not_(held))
    chosen = chosen.order_by(_C.next_attempt_at, _C.id).limit(limit)
    if _dialect_name(session) == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    ids = [row[0] for row in session.execute(chosen)]
    if not ids:
        return []
    session.execute(
        update(TABLE)
        .where(_C.id.in_(ids), _claimable(now))
        .values(status="sending", claimed_by=claimant, claim_expires_at=now + lease, attempts=_C.attempts + 1)
    )
    claimed = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.claimed_by == claimant, OutboxMessage.status == "sending")  # type: ignore[arg-type]
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return list(claimed.scalars())


def mark_sent(session: Session, message_id: int, claimant: str, now: datetime) -> bool:
    """Record a delivery; False when the claim was lost (another dispatcher owns the message now)."""
    result = session.execute(
        update(TABLE)
        .where(_C.id == message_id, _C.claimed_by == claimant, _C.status == "sending")
        .values(status="sent", sent_at=now, claimed_by=None, claim_expires_at=None, last_error=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_retry(session: Session, message_id: int, claimant: str, error: str, next_attempt_at: datetime,
               parts_sent: int = 0) -> bool:
    """Put a failed message back to pending until `next_attempt_at`, with the parts of it delivered so far (a
    retry posts the rest); False when the claim was lost."""
    result = session.execute(
        update(TABLE)
        .where(_C.id == message_id, _C.claimed_by == claimant, _C.status == "sending")
        .values(status="pending", next_attempt_at=next_attempt_at, last_error=error, claimed_by=None,
                claim_expires_at=None, parts_sent=parts_sent)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_dead(session: Session, message_id: int, claimant: str, error: str, parts_sent: int | None = None) -> bool:
    """Move a message to dead-letter (kept, listed by `cli.py outbox dead`), with the parts of it delivered so far
    when a send counted them (`outbox retry` sends the rest); False when the claim was lost."""
    values: dict[str, Any] = {"status": "dead", "last_error": error, "claimed_by": None, "claim_expires_at": None}
    if parts_sent is not None:
        values["parts_sent"] = parts_sent
    result = session.execute(
        update(TABLE).where(_C.id == message_id, _C.claimed_by == claimant, _C.status == "sending").values(values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(
    session: Session, message_ids: Sequence[int], claimant: str, not_before: datetime | None = None,
    note: str | None = None,
) -> int:
    """Give claimed messages back unsent (pending, the claim's attempt not counted); only those `claimant`
    still holds. Claimable at once, or from `not_before` when given; `note`, when given, is kept as the
    message's last error, so that `outbox list` says why it waits. How many were given back."""
    if not message_ids:
        return 0
    values: dict[str, Any] = {"status": "pending", "attempts": _C.attempts - 1, "claimed_by": None,
                              "claim_expires_at": None}
    if not_before is not None:
        values["next_attempt_at"] = not_before
    if note is not None:
        values["last_error"] = note
    result = session.execute(
        update(TABLE)
        .where(_C.id.in_(list(message_ids)), _C.claimed_by == claimant, _C.status == "sending")
        .values(**values)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PendingGroup:
    """The pending messages of some kinds for one recipient on one channel: a candidate for a digest.

    `settled`: none was written after the settle moment (the burst is complete), or one written before it is
    due now (it would otherwise go out alone this round).
    """

    recipient: str
    channel: str
    address: str
    count: int
    settled: bool


def pending_groups(session: Session, kinds: Sequence[str], now: datetime, settled_at: datetime) -> list[PendingGroup]:
    """The pending messages of `kinds` by (recipient, channel); `settled_at` is the settle moment."""
    young = case((_C.created_at > settled_at, 1), else_=0)
    ready = case((and_(_C.created_at <= settled_at, _C.next_attempt_at <= now), 1), else_=0)
    rows = session.execute(
        select(_C.recipient, _C.channel, func.max(_C.recipient_address), func.count(), func.sum(young),
               func.sum(ready))
        .where(_C.status == "pending", _C.kind.in_(list(kinds)))
        .group_by(_C.recipient, _C.channel)
        .order_by(_C.recipient, _C.channel)
    )
    return [PendingGroup(r[0], r[1], r[2], int(r[3]), int(r[4] or 0) == 0 or int(r[5] or 0) > 0) for r in rows]


def fold_into_digest(
    session: Session, recipient: str, channel: str, kinds: Sequence[str], digest: Mapping[str, Any],
    minimum: int = 1,
) -> tuple[int, list[OutboxMessage]] | None:
    """Insert the digest row and mark the recipient's pending messages of `kinds` `digested` under its id.

    Only rows still pending are folded (a row claimed meanwhile is sent on its own); the caller then writes
    the digest's data from the returned items. On PostgreSQL the items are locked, skipping locked ones.
    None (and no digest row) when fewer than `minimum` were left to fold: another worker folding the same
    burst at the same moment took the rest, and a digest of one or two is no digest.
    """
    chosen = select(_C.id).where(
        _C.status == "pending", _C.kind.in_(list(kinds)), _C.recipient == recipient, _C.channel == channel
    )
    if _dialect_name(session) == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    ids = [row[0] for row in session.execute(chosen)]
    if not ids or len(ids) < minimum:
        return None
    inserted = session.execute(TABLE.insert().values(_normalise_row(0, digest)).returning(_C.id))
    digest_id = int(inserted.scalar_one())
    session.execute(
        update(TABLE).where(_C.id.in_(ids), _C.status == "pending").values(status="digested", digest_id=digest_id)
    )
    items = list(
        session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.digest_id == digest_id)  # type: ignore[arg-type]
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
            .execution_options(populate_existing=True)
        ).scalars()
    )
    if not items:
        session.execute(TABLE.delete().where(_C.id == digest_id))
        return None
    return digest_id, items


def set_data(session: Session, message_id: int, data: Mapping[str, Any], dedupe_key: str | None = None) -> None:
    """Replace a message's data (the dispatcher fills a digest after choosing its items)."""
    values: dict[str, Any] = {"data": json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)}
    if dedupe_key is not None:
        values["dedupe_key"] = dedupe_key
    session.execute(update(TABLE).where(_C.id == message_id).values(**values))


def list_messages(session: Session, status: str | None = None, limit: int | None = None) -> list[OutboxMessage]:
    """Messages, newest first, optionally of one status."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())  # type: ignore[union-attr]
    if status is not None:
        query = query.where(OutboxMessage.status == status)  # type: ignore[arg-type]
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def retry_dead(session: Session, now: datetime, message_id: int | None = None) -> int:
    """Move dead messages (one, or all when `message_id` is None) back to pending, due now, attempts reset."""
    where = [_C.status == "dead"]
    if message_id is not None:
        where.append(_C.id == message_id)
    result = session.execute(
        update(TABLE).where(*where).values(status="pending", attempts=0, next_attempt_at=now, claimed_by=None,
                                           claim_expires_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


__all__ = [
    "KINDS",
    "STATUSES",
    "Hold",
    "OutboxMessage",
    "PendingGroup",
    "UtcDateTime",
    "claim_due",
    "fold_into_digest",
    "insert_outbox_ignore_duplicates",
    "list_messages",
    "mark_dead",
    "mark_retry",
    "mark_sent",
    "pending_groups",
    "release",
    "retry_dead",
    "set_data",
]
