"""The worker's scheduler: it ticks the engine on its own, names recurring starts, and stops cleanly."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.errors import DeadlinePolicyMismatch, PayloadInvalid
from engine.periods import render_period
from engine.scheduler import EngineScheduler
from storage import open_store
from tests.engine.conftest import CONSUMER_ADMIN, FLOW, MakeEngine, flow_vars


def test_the_scheduler_ticks_the_engine_until_stopped(make_engine: MakeEngine, clock: ManualClock) -> None:
    """Started, it fires a due breach without being asked; stopped, it is no longer running."""
    engine = make_engine()
    inst = engine.start("common.test_flow", "SCH-1", flow_vars(), CONSUMER_ADMIN)
    breached = threading.Event()
    engine.subscribe("breach", lambda ev: breached.set())
    clock.set(datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI))
    scheduler = EngineScheduler(engine, interval=0.05)
    scheduler.start()
    try:
        assert breached.wait(timeout=20)
    finally:
        scheduler.stop()
    assert not scheduler.running
    assert scheduler.ticks >= 1
    assert any(c.breached for c in engine.clocks(inst.id))


def test_recurring_keys_use_the_shanghai_date() -> None:
    """The key of a start fired at 1 July 00:30 in Shanghai (30 June in UTC) is July's."""
    moment = datetime(2026, 6, 30, 16, 30, tzinfo=UTC)
    assert render_period("catalog-refresh-{{ year }}-{{ month }}", moment) == "catalog-refresh-2026-07"
    assert render_period("drill-{{year}}-H{{ half }}-Q{{ quarter }}", moment) == "drill-2026-H2-Q3"


def test_recurring_keys_know_every_period_name_the_loader_accepts() -> None:
    """A key naming `fire_date` or `quarter_end` (valid in a definition) is rendered, not left as written."""
    moment = datetime(2026, 6, 30, 16, 30, tzinfo=UTC)
    assert render_period("check-{{ fire_date }}", moment) == "check-2026-07-01"
    assert render_period("report-until-{{ quarter_end }}", moment) == "report-until-2026-09-30"


def test_a_recurring_procedure_starts_once_per_period(make_engine: MakeEngine, clock: ManualClock) -> None:
    """Fired twice in the same half-year, the catalog refresh starts one instance, keyed by the half."""
    from pathlib import Path

    from engine.definitions import DefinitionSet

    repo = Path(__file__).resolve().parents[2]
    engine = make_engine(DefinitionSet.load([repo / "workflows" / "lz" / "catalog_refresh.yaml"]), flow=None)
    scheduler = EngineScheduler(engine, interval=60)
    clock.set(datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI))
    scheduler.start_recurring("lz.catalog_refresh")
    scheduler.start_recurring("lz.catalog_refresh")
    started = engine.list_instances(workflow_id="lz.catalog_refresh")
    assert [i.business_key for i in started] == ["catalog-refresh-2026-H1"]


def test_an_outage_is_said_once_and_its_end_too(tmp_path: Path, clock: ManualClock,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Ticks failing while the database is away log one warning, not one per tick, and one when it is back."""
    db = tmp_path / "w.db"
    engine = Engine(open_store(str(db)), DefinitionSet(), clock=clock)
    engine.add_definition(FLOW, "test_flow.yaml")
    scheduler = EngineScheduler(engine, interval=2, recurring=False)
    away = tmp_path / "away.db"
    try:
        with caplog.at_level(logging.WARNING, logger="engine.scheduler"):
            db.rename(away)  # the file gone: every command and tick refuses (StorageUnavailable)
            for _ in range(3):
                scheduler._tick()
            away.rename(db)
            scheduler._tick()
    finally:
        engine.close()
    said = [r.getMessage() for r in caplog.records if r.name == "engine.scheduler"]
    assert len(said) == 2
    assert said[0].startswith("ticks fail while the database is unavailable (trying again every 2 s)")
    assert said[1] == "the database is back after 3 failed tick(s)"
    assert (scheduler.errors, scheduler.ticks) == (3, 1)


def test_a_stop_is_recorded_for_health_and_one_the_database_cannot_take_is_logged(
        tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """A worker stopped on purpose records when, so `health` tells it from a lost one; a stop while the database
    is away leaves the record as the last tick left it, and says so; a worker stopped by a fatal error records no
    stop."""
    db, away = tmp_path / "w.db", tmp_path / "away.db"
    first = Engine(open_store(str(db)), DefinitionSet(), clock=clock, worker_id="first")
    second = Engine(open_store(str(db)), DefinitionSet(), clock=clock, worker_id="second")
    fatal = Engine(open_store(str(db)), DefinitionSet(), clock=clock, worker_id="fatal")
    try:
        stopped = EngineScheduler(first, interval=2, recurring=False)
        stopped._tick()
        stopped.stop()
        lost = EngineScheduler(second, interval=2, recurring=False)
        lost._tick()
        with caplog.at_level(logging.WARNING, logger="engine.scheduler"):
            db.rename(away)
            lost.stop()
            away.rename(db)
            broken = EngineScheduler(fatal, interval=2, recurring=False)
        broken._tick()
        broken.fatal = DeadlinePolicyMismatch("09:00-17:00", "24:00", clock.now(), "--business-hours 09:00-17:00",
                                              {}, {})
        broken.stop()
        workers = {w.name: w for w in first.store.backlog(clock.now()).workers}
    finally:
        for one in (first, second, fatal):
            one.close()
    assert (workers["first"].ticks, workers["first"].stopped_at) == (1, clock.now())
    assert (workers["second"].ticks, workers["second"].stopped_at) == (1, None)
    assert workers["fatal"].stopped_at is None  # it did not stop on purpose: health says it went silent
    said = [r.getMessage() for r in caplog.records if r.name == "engine.scheduler"]
    assert len(said) == 1 and said[0].startswith("the worker's stop was not recorded in the database")


@pytest.mark.parametrize("interval", [0, -1.0, float("nan"), float("inf")])
def test_the_scheduler_refuses_an_interval_that_would_spin(make_engine: MakeEngine, interval: float) -> None:
    """A non-positive or non-finite interval is a typed error, not a scheduler busy-looping on due ticks."""
    engine = make_engine()
    with pytest.raises(PayloadInvalid) as err:
        EngineScheduler(engine, interval=interval)
    assert "interval" in str(err.value)
