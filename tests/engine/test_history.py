"""The history chain: each step carries the previous step's hash, so any edit is detected."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Engine
from engine.clock import SHANGHAI
from engine.history import step_hash
from storage.tables import history_t
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, flow_vars

WF = "common.test_flow"


def _done(engine: Engine) -> str:
    inst = engine.start(WF, "H-1", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "refuse", AUDITOR, {"reason": "原始理由"})
    return inst.id


def test_an_untouched_history_verifies(engine: Engine) -> None:
    """Every hash of an untouched history checks out."""
    report = engine.verify_history(_done(engine))
    assert (report.ok, report.steps) == (True, 3)


def test_an_edited_payload_is_detected_at_its_step(engine: Engine) -> None:
    """Changing a payload in the database breaks the chain at that step."""
    instance_id = _done(engine)
    with engine.store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.update(history_t).where((history_t.c.instance_id == instance_id) & (history_t.c.seq == 3))
                     .values(payload='{"reason":"改过的理由"}'))
    report = engine.verify_history(instance_id)
    assert (report.ok, report.broken_seq) == (False, 3)


def test_a_deleted_last_step_is_detected(engine: Engine) -> None:
    """Removing the newest step is caught by the hash the instance row keeps."""
    instance_id = _done(engine)
    with engine.store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.delete(history_t).where((history_t.c.instance_id == instance_id) & (history_t.c.seq == 3)))
    assert not engine.verify_history(instance_id).ok


def test_a_removed_middle_step_is_detected(engine: Engine) -> None:
    """Removing a step in the middle leaves a gap in the sequence."""
    instance_id = _done(engine)
    with engine.store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.delete(history_t).where((history_t.c.instance_id == instance_id) & (history_t.c.seq == 2)))
    report = engine.verify_history(instance_id)
    assert (report.ok, report.broken_seq) == (False, 3)


def _reference_hash(prev: str, instance_id: str, seq: int, at: datetime, actor: str, event: str,
                    from_state: str | None, to_state: str, payload: dict[str, Any]) -> str:
    """The hash as the chain defines it: SHA-256 of json.dumps of the step list, compact, keys sorted, UTF-8."""
    body = json.dumps([prev, instance_id, seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, event,
                       from_state, to_state, payload], ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                     max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(prev=_TEXT, instance_id=_TEXT, seq=st.integers(0, 10**12), actor=_TEXT, event=_TEXT,
       from_state=st.none() | _TEXT, to_state=_TEXT, payload=st.dictionaries(_TEXT, _JSON, max_size=4),
       at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(SHANGHAI)))
def test_step_hash_is_the_defined_canonical_json_hash(prev: str, instance_id: str, seq: int, actor: str, event: str,
                                                      from_state: str | None, to_state: str,
                                                      payload: dict[str, Any], at: datetime) -> None:
    """step_hash equals SHA-256 of the canonical JSON the chain was defined with, so stored chains still verify."""
    expected = _reference_hash(prev, instance_id, seq, at, actor, event, from_state, to_state, payload)
    assert step_hash(prev, instance_id, seq, at, actor, event, from_state, to_state, payload) == expected
    # the same moment again (a command stamps its steps with one `now`) gives the same text
    assert step_hash(prev, instance_id, seq + 1, at, actor, event, from_state, to_state, payload) == \
        _reference_hash(prev, instance_id, seq + 1, at, actor, event, from_state, to_state, payload)
