"""The history chain: each step carries the previous step's hash, so any edit is detected."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Actor, Engine
from engine.clock import SHANGHAI
from engine.history import step_hash
from storage.tables import history_t
from tests.engine.conftest import AUDITOR, CONSUMER, CONSUMER_ADMIN, OTHER, PROVIDER, SUPERVISOR, flow_vars

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


def _context(engine: Engine, instance_id: str) -> list[tuple[str, str, str | None, str | None]]:
    return [(h.event, h.actor, h.actor_role, h.actor_department) for h in engine.history(instance_id)]


def test_each_step_records_the_role_and_department_it_was_taken_in(engine: Engine) -> None:
    """The start, a decision and a refusal record the start role, `system`, and the provider's auditor role with
    the department the actor belonged to then."""
    inst = engine.start(WF, "H-2", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "refuse", AUDITOR, {"reason": "不符合共享条件"})
    assert _context(engine, inst.id) == [
        ("start", CONSUMER_ADMIN.id, "consumer.data_admin", CONSUMER),
        ("_decide", "system", "system", None),
        ("refuse", AUDITOR.id, "provider.data_auditor", PROVIDER),
    ]


def test_a_timer_step_and_an_automatic_step_are_the_engines(engine: Engine) -> None:
    """The hook's step and the publicity's end are recorded as the engine in the role `system`, no department."""
    inst = engine.start(WF, "H-3", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "approve", AUDITOR)  # review -> check (hook) -> meeting_route -> publicity
    engine.tick(datetime(2026, 3, 17, 0, 0, tzinfo=SHANGHAI))  # the 10 WD publicity is over
    assert _context(engine, inst.id)[2:] == [
        ("approve", AUDITOR.id, "provider.data_auditor", PROVIDER),
        ("_auto", "system", "system", None),
        ("_decide", "system", "system", None),
        ("_timer", "system", "system", None),
    ]
    assert engine.get(inst.id).status == "completed"


def test_an_admin_command_records_the_administering_role(engine: Engine) -> None:
    """A cancel records the workflow role the supervisor administers in and its department; the engine's
    suspension records `system`."""
    supervisor_of_other = Actor("erin2", frozenset({"data_supervisor"}), OTHER)
    first = engine.start(WF, "H-4", flow_vars(), CONSUMER_ADMIN)
    second = engine.start(WF, "H-5", flow_vars(), CONSUMER_ADMIN)
    engine.cancel(first.id, SUPERVISOR, "申请撤回")
    engine.suspend(second.id, Actor.system())
    engine.cancel(second.id, supervisor_of_other)
    assert _context(engine, first.id)[-1] == ("_cancel", SUPERVISOR.id, "bureau.data_supervisor", None)
    assert _context(engine, second.id)[-2:] == [("_suspend", "system", "system", None),
                                                 ("_cancel", "erin2", "bureau.data_supervisor", OTHER)]


def test_the_engine_starting_an_instance_acts_as_system(engine: Engine) -> None:
    """A start sent as Actor.system() records the role `system`, whatever the start roles are."""
    inst = engine.start(WF, "H-6", flow_vars(), Actor.system())
    assert _context(engine, inst.id)[0] == ("start", "system", "system", None)


@pytest.mark.parametrize("values", [{"actor_role": "bureau.reviewer"}, {"actor_department": OTHER},
                                    {"actor_role": None}, {"actor_department": None},
                                    {"actor_role": None, "actor_department": None}],
                         ids=["role changed", "department changed", "role blanked", "department blanked",
                              "both blanked"])
def test_an_edited_role_or_department_is_detected_at_its_step(engine: Engine, values: dict[str, Any]) -> None:
    """Changing or blanking the recorded role or department of a step breaks the chain at that step."""
    instance_id = _done(engine)
    with engine.store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.update(history_t).where((history_t.c.instance_id == instance_id) & (history_t.c.seq == 3))
                     .values(**values))
    report = engine.verify_history(instance_id)
    assert (report.ok, report.broken_seq) == (False, 3)


def _reference_hash(prev: str, instance_id: str, seq: int, at: datetime, actor: str, event: str,
                    from_state: str | None, to_state: str, payload: dict[str, Any], *context: str | None) -> str:
    """The hash as the chain defines it: SHA-256 of json.dumps of the step list, compact, keys sorted, UTF-8; the
    list ends with the actor's role and department when either is given."""
    body = json.dumps([prev, instance_id, seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, event,
                       from_state, to_state, payload, *context], ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True)
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


@settings(max_examples=200, deadline=None)
@given(prev=_TEXT, seq=st.integers(0, 10**12), actor=_TEXT, payload=st.dictionaries(_TEXT, _JSON, max_size=3),
       role=st.none() | _TEXT, department=st.none() | _TEXT,
       at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(SHANGHAI)))
def test_step_hash_covers_the_role_and_department_when_either_is_set(prev: str, seq: int, actor: str,
                                                                     payload: dict[str, Any], role: str | None,
                                                                     department: str | None, at: datetime) -> None:
    """With a role or department the body is the eleven-element list; with neither, the nine-element one the
    histories written before were hashed over."""
    context = (role, department) if role is not None or department is not None else ()
    expected = _reference_hash(prev, "i", seq, at, actor, "e", "a", "b", payload, *context)
    assert step_hash(prev, "i", seq, at, actor, "e", "a", "b", payload, role, department) == expected
