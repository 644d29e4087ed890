"""One command, one transaction: atomicity, optimistic locking and idempotency keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from engine import CalendarYearMissing, ConcurrentUpdate, Engine, IdempotencyConflict, ManualClock
from engine.clock import SHANGHAI
from storage.tables import clock_t, history_t, instance_t, outbox_t, timer_t
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, MakeEngine, flow_vars

WF = "common.test_flow"


def counts(engine: Engine) -> dict[str, int]:
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (instance_t, history_t, clock_t, timer_t, outbox_t)}


def test_a_start_that_fails_midway_writes_nothing(engine: Engine, clock: ManualClock) -> None:
    """Started on 28 Dec 2026, the deadline needs 2027, which has no data: no row of any table is left."""
    clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI))
    before = counts(engine)
    with pytest.raises(CalendarYearMissing) as err:
        engine.start(WF, "A-1", flow_vars(), CONSUMER_ADMIN)
    assert err.value.year == 2027
    assert counts(engine) == before


def test_a_fire_that_fails_midway_leaves_the_instance_as_it_was(engine: Engine, clock: ManualClock) -> None:
    """approve runs the hook and the decision, then the publicity timer needs 2027: everything is rolled back."""
    clock.set(datetime(2026, 12, 10, 10, 0, tzinfo=SHANGHAI))
    inst = engine.start(WF, "A-2", flow_vars(), CONSUMER_ADMIN)
    before = counts(engine)
    clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI))
    with pytest.raises(CalendarYearMissing):
        engine.fire(inst.id, "approve", AUDITOR)
    assert engine.get(inst.id) == inst
    assert counts(engine) == before
    assert [c.stopped_at for c in engine.clocks(inst.id)] == [None, None]


class InterleavingStore:
    """The real store, except that once, right after a command read the instance, `between()` runs first."""

    def __init__(self, inner: Any, between: Callable[[], None]) -> None:
        self._inner = inner
        self._between: Callable[[], None] | None = between

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._inner.transaction() as tx:
            outer = self
            original = tx.get_instance

            def get_instance(instance_id: str) -> Any:
                found = original(instance_id)
                if outer._between is not None:
                    between, outer._between = outer._between, None
                    between()
                return found

            tx.get_instance = get_instance
            yield tx


def test_two_concurrent_fires_one_wins_the_other_gets_concurrent_update(make_engine: MakeEngine) -> None:
    """A fire whose instance changed after it was read fails with ConcurrentUpdate and writes nothing."""
    first = make_engine()
    inst = first.start(WF, "C-1", flow_vars(), CONSUMER_ADMIN)
    second = make_engine()
    second.store = InterleavingStore(second.store, lambda: first.fire(inst.id, "refuse", AUDITOR, {"reason": "先到"}))
    with pytest.raises(ConcurrentUpdate) as err:
        second.fire(inst.id, "approve", AUDITOR)
    assert err.value.expected_version == 1
    won = first.get(inst.id)
    assert (won.state, won.row_version) == ("refused", 2)
    assert [h.event for h in first.history(inst.id)][-1] == "refuse"
    assert first.verify_history(inst.id).ok


def test_an_idempotent_fire_returns_the_first_result_and_changes_nothing(engine: Engine) -> None:
    """The same key and command again answers the first result; no second step is written."""
    inst = engine.start(WF, "I-1", flow_vars(), CONSUMER_ADMIN)
    first = engine.fire(inst.id, "refuse", AUDITOR, {"reason": "重复提交"}, idempotency_key="req-77")
    again = engine.fire(inst.id, "refuse", AUDITOR, {"reason": "重复提交"}, idempotency_key="req-77")
    assert again == first
    assert len(engine.history(inst.id)) == first.history_seq


def test_an_idempotency_key_reused_for_another_command_is_refused(engine: Engine) -> None:
    """The same key with a different payload is IdempotencyConflict, and nothing changes."""
    inst = engine.start(WF, "I-2", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "refuse", AUDITOR, {"reason": "一"}, idempotency_key="req-78")
    with pytest.raises(IdempotencyConflict) as err:
        engine.fire(inst.id, "refuse", AUDITOR, {"reason": "二"}, idempotency_key="req-78")
    assert err.value.key == "req-78"


def test_an_idempotent_start_does_not_fail_on_its_own_business_key(engine: Engine) -> None:
    """Repeating a start with its key returns the instance it made instead of DuplicateBusinessKey."""
    first = engine.start(WF, "I-3", flow_vars(), CONSUMER_ADMIN, idempotency_key="start-1")
    again = engine.start(WF, "I-3", flow_vars(), CONSUMER_ADMIN, idempotency_key="start-1")
    assert again == first
    assert len(engine.list_instances(workflow_id=WF)) == 1
