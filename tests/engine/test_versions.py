"""Definition versions: instances stay on the version they started with, also across a restart."""

from __future__ import annotations

from pathlib import Path

from engine import Engine, ManualClock
from engine.definitions import DefinitionSet
from storage import open_store
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


def test_compiled_workflows_carry_their_exact_source(tmp_path: Path) -> None:
    """Loaded from a folder or from texts, each compiled version holds the YAML text it came from, byte for byte."""
    text = "# 测试流程, with a comment the parsed spec does not keep\n" + FLOW.replace("due: 10 WD", "due: 11 WD")
    (tmp_path / "test_flow.yaml").write_text(text, encoding="utf-8")
    from_folder = DefinitionSet.load([tmp_path]).get(WF)
    from_texts = DefinitionSet.from_texts([("a.yaml", text), ("b.yaml", FLOW_V2)])
    assert from_folder.source == text  # type: ignore[attr-defined]
    assert from_texts.get_version(WF, from_folder.version).source == text  # type: ignore[attr-defined]
    assert from_texts.get(WF).source == FLOW_V2  # type: ignore[attr-defined]


def test_the_definitions_table_stores_the_exact_source_of_each_version(tmp_path: Path, db_url: str,
                                                                      clock: ManualClock) -> None:
    """An engine on a loaded folder stores the file's text for the version its instances run on."""
    text = FLOW.replace("      due: 5 WD\n", "      due: 4 WD\n") + "# kept as written\n"
    (tmp_path / "test_flow.yaml").write_text(text, encoding="utf-8")
    engine = Engine(open_store(db_url), DefinitionSet.load([tmp_path]), clock=clock)
    inst = engine.start(WF, "V-5", flow_vars(), CONSUMER_ADMIN)
    stored = {(d.workflow_id, d.version): d.source for d in engine.store.stored_definitions()}  # type: ignore[attr-defined]
    engine.close()
    assert stored[(WF, inst.version)] == text
