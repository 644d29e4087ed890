"""The command transaction's own conversions: moments read back from their stored form, variables written back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from engine import InstanceView
from storage import SqlInstanceStore, open_store
from storage.tx import Moments

NOW = datetime(2026, 3, 2, 2, 0, 0, 120, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlInstanceStore]:
    s = open_store(db_url)
    yield s
    s.close()


def _instance(variables: dict[str, object]) -> InstanceView:
    return InstanceView("i1", "wf.x", "v" * 64, "K-1", "a", variables, "running", None, 1, 0, "", None, NOW, NOW)


@pytest.mark.parametrize("moment", [
    NOW, datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=8))), datetime(1999, 1, 1, tzinfo=UTC),
])
def test_a_moment_reads_back_as_the_same_aware_instant(moment: datetime) -> None:
    """What SQLite stores (UTC text, no offset) reads back as the same instant, aware, in UTC."""
    moments = Moments("sqlite")
    text = moments.put(moment)
    back = moments.get(text)
    assert back == moment and back is not None and back.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-02 02:00:00", datetime(2026, 3, 2, 2, 0, tzinfo=UTC)),
    ("2026-03-02 02:00:00.5", datetime(2026, 3, 2, 2, 0, 0, 500000, tzinfo=UTC)),
    ("2026-03-02T10:00:00+08:00", datetime(2026, 3, 2, 2, 0, tzinfo=UTC)),
    ("2026-03-02 10:00:00.000001+08:00", datetime(2026, 3, 2, 2, 0, 0, 1, tzinfo=UTC)),
])
def test_other_text_forms_read_as_before(text: str, expected: datetime) -> None:
    """Texts in another form (no microseconds, an offset) are read by their own terms, as UTC when naive."""
    back = Moments("sqlite").get(text)
    assert back == expected and back is not None and back.tzinfo is UTC


def _stored_variables(store: SqlInstanceStore) -> str:
    with store.engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT variables FROM instance WHERE id = 'i1'")).scalar_one())


def test_variables_handed_back_unchanged_keep_their_stored_text(store: SqlInstanceStore) -> None:
    """The variables read in a command, handed back as the same mapping, are written as the text read."""
    with store.engine.begin() as conn:  # a text the encoder would not write (spaces, key order)
        conn.execute(sa.text(
            "INSERT INTO instance (id, workflow_id, version, business_key, state, variables, status, row_version, "
            "history_seq, history_hash, created_at, updated_at) VALUES ('i1', 'wf.x', :v, 'K-1', 'a', "
            "'{\"b\": 2, \"a\": 1}', 'running', 1, 0, '', :t, :t)"), {"v": "v" * 64, "t": NOW})
    with store.transaction() as tx:
        read = tx.get_instance("i1")
        assert read is not None
        tx.update_instance(dataclasses.replace(read, row_version=2, state="b"), 1)
    assert _stored_variables(store) == '{"b": 2, "a": 1}'


def test_changed_variables_are_encoded(store: SqlInstanceStore) -> None:
    """A new mapping (even an equal one) is encoded: only the very mapping read keeps its text."""
    with store.transaction() as tx:
        tx.insert_instance(_instance({"n": 1}))
    with store.transaction() as tx:
        read = tx.get_instance("i1")
        assert read is not None
        tx.update_instance(dataclasses.replace(read, row_version=2, variables={**read.variables, "m": "值"}), 1)
    stored = store.get_instance("i1")
    assert stored is not None and stored.variables == {"n": 1, "m": "值"}
    assert _stored_variables(store) == '{"m":"值","n":1}'
