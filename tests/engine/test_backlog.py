"""`health`'s figures and judgement: due work that waits longer than the grace names a missing worker, a tick
clears it; a failing moment and a message given up on are named apart (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from engine import Engine, ManualClock
from engine.backlog import DEFAULT_GRACE, backlog_problems
from storage.backlog import Backlog
from tests.engine.conftest import CONSUMER_ADMIN, flow_vars

WF = "common.test_flow"


def kinds(backlog: Backlog) -> list[str]:
    return [p.kind for p in backlog_problems(backlog)]


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
    sweep = backlog_problems(late)[0].text
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
        return Backlog(now, 1, now - span, 0, 0, None, 1, now - span, 0)

    assert kinds(waited(DEFAULT_GRACE)) == []
    assert kinds(waited(DEFAULT_GRACE + timedelta(microseconds=1))) == ["sweep", "dispatch"]
    assert backlog_problems(waited(timedelta(hours=3)), grace=timedelta(hours=4)) == []
