"""Task clocks with `pause_in`: standing still in states reached from the task, counting on when it is back,
stopping for good (pause not counted) when the instance goes elsewhere; on a real Engine and real dates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from engine.definitions import DefinitionSet
from engine.ports import Actor
from engine.runtime import Engine
from notifiers.directory import YamlDirectory
from storage.sql import SqlInstanceStore
from tests.workflows.conftest import PROVIDER, STAFF, Harness, at, end_of

SAMPLE = Path(__file__).resolve().parent / "data" / "pause_sample.yaml"
AUDITOR = STAFF["provider_auditor"].actor
CENTER = STAFF["center"].actor


@pytest.fixture
def h(tmp_path: Path, directory: YamlDirectory) -> Iterator[Harness]:
    from engine.clock import ManualClock

    clock = ManualClock(at(2026, 11, 2, 10))
    store = SqlInstanceStore(str(tmp_path / "pause.db"))
    engine = Engine(store, DefinitionSet.load([SAMPLE]), clock=clock, directory=directory)
    yield Harness(engine, clock, store)
    engine.close()


def fire(h: Harness, inst_id: str, event: str, actor: Actor, moment: tuple[int, int, int]) -> str:
    h.clock.set(at(*moment, 10))
    return h.engine.fire(inst_id, event, actor).state


def started(h: Harness) -> str:
    """Started Mon 2026-11-02 10:00: the 3 WD review is due at the end of Thu 11-05."""
    inst = h.engine.start("lz.pause_sample", "K-1", {"provider_dept": PROVIDER}, AUDITOR)
    assert h.due(inst, "review") == end_of(date(2026, 11, 5))
    return inst.id


def test_clock_stands_still_across_two_pausing_states_and_counts_on(h: Harness) -> None:
    """Meeting from Wed 11-04 and an expert opinion until Mon 11-09: 3 working days (11-05, 11-06, 11-09) in one
    ledger entry; back in the review, the same clock is due at the end of Tue 11-10."""
    inst_id = started(h)
    assert fire(h, inst_id, "meet", AUDITOR, (2026, 11, 4)) == "meeting"
    assert h.engine.clocks(inst_id)[0].status == "paused"
    fire(h, inst_id, "ask_expert", CENTER, (2026, 11, 6))
    assert h.engine.clocks(inst_id)[0].status == "paused"
    assert fire(h, inst_id, "back", CENTER, (2026, 11, 9)) == "review"
    clocks = h.engine.clocks(inst_id)
    assert len(clocks) == 1
    assert (clocks[0].status, clocks[0].paused_working_days) == ("running", 3)
    assert clocks[0].due_at == end_of(date(2026, 11, 10))
    assert [(p.state, p.working_days) for p in h.engine.pauses(clocks[0].id)] == [("meeting", 3)]


def test_paused_clock_neither_breaches_nor_escalates(h: Harness) -> None:
    """Ticking long past the original due time while in the meeting sends nothing."""
    inst_id = started(h)
    fire(h, inst_id, "meet", AUDITOR, (2026, 11, 4))
    h.tick(end_of(date(2026, 11, 12)))
    assert [s for s in h.engine.clocks(inst_id) if s.breached] == []
    inst = h.engine.get(inst_id)
    assert [s.kind for s in h.sent(inst) if s.kind != "notification"] == []


def test_leaving_the_pause_elsewhere_stops_the_clock_without_the_paused_days(h: Harness) -> None:
    """Dropped from the meeting on Fri 11-20, 12 working days after it began: the clock stops for good as met
    (its due time moved on by those days to the end of 11-23), not as a breach of the original 11-05."""
    inst_id = started(h)
    fire(h, inst_id, "meet", AUDITOR, (2026, 11, 4))
    fire(h, inst_id, "drop", CENTER, (2026, 11, 20))
    clock = h.engine.clocks(inst_id)[0]
    assert (clock.status, clock.breached, clock.paused_working_days) == ("met", False, 12)
    assert clock.stopped_at is not None
    assert clock.due_at == end_of(date(2026, 11, 23))
    assert h.engine.get(inst_id).outcome == "withdrawn"


def test_review_late_before_the_meeting_stays_breached(h: Harness) -> None:
    """A review already breached (tick at the end of 11-05) stays breached through a later meeting."""
    inst_id = started(h)
    h.tick(end_of(date(2026, 11, 5)))
    fire(h, inst_id, "meet", AUDITOR, (2026, 11, 6))
    fire(h, inst_id, "back", CENTER, (2026, 11, 9))
    fire(h, inst_id, "approve", AUDITOR, (2026, 11, 9))
    clock = h.engine.clocks(inst_id)[0]
    assert (clock.status, clock.breached) == ("breached", True)
