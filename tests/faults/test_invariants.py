"""The crash test's checker can fail: a clean run passes it, and each kind of damage to the database or the
receiver's log is reported."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import ManualClock
from storage import SqlInstanceStore, open_store
from storage.tables import clock_t, history_t, instance_t, outbox_t, sla_event_t
from tests.faults.harness.crash_worker import main as run_worker
from tests.faults.harness.crash_worker import read_log
from tests.faults.harness.flow import CountingReceiver, build_engine
from tests.faults.harness.invariants import Findings, check_all


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short schedule run to its end without kills."""
    work = tmp_path_factory.mktemp("clean")
    assert run_worker([str(work / "run.db"), str(work), "--seed", "7", "--steps", "400"]) == 0
    return work


def _check(work: Path, db: Path, delivered: list[str] | None = None) -> Findings:
    lines = read_log(work / "steps.log")
    final = datetime.fromisoformat(lines[-1].split(" ", 1)[1])
    store = open_store(str(db))
    engine = build_engine(str(db), ManualClock(final))
    try:
        keys = CountingReceiver(work / "deliveries.log").keys() if delivered is None else delivered
        return check_all(store, lines, keys, final, engine)
    finally:
        engine.close()
        store.close()


def _damaged(finished_run: Path, tmp_path: Path, damage: Callable[[sa.Connection], None]) -> Path:
    db = tmp_path / "damaged.db"
    db.write_bytes((finished_run / "run.db").read_bytes())
    store = SqlInstanceStore(str(db))
    with store.engine.begin() as conn:
        damage(conn)
    store.close()
    return db


def test_a_clean_run_passes(finished_run: Path) -> None:
    """Run without faults, every invariant holds and the run did real work."""
    found = _check(finished_run, finished_run / "run.db")
    assert found.problems == []
    assert found.figures["escalations"] > 0 and found.figures["deliveries"] == found.figures["outbox_messages"]


_FIRST_CASE = sa.select(sa.func.min(history_t.c.instance_id)).scalar_subquery()  # its last step goes missing
DAMAGE: dict[str, tuple[Callable[[sa.Connection], None], str]] = {
    "history row lost": (lambda c: c.execute(sa.delete(history_t).where(
        (history_t.c.instance_id == _FIRST_CASE) & (history_t.c.seq == sa.select(sa.func.max(history_t.c.seq)).where(
            history_t.c.instance_id == _FIRST_CASE).scalar_subquery()))), "history"),
    "state changed behind the history": (lambda c: c.execute(sa.update(instance_t).where(
        instance_t.c.id == sa.select(sa.func.min(instance_t.c.id)).scalar_subquery()).values(state="tampered")),
        "replays to"),
    "escalation forgotten": (lambda c: c.execute(sa.delete(sla_event_t).where(sla_event_t.c.kind == "escalation")),
                             "escalation"),
    "message left unsent": (lambda c: c.execute(sa.update(outbox_t).where(
        outbox_t.c.id == sa.select(sa.func.min(outbox_t.c.id)).scalar_subquery()).values(status="pending")),
        "not sent"),
    "breach never recorded": (lambda c: c.execute(sa.delete(sla_event_t).where(sla_event_t.c.kind == "breach")),
                              "breach"),
    "SLA moment left unhandled": (lambda c: c.execute(sa.update(clock_t).where(
        clock_t.c.stopped_at.is_(None) & clock_t.c.paused_since.is_(None)).values(
        next_fire_at=clock_t.c.due_at, next_kind="due")), "never handled"),
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damage_is_reported(finished_run: Path, tmp_path: Path, name: str) -> None:
    """Each kind of damage makes the checker report a problem that names it."""
    damage, word = DAMAGE[name]
    found = _check(finished_run, _damaged(finished_run, tmp_path, damage))
    assert any(word in p for p in found.problems), found.problems


def test_a_lost_delivery_is_reported(finished_run: Path) -> None:
    """A message the receiver never got is reported; a doubled one is counted, not reported."""
    keys = CountingReceiver(finished_run / "deliveries.log").keys()
    lost = _check(finished_run, finished_run / "run.db", keys[1:])
    doubled = _check(finished_run, finished_run / "run.db", keys + keys[:3])
    assert any("never reached the receiver" in p for p in lost.problems)
    assert doubled.problems == [] and doubled.figures["doubled_deliveries"] == 3
