"""`health`'s figures and judgement: due work that waits longer than the grace names a missing worker, a tick
clears it; a failing moment and a message given up on are named apart; a database whose work waits for a worker
that no longer ticks is named before anything is late, with how the last one ended (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from engine import Engine, ManualClock
from engine.backlog import DEFAULT_GRACE, backlog_problems
from engine.sweep import PROGRESS_EVERY
from storage.backlog import Backlog
from storage.workers import FORGET_AFTER
from tests.engine.conftest import CONSUMER_ADMIN, flow_vars

WF = "common.test_flow"


def kinds(backlog: Backlog, workers: int = 0) -> list[str]:
    """The kinds of problem found, with `workers` workers wanted (none: the due work alone)."""
    return [p.kind for p in backlog_problems(backlog, workers=workers)]


def next_moments(engine: Engine, ids: list[str]) -> list[datetime]:
    """The next moment of each open clock of these instances, earliest first."""
    return sorted(c.next_fire_at for iid in ids for c in engine.clocks(iid) if c.next_fire_at is not None)


def test_due_work_left_waiting_names_the_missing_worker_and_a_tick_clears_it(engine: Engine,
                                                                            clock: ManualClock) -> None:
    """Notices due at once are not late; a month with no worker leaves every moment due, the earliest named;
    a tick takes them."""
    ids = [engine.start(WF, f"B-{n}", flow_vars(), CONSUMER_ADMIN).id for n in range(2)]
    fresh = engine.store.backlog(clock.now())
    assert (fresh.moments_due, fresh.timers_due, fresh.oldest_moment) == (0, 0, None)
    assert fresh.messages_due > 0 and kinds(fresh) == []  # the start's notices, due this moment: not late yet
    moments = next_moments(engine, ids)
    clock.advance(timedelta(days=30))  # no worker ran meanwhile
    late = engine.store.backlog(clock.now())
    assert late.moments_due == len(moments) and late.oldest_moment == moments[0]
    assert late.oldest_moment is not None and late.oldest_moment.utcoffset() == timedelta(0)
    assert kinds(late) == ["sweep", "dispatch"]
    sweep = backlog_problems(late, workers=0)[0].text
    assert f"{len(moments)} SLA moment(s)" in sweep and "cli.py worker" in sweep
    engine.tick(clock.now())
    after = engine.store.backlog(clock.now())
    assert after.oldest_sweep_work is None or after.oldest_sweep_work >= clock.now() - DEFAULT_GRACE
    assert "sweep" not in kinds(after)


def test_a_failing_moment_and_a_dead_message_are_named_apart(engine: Engine, clock: ManualClock) -> None:
    """A moment that failed waits for its back-off: counted as failing, not as the oldest untried work."""
    inst = engine.start(WF, "F-1", flow_vars(), CONSUMER_ADMIN)
    armed = [c for c in engine.clocks(inst.id) if c.next_fire_at is not None]
    first = min(armed, key=lambda c: (c.next_fire_at, c.id))
    clock.advance(timedelta(days=30))
    with engine.store.engine.begin() as conn:
        conn.execute(text("UPDATE sla_clock SET fire_attempts = 2, last_error = 'smtp down' WHERE id = :id"),
                     {"id": first.id})
        conn.execute(text("UPDATE outbox_message SET status = 'dead' WHERE id = (SELECT MIN(id) FROM outbox_message)"))
    backlog = engine.store.backlog(clock.now())
    assert backlog.moments_failing == 1 and backlog.messages_dead == 1
    assert first.next_fire_at is not None
    assert backlog.oldest_moment is None or backlog.oldest_moment > first.next_fire_at
    assert {"failing", "dead"} <= set(kinds(backlog))


def test_work_is_late_only_once_it_has_waited_longer_than_the_grace(clock: ManualClock) -> None:
    """Exactly the grace is not late, a microsecond more is; a longer grace forgives a longer wait."""
    now = clock.now()

    def waited(span: timedelta) -> Backlog:
        return Backlog(now, 1, now - span, 0, 0, None, 1, now - span, 0, now - span, ())

    assert kinds(waited(DEFAULT_GRACE)) == []
    assert kinds(waited(DEFAULT_GRACE + timedelta(microseconds=1))) == ["sweep", "dispatch"]
    assert backlog_problems(waited(timedelta(hours=3)), grace=timedelta(hours=4), workers=0) == []


def problem(backlog: Backlog, workers: int = 1) -> str:
    """The text of the one `workers` problem, or "" when there is none."""
    found = [p.text for p in backlog_problems(backlog, workers=workers) if p.kind == "workers"]
    assert len(found) <= 1
    return found[0] if found else ""


def test_work_waiting_for_a_worker_that_does_not_tick_is_named_before_it_is_late(engine: Engine,
                                                                                clock: ManualClock) -> None:
    """An empty database needs no worker. Once a case waits, one that no worker ever ticked is named at once;
    a tick records the worker; silence beyond the grace names it as lost, a stop on purpose as stopped; and
    a tick at exactly the grace still counts."""
    assert engine.store.backlog(clock.now()).next_work is None
    assert problem(engine.store.backlog(clock.now())) == ""
    engine.start(WF, "W-1", flow_vars(), CONSUMER_ADMIN)
    never = engine.store.backlog(clock.now())
    assert never.next_work == clock.now() and never.workers == ()  # the start's notices are due at once
    assert "no worker has ever ticked it" in problem(never) and "cli.py worker" in problem(never)
    assert kinds(never) == []  # nothing is late yet: only the missing worker is

    started = clock.now()
    engine.tick(started)
    (seen,) = engine.store.backlog(clock.now()).workers
    assert (seen.id, seen.started_at, seen.last_tick_at, seen.ticks, seen.stopped_at) == (
        engine.worker_id, started, started, 1, None)
    assert problem(engine.store.backlog(clock.now())) == ""

    clock.advance(DEFAULT_GRACE)
    assert problem(engine.store.backlog(clock.now())) == ""  # exactly the grace since its tick: still ticking
    clock.advance(timedelta(microseconds=1))
    lost = problem(engine.store.backlog(clock.now()))
    assert f"the last, {engine.worker_id}, last ticked on" in lost and "ended without stopping" in lost

    engine.tick(clock.now())
    (seen,) = engine.store.backlog(clock.now()).workers
    assert (seen.started_at, seen.last_tick_at, seen.ticks) == (started, clock.now(), 2)
    assert problem(engine.store.backlog(clock.now()), workers=2).startswith(
        "1 worker(s) ticked this database in the last 5 min, 2 are wanted")

    engine.record_stop()
    assert engine.store.backlog(clock.now()).workers[0].stopped_at == clock.now()
    assert f"the last, {engine.worker_id}, was stopped on" in problem(engine.store.backlog(clock.now()))
    assert problem(engine.store.backlog(clock.now()), workers=0) == ""


def test_a_process_that_begins_again_starts_its_row_afresh_and_long_silent_workers_are_forgotten(
        engine: Engine, clock: ManualClock) -> None:
    """A worker id used again by a new process (its first tick) starts over, stopped or not; a first tick
    forgets the workers not heard from for 30 days, and a later tick forgets nobody."""
    store, t0 = engine.store, clock.now()
    store.record_tick("old", t0, first=True)
    store.record_tick("w", t0, first=True)
    store.record_tick("w", t0 + timedelta(seconds=5))
    store.record_worker_stop("w", t0 + timedelta(seconds=6))
    later = t0 + FORGET_AFTER + timedelta(seconds=1)
    store.record_tick("other", later)  # not a first tick: forgets nobody
    assert {w.id for w in store.backlog(later).workers} == {"old", "w", "other"}
    store.record_tick("w", later, first=True)
    workers = store.backlog(later).workers
    assert [(w.id, w.started_at, w.ticks, w.stopped_at) for w in workers] == [
        ("other", later, 1, None), ("w", later, 1, None)]


def test_a_long_sweep_records_its_worker_as_it_goes(engine: Engine, clock: ManualClock) -> None:
    """A sweep of many batches records the tick again once a minute of the engine's clock has passed, so that
    a worker busy with a backlog is not taken for a lost one; a short tick records itself once."""
    for n in range(3):
        engine.start(WF, f"L-{n}", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=30))
    stepping = SteppingClock(clock.now(), PROGRESS_EVERY)
    engine.clock = stepping
    engine.tick(clock.now(), batch=1)
    (seen,) = engine.store.backlog(stepping.now()).workers
    assert seen.ticks > 2 and seen.last_tick_at > clock.now()
    engine.clock = clock
    engine.tick(clock.now())
    assert engine.store.backlog(clock.now()).workers[0].ticks == seen.ticks + 1


class SteppingClock(ManualClock):
    """A clock that moves on by `step` each time it is read: time passing while a sweep works."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        super().__init__(start)
        self.step = step

    def now(self) -> datetime:
        moment = super().now()
        self.advance(self.step)
        return moment
