"""`health`'s figures and judgement: due work that waits longer than the grace names a missing worker, a tick
clears it; a failing moment and a message given up on are named apart; a database whose work waits for a worker
that no longer ticks is named before anything is late, with how the last one ended (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from engine import Engine, ManualClock, PayloadInvalid
from engine.backlog import DEFAULT_GRACE, ahead, backlog_problems, ticking
from engine.sweep import PROGRESS_EVERY
from storage.backlog import Backlog
from storage.workers import FORGET_AFTER, NAME_LENGTH
from tests.engine.conftest import CONSUMER_ADMIN, MakeEngine, flow_vars

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
    assert (seen.name, seen.started_at, seen.last_tick_at, seen.ticks, seen.stopped_at) == (
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


def test_replicas_sharing_a_worker_id_count_apart_and_long_silent_workers_are_forgotten(
        engine: Engine, make_engine: MakeEngine, clock: ManualClock) -> None:
    """Two processes given one worker id (one --worker-id for every replica, or host:pid in containers) are two
    workers; a stop of one leaves the other ticking. A first tick forgets the workers not heard from for 30 days,
    a later tick forgets nobody."""
    twin = make_engine()
    twin.worker_id = engine.worker_id = "replica"
    for one in (engine, twin):
        one.tick(clock.now())
    assert [w.name for w in engine.store.backlog(clock.now()).workers] == ["replica", "replica"]
    assert problem(engine.store.backlog(clock.now()), workers=2) == ""
    twin.record_stop()
    assert len(ticking(engine.store.backlog(clock.now()), DEFAULT_GRACE)) == 1

    store, t0 = engine.store, clock.now()
    store.record_tick("old-process", "old", t0 - timedelta(seconds=1), first=True)
    later = t0 + FORGET_AFTER
    store.record_tick("other-process", "other", later)  # not a first tick: forgets nobody
    assert {w.name for w in store.backlog(later).workers} == {"old", "replica", "other"}
    store.record_tick("new-process", "new", later, first=True)
    assert {w.name for w in store.backlog(later).workers} == {"replica", "other", "new"}


def test_a_tick_dated_ahead_of_the_checking_host_is_named_and_proves_nothing(engine: Engine,
                                                                            clock: ManualClock) -> None:
    """A worker whose clock runs more than the grace ahead (or a tick simulated in the future) is not taken for a
    live one: the check names the disagreeing clocks, and the missing worker too. Within the grace it counts."""
    engine.start(WF, "S-1", flow_vars(), CONSUMER_ADMIN)
    engine.store.record_tick("fast-process", "fast", clock.now() + DEFAULT_GRACE, first=True)
    assert kinds(engine.store.backlog(clock.now()), workers=1) == []
    engine.store.record_tick("fast-process", "fast", clock.now() + DEFAULT_GRACE + timedelta(seconds=1))
    skewed = engine.store.backlog(clock.now())
    assert kinds(skewed, workers=1) == ["clock", "workers"]
    assert backlog_problems(skewed)[0].text.startswith("worker fast's last tick is dated")
    assert ticking(skewed, DEFAULT_GRACE) == [] and [w.name for w in ahead(skewed, DEFAULT_GRACE)] == ["fast"]


def test_a_message_being_sent_is_work_waiting_for_a_worker(engine: Engine, clock: ManualClock) -> None:
    """A worker killed while it sent a message leaves it `sending` until its claim runs out: work for a worker
    from then, not a database with nothing waiting."""
    engine.start(WF, "M-1", flow_vars(), CONSUMER_ADMIN)
    expires = clock.now() + timedelta(minutes=2)
    with engine.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM sla_clock"))
        conn.execute(text("UPDATE outbox_message SET status = 'sent'"))
        conn.execute(text("UPDATE outbox_message SET status = 'sending', claim_expires_at = :at "
                          "WHERE id = (SELECT MIN(id) FROM outbox_message)"), {"at": expires})
    assert engine.store.backlog(clock.now()).next_work == expires


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


def test_a_backend_asks_the_engine_for_its_health(engine: Engine, clock: ManualClock) -> None:
    """`Engine.health()` judges as `cli.py health` does, at the engine's clock: a waiting case no worker ticks is
    not ok, a tick makes it ok, a month without one names the due work; bad arguments are typed errors."""
    engine.start(WF, "H-1", flow_vars(), CONSUMER_ADMIN)
    first = engine.health()
    assert not first.ok and [p.kind for p in first.problems] == ["workers"]
    assert first.backlog.now == clock.now()
    engine.tick()
    assert engine.health().ok
    clock.advance(timedelta(days=30))
    assert [p.kind for p in engine.health().problems] == ["workers", "sweep", "dispatch"]
    assert [p.kind for p in engine.health(workers=0).problems] == ["sweep", "dispatch"]
    assert engine.health(clock.now() - timedelta(days=30)).ok
    for bad in ({"grace": timedelta(0)}, {"grace": 300}, {"workers": -1}, {"workers": True}):
        with pytest.raises(PayloadInvalid):
            engine.health(**bad)  # type: ignore[arg-type]


def test_a_worker_id_longer_than_its_column_still_records_its_ticks(engine: Engine, clock: ManualClock) -> None:
    """A `--worker-id` of any length ticks on PostgreSQL too (whose columns refuse longer text): the row is keyed
    by the process's token, and the id is kept, cut to NAME_LENGTH, for people to read."""
    engine.worker_id = "w" * (NAME_LENGTH + 100)
    engine.tick(clock.now())
    (seen,) = engine.store.backlog(clock.now()).workers
    assert seen.name == "w" * NAME_LENGTH and seen.ticks == 1
