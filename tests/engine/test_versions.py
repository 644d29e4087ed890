"""Definition versions: instances stay on the version they started with, also across a restart."""

from __future__ import annotations

from engine import Engine
from engine.definitions import DefinitionSet
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, FLOW, MakeEngine, flow_vars

WF = "common.test_flow"
FLOW_V2 = FLOW.replace("      due: 5 WD\n", "      due: 3 WD\n")


def _task_due(engine: Engine, instance_id: str) -> str:
    return next(c.last_day for c in engine.clocks(instance_id) if c.scope == "task")


def test_a_new_version_serves_new_instances_only(make_engine: MakeEngine) -> None:
    """After a changed definition is added, old instances keep 5 WD and new ones get 3 WD."""
    engine = make_engine()
    old = engine.start(WF, "V-1", flow_vars(), CONSUMER_ADMIN)
    engine.add_definition(FLOW_V2, "test_flow.yaml")
    new = engine.start(WF, "V-2", flow_vars(), CONSUMER_ADMIN)
    assert old.version != new.version
    assert (_task_due(engine, old.id), _task_due(engine, new.id)) == ("2026-03-09", "2026-03-05")


def test_a_restarted_engine_reloads_the_versions_running_instances_use(make_engine: MakeEngine) -> None:
    """An engine that knows only the new version loads the old one from the database and can move its instance."""
    engine = make_engine()
    old = engine.start(WF, "V-3", flow_vars(), CONSUMER_ADMIN)
    restarted = make_engine(DefinitionSet(), flow=FLOW_V2)
    assert restarted.get(old.id).version == old.version
    moved = restarted.fire(old.id, "refuse", AUDITOR, {"reason": "旧版本仍可办理"})
    assert (moved.state, moved.version) == ("refused", old.version)
    assert restarted.start(WF, "V-4", flow_vars(), CONSUMER_ADMIN).version != old.version
