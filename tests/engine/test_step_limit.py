"""An instance's history keys hold at most `MAX_STEP` steps (storage.tables.history_key): a step past that is
refused whole, as a typed error, and never written under the next instance's keys."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from engine import Engine, StepLimitReached
from storage.tables import MAX_STEP, instance_t
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, flow_vars

WF = "common.test_flow"


def test_a_step_past_the_last_key_is_refused_and_nothing_moves(engine: Engine) -> None:
    inst = engine.start(WF, "STEPS-1", flow_vars(), CONSUMER_ADMIN)
    neighbour = engine.start(WF, "STEPS-2", flow_vars(), CONSUMER_ADMIN)
    with engine.store.engine.begin() as conn:  # type: ignore[attr-defined]
        # as every writer of the table does, the row version moves on (a process that remembers the row sees it)
        conn.execute(update(instance_t).where(instance_t.c.id == inst.id).values(
            history_seq=MAX_STEP, row_version=instance_t.c.row_version + 1))
    with pytest.raises(StepLimitReached) as err:
        engine.fire(inst.id, "approve", AUDITOR)
    assert err.value.instance_id == inst.id and err.value.limit == MAX_STEP
    assert "cancel it and start a new instance" in str(err.value)
    assert engine.get(inst.id).state == "review"
    assert [s.seq for s in engine.history(neighbour.id)] == [s.seq for s in engine.history(inst.id)] == [1, 2]
