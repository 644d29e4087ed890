"""Clock faults: the injected clock going backwards, or jumping forward by months. No timer or SLA moment is
lost, none fires twice, and a suspended instance's timers wait for its resumption."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from engine import Engine, ManualClock
from storage.tables import history_t, outbox_t, sla_event_t
from tests.faults.harness.flow import WF, actor, flow_vars
from tests.faults.harness.invariants import Findings, check_history, check_outbox, check_timers


def _counts(engine: Engine) -> tuple[Counter[tuple[int, str, int]], int, int]:
    """SLA events by (clock, kind, level), history rows, outbox rows."""
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        events = Counter((r.clock_id, r.kind, r.level) for r in conn.execute(sa.select(sla_event_t)))
        history = conn.execute(sa.select(sa.func.count()).select_from(history_t)).scalar_one()
        outbox = conn.execute(sa.select(sa.func.count()).select_from(outbox_t)).scalar_one()
    return events, history, outbox


def _population(engine: Engine) -> dict[str, str]:
    """Instances in every waiting kind: a task under SLA, a timer wait, a meeting that pauses the procedure."""
    ids = {}
    ids["review"] = engine.start(WF, "CLK-review", flow_vars(), actor("consumer")).id
    wait = engine.start(WF, "CLK-wait", flow_vars(users=0), actor("consumer")).id
    engine.fire(wait, "approve", actor("auditor"), {})
    ids["publicity"] = wait
    meet = engine.start(WF, "CLK-meeting", flow_vars(users=1), actor("consumer")).id
    engine.fire(meet, "approve", actor("auditor"), {})
    ids["meeting"] = meet
    assert {k: engine.get(v).state for k, v in ids.items()} == {k: k for k in ids}
    return ids


def _invariants(engine: Engine, clock: ManualClock) -> list[str]:
    found = Findings()
    store = engine.store
    check_history(store, found)  # type: ignore[arg-type]
    check_timers(store, clock.now(), found, engine)  # type: ignore[arg-type]
    return found.problems


def _drain(engine: Engine, clock: ManualClock) -> int:
    fired = 0
    for _ in range(10):
        report = engine.tick(clock.now())
        fired += report.fired
        if report.fired + report.skipped + report.failed + report.lost == 0:
            return fired
    raise AssertionError("ticks kept finding work at one moment")


def test_clock_going_backwards_fires_nothing_again(engine: Engine, clock: ManualClock) -> None:
    """After the ladder ran, moving the clock back a month and forward again repeats no SLA event or step."""
    _population(engine)
    clock.advance(timedelta(days=7))  # past the review's due time and both levels
    assert _drain(engine, clock) > 0
    before = _counts(engine)
    assert any(kind == "escalation" for _, kind, _ in before[0])
    later = clock.now()
    for back in (timedelta(hours=1), timedelta(days=3), timedelta(days=30)):
        clock.set(later - back)
        assert _drain(engine, clock) == 0
        assert _counts(engine) == before
    clock.set(later)
    assert _drain(engine, clock) == 0
    assert _counts(engine) == before
    assert _invariants(engine, clock) == []


def test_jump_forward_by_months_fires_every_moment_once(engine: Engine, clock: ManualClock) -> None:
    """Three months ahead in one step: every due time, level and timer wait fires once, in one catch-up."""
    ids = _population(engine)
    clock.advance(timedelta(days=92))
    assert _drain(engine, clock) > 0
    events, history, outbox = _counts(engine)
    assert all(count == 1 for count in events.values())
    assert engine.get(ids["publicity"]).state == "done"  # the timer wait moved on, once
    assert [h.event for h in engine.history(ids["publicity"])].count("_timer") == 1
    review_clocks = {c.id for c in engine.clocks(ids["review"]) if c.scope == "task"}
    assert {(k, lvl) for c, k, lvl in events if c in review_clocks} >= {("breach", 0), ("escalation", 1),
                                                                       ("escalation", 2)}
    assert _drain(engine, clock) == 0 and _counts(engine) == (events, history, outbox)
    clock.advance(timedelta(days=1))
    assert _drain(engine, clock) == 0 and _counts(engine)[0] == events
    assert _invariants(engine, clock) == []
    found = Findings()
    check_outbox(engine.store, [], found)  # type: ignore[arg-type]
    # nothing was dispatched here: only the once-per-escalation rule of the outbox must hold
    assert [p for p in found.problems if "escalation level" in p or "outbox holds" in p] == []


def test_a_timer_wait_does_not_move_early_when_the_clock_goes_back(engine: Engine, clock: ManualClock) -> None:
    """A timer wait entered, then the clock set before its entry: ticks leave it; at its time it moves once."""
    ids = _population(engine)
    entered = clock.now()
    clock.set(entered - timedelta(days=20))
    assert _drain(engine, clock) == 0
    assert engine.get(ids["publicity"]).state == "publicity"
    clock.set(entered + timedelta(days=1))
    _drain(engine, clock)
    assert engine.get(ids["publicity"]).state == "publicity"  # 2 WD have not passed yet
    clock.set(entered + timedelta(days=7))
    _drain(engine, clock)
    clock.set(entered + timedelta(days=8))
    _drain(engine, clock)
    assert engine.get(ids["publicity"]).state == "done"
    assert [h.event for h in engine.history(ids["publicity"])].count("_timer") == 1
    assert _invariants(engine, clock) == []


def test_a_suspended_instance_holds_its_timers_until_resumed(engine: Engine, clock: ManualClock) -> None:
    """Suspended across its timer's time (and months of clock), the wait moves only after resume, once."""
    ids = _population(engine)
    engine.suspend(ids["publicity"], actor("supervisor"), "复核")
    clock.advance(timedelta(days=60))
    _drain(engine, clock)
    assert engine.get(ids["publicity"]).state == "publicity"
    engine.resume(ids["publicity"], actor("supervisor"))
    clock.advance(timedelta(days=30))
    _drain(engine, clock)
    assert engine.get(ids["publicity"]).state == "done"
    assert [h.event for h in engine.history(ids["publicity"])].count("_timer") == 1
    assert _invariants(engine, clock) == []
