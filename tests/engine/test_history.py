"""The history chain: each step carries the previous step's hash, so any edit is detected."""

from __future__ import annotations

import sqlalchemy as sa

from engine import Engine
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
