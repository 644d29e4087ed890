"""The worker's scheduler: it ticks the engine on its own, names recurring starts, and stops cleanly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from engine import ManualClock
from engine.clock import SHANGHAI
from engine.scheduler import EngineScheduler, recurring_key
from tests.engine.conftest import CONSUMER_ADMIN, MakeEngine, flow_vars


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
    assert recurring_key("catalog-refresh-{{ year }}-{{ month }}", moment) == "catalog-refresh-2026-07"
    assert recurring_key("drill-{{year}}-H{{ half }}-Q{{ quarter }}", moment) == "drill-2026-H2-Q3"


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
