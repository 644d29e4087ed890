"""Several worker processes ticking one PostgreSQL database: every timer fires once, every escalation is
written once; and a claim left by a crashed worker is taken again after its lease."""

from __future__ import annotations

import multiprocessing as mp
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from storage import open_store
from storage.tables import clock_t, outbox_t, sla_event_t, timer_t
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, DIRECTORY, FLOW, MakeEngine, flow_vars

WF = "common.test_flow"
INSTANCES = 500  # 2 SLA clocks each: the task's (warning, due, levels 1 and 2), the procedure's (due, level 1)
WORKERS = 4
LATER = datetime(2026, 4, 30, 12, 0, tzinfo=SHANGHAI)  # every deadline of March has passed


def _worker(url: str, name: str, ready: Any, go: Any, out: Any) -> None:
    engine = Engine(open_store(url), DefinitionSet(), clock=ManualClock(LATER), directory=DIRECTORY,
                    worker_id=name)
    engine.add_definition(FLOW, "test_flow.yaml")
    escalations: list[int] = []
    engine.subscribe("escalation", lambda ev: escalations.append(1))
    ready.put(name)
    go.wait(120)
    totals = {"fired": 0, "skipped": 0, "lost": 0, "failed": 0}
    while True:
        report = engine.tick(LATER, batch=25, max_batches=1)
        for key in totals:
            totals[key] += getattr(report, key)
        if report.fired + report.skipped + report.lost + report.failed == 0:
            break
    engine.close()
    out.put({**totals, "escalations": len(escalations)})


@pytest.mark.postgres
def test_workers_share_the_timers_and_fire_each_once(pg_url: str, clock: ManualClock) -> None:
    """4 processes, 1,000 clocks with every moment due: each breach and level is written and told once, and
    every clock ends with nothing left to fire."""
    engine = Engine(open_store(pg_url), DefinitionSet(), clock=clock, directory=DIRECTORY)
    engine.add_definition(FLOW, "test_flow.yaml")
    for i in range(INSTANCES):
        engine.start(WF, f"MP-{i}", flow_vars(), CONSUMER_ADMIN)
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        clocks = conn.execute(sa.select(sa.func.count()).select_from(clock_t)
                              .where(clock_t.c.next_fire_at.is_not(None))).scalar_one()
    assert clocks == 2 * INSTANCES

    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(pg_url, f"w{n}", ready, go, out)) for n in range(WORKERS)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)  # all workers are up before any starts ticking
    go.set()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)

    assert sum(r["fired"] + r["skipped"] for r in results) >= clocks
    assert sum(r["failed"] for r in results) == 0
    assert sum(1 for r in results if r["fired"] > 0) >= 2  # the work was really shared
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        armed = conn.execute(sa.select(sa.func.count()).select_from(clock_t)
                             .where(clock_t.c.next_fire_at.is_not(None))).scalar_one()
        events = conn.execute(sa.select(sla_event_t.c.kind, sa.func.count()).group_by(sla_event_t.c.kind)).all()
        sla_rows = [tuple(r) for r in conn.execute(
            sa.select(outbox_t.c.kind, sa.func.count()).where(outbox_t.c.kind != "notification")
            .group_by(outbox_t.c.kind)).all()]
    assert armed == 0
    # per instance: the task's breach and levels 1 and 2, the procedure's breach and level 1
    assert dict(events) == {"breach": 2 * INSTANCES, "escalation": 3 * INSTANCES}
    assert sum(r["escalations"] for r in results) == 3 * INSTANCES
    # task breach and level 1 go to bob (2 channels), level 2 to erin; the procedure's both to erin
    assert dict(sla_rows) == {"breach": 3 * INSTANCES, "escalation": 4 * INSTANCES}
    engine.close()


def test_a_claim_left_by_a_crashed_worker_is_taken_again(make_engine: MakeEngine) -> None:
    """SLA clocks claimed by a worker that died are fired by another once the lease has run out."""
    engine = make_engine(claim_lease=timedelta(minutes=2))
    inst = engine.start(WF, "CR-1", flow_vars(), CONSUMER_ADMIN)
    now = datetime(2026, 3, 10, 1, 0, tzinfo=SHANGHAI)
    crashed = engine.store.claim_clocks(now, "crashed-worker", 120, 100)
    assert crashed
    assert engine.tick(now).fired == 0
    later = engine.tick(now + timedelta(minutes=3))
    assert later.fired >= 1
    assert any(c.breached for c in engine.clocks(inst.id))


def _held(engine: Engine) -> int:
    """Clock and timer rows a worker's claim (or a back-off) keeps from the next tick."""
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        return sum(conn.execute(sa.select(sa.func.count()).select_from(table).where(
            table.c.claimed_by.is_not(None) | table.c.claim_expires_at.is_not(None))).scalar_one()
            for table in (clock_t, timer_t))


def test_a_tick_asked_to_stop_hands_its_claims_to_another_worker(make_engine: MakeEngine) -> None:
    """Asked to stop as its third breach is told, a tick ends after that moment: every other clock and timer it
    claimed goes back as it was, held by nobody, so another worker's tick at the same moment fires each of them,
    and every clock records its breach once."""
    stopping, other = make_engine(worker_id="stopping"), make_engine(worker_id="other")
    for n in range(10):
        stopping.start(WF, f"ST-{n}", flow_vars(), CONSUMER_ADMIN)
        stopping.fire(stopping.start(WF, f"ST-P-{n}", flow_vars(), CONSUMER_ADMIN).id, "approve", AUDITOR)
    with stopping.store.engine.connect() as conn:  # type: ignore[attr-defined]
        clocks = conn.execute(sa.select(sa.func.count()).select_from(clock_t)
                              .where(clock_t.c.next_fire_at.is_not(None))).scalar_one()
        timers = conn.execute(sa.select(sa.func.count()).select_from(timer_t)
                              .where(timer_t.c.status == "pending")).scalar_one()
    stop, told = threading.Event(), []

    def on_breach(_event: Any) -> None:
        told.append(1)
        if len(told) == 3:
            stop.set()

    stopping.subscribe("breach", on_breach)
    cut = stopping.tick(LATER, stop=stop)
    held = _held(stopping)
    rest = other.tick(LATER)
    with other.store.engine.connect() as conn:  # type: ignore[attr-defined]
        breaches = conn.execute(sa.select(sa.func.count()).select_from(sla_event_t)
                                .where(sla_event_t.c.kind == "breach")).scalar_one()
    assert (cut.stopped, cut.fired, cut.released) == (True, 3, clocks + timers - 3)
    assert held == 0
    assert (rest.stopped, rest.fired, rest.skipped, rest.lost, rest.failed) == (False, clocks + timers - 3, 0, 0, 0)
    assert breaches == clocks and timers == 10
