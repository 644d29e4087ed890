"""The outbox table contract: columns, duplicate-ignoring inserts, aware times, claims and their expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect
from sqlmodel import Session

from engine.clock import SHANGHAI, ManualClock
from engine.errors import PayloadInvalid
from storage.outbox import (
    claim_due,
    insert_outbox_ignore_duplicates,
    list_messages,
    mark_dead,
    mark_sent,
    retry_dead,
)


def row(key: str, now: datetime, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "created_at": now,
        "channel": "email",
        "recipient": "p1",
        "recipient_address": "p1@example.gov.cn",
        "template": "sla_warning",
        "data": {"business_key": "REQ-1", "workflow_name": "数据需求申请"},
        "kind": "warning",
        "dedupe_key": key,
    }
    base.update(extra)
    return base


def test_columns_match_the_contract(outbox_engine: Engine) -> None:
    """The table has exactly the columns the engine codes against, dedupe_key unique."""
    cols = {c["name"] for c in inspect(outbox_engine).get_columns("outbox_message")}
    assert cols == {
        "id", "created_at", "instance_id", "channel", "recipient", "recipient_address", "template", "data", "kind",
        "dedupe_key", "status", "attempts", "next_attempt_at", "last_error", "claimed_by", "claim_expires_at",
        "sent_at", "digest_id", "parts_sent",
    }
    uniques = inspect(outbox_engine).get_unique_constraints("outbox_message")
    indexes = inspect(outbox_engine).get_indexes("outbox_message")
    unique_cols = [u["column_names"] for u in uniques] + [i["column_names"] for i in indexes if i["unique"]]
    assert ["dedupe_key"] in unique_cols
    assert any(i["column_names"] == ["status", "next_attempt_at"] for i in indexes)


def test_insert_ignores_duplicates(outbox_engine: Engine, clock: ManualClock) -> None:
    """A second insert with the same dedupe key is skipped, and the count says so."""
    now = clock.now()
    with outbox_engine.begin() as conn:
        first = insert_outbox_ignore_duplicates(conn, [row("a", now), row("b", now)])
    with Session(outbox_engine, expire_on_commit=False) as session:
        second = insert_outbox_ignore_duplicates(session, [row("b", now), row("c", now)])
        session.commit()
    with Session(outbox_engine, expire_on_commit=False) as session:
        keys = sorted(m.dedupe_key for m in list_messages(session))
    assert (first, second) == (2, 1)
    assert keys == ["a", "b", "c"]


def test_times_read_back_aware_utc(outbox_engine: Engine, clock: ManualClock) -> None:
    """A Shanghai time is stored as UTC and read back timezone-aware as the same instant."""
    now = clock.now()
    with outbox_engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, [row("a", now)])
    with Session(outbox_engine, expire_on_commit=False) as session:
        msg = list_messages(session)[0]
    assert msg.created_at.tzinfo is not None
    assert msg.created_at == now
    assert msg.next_attempt_at.utcoffset() == timedelta(0)
    assert msg.status == "pending" and msg.attempts == 0
    assert msg.payload()["workflow_name"] == "数据需求申请"


@pytest.mark.parametrize(
    ("bad", "field"),
    [({"kind": "shout"}, "kind"), ({"created_at": datetime(2026, 1, 1)}, "created_at"), ({"colour": 1}, "colour")],
)
def test_bad_rows_are_refused(outbox_engine: Engine, clock: ManualClock, bad: dict[str, object], field: str) -> None:
    """A row with a wrong kind, a naive time or an unknown column is refused with the field named."""
    with pytest.raises(PayloadInvalid) as caught, outbox_engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, [row("a", clock.now(), **bad)])
    assert caught.value.field == field
    assert "outbox row 0" in str(caught.value)


def test_claims_are_exclusive_until_the_lease_expires(outbox_engine: Engine, clock: ManualClock) -> None:
    """A claimed message is not claimed again until its lease runs out; then it is retaken."""
    now = clock.now()
    with outbox_engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, [row("a", now)])
    lease = timedelta(minutes=5)
    with Session(outbox_engine, expire_on_commit=False) as session:
        first = claim_due(session, now, "w1", lease, 10)
        session.commit()
    with Session(outbox_engine, expire_on_commit=False) as session:
        during = claim_due(session, now + timedelta(minutes=4), "w2", lease, 10)
        session.commit()
    with Session(outbox_engine, expire_on_commit=False) as session:
        after = claim_due(session, now + timedelta(minutes=6), "w3", lease, 10)
        lost = mark_sent(session, after[0].id or 0, "w1", now)
        won = mark_sent(session, after[0].id or 0, "w3", now)
        session.commit()
    assert [m.dedupe_key for m in first] == ["a"]
    assert during == []
    assert [m.attempts for m in after] == [2]
    assert (lost, won) == (False, True)


def test_not_due_messages_are_not_claimed(outbox_engine: Engine, clock: ManualClock) -> None:
    """A message whose next attempt lies in the future stays pending."""
    now = clock.now()
    with outbox_engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, [row("a", now, next_attempt_at=now + timedelta(hours=1))])
    with Session(outbox_engine, expire_on_commit=False) as session:
        claimed = claim_due(session, now, "w1", timedelta(minutes=5), 10)
    assert claimed == []


def test_retry_dead_makes_dead_messages_pending(outbox_engine: Engine, clock: ManualClock) -> None:
    """Retrying a dead message resets its attempts and makes it due now."""
    now = clock.now()
    with outbox_engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, [row("a", now)])
    with Session(outbox_engine, expire_on_commit=False) as session:
        msg = claim_due(session, now, "w1", timedelta(minutes=5), 10)[0]
        mark_dead(session, msg.id or 0, "w1", "gone")
        session.commit()
    later = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    with Session(outbox_engine, expire_on_commit=False) as session:
        dead_before = [m.dedupe_key for m in list_messages(session, "dead")]
        count = retry_dead(session, later)
        session.commit()
    with Session(outbox_engine, expire_on_commit=False) as session:
        again = list_messages(session)[0]
    assert dead_before == ["a"]
    assert count == 1
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, later)
    assert again.last_error == "gone"
    assert later.astimezone(SHANGHAI) == again.next_attempt_at
