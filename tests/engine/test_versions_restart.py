"""An edited definition file is a new version after a restart: new instances run on it, old ones stay on theirs."""

from __future__ import annotations

from pathlib import Path

from engine import Engine, ManualClock
from engine.definitions import DefinitionSet
from storage import open_store
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, DIRECTORY, FLOW, flow_vars

WF = "common.test_flow"
FLOW_V2 = FLOW.replace("      due: 5 WD\n", "      due: 3 WD\n")


def _engine(db_url: str, folder: Path, clock: ManualClock) -> Engine:
    """What a restarted process builds: the definitions loaded from the folder, an engine on the same database."""
    engine = Engine(open_store(db_url), DefinitionSet.load([folder]), clock=clock, directory=DIRECTORY)
    engine.register_hook("count_users", lambda variables: {"users": 0})
    return engine


def _task_last_day(engine: Engine, instance_id: str) -> str:
    return next(c.last_day for c in engine.clocks(instance_id) if c.scope == "task")


def test_an_edited_file_serves_new_instances_after_restarts(tmp_path: Path, db_url: str,
                                                              clock: ManualClock) -> None:
    """Old instance keeps 5 WD on the old version; after the edit and each restart new ones get 3 WD."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    path = folder / "test_flow.yaml"
    path.write_text(FLOW, encoding="utf-8")
    first = _engine(db_url, folder, clock)
    old = first.start(WF, "R-1", flow_vars(), CONSUMER_ADMIN)
    first.close()

    path.write_text(FLOW_V2, encoding="utf-8")
    file_version = DefinitionSet.load([folder]).get(WF).version
    second = _engine(db_url, folder, clock)
    newest_after_restart = second.machine(WF).version
    new = second.start(WF, "R-2", flow_vars(), CONSUMER_ADMIN)
    second.close()

    third = _engine(db_url, folder, clock)
    newest_after_second_restart = third.machine(WF).version
    newer = third.start(WF, "R-3", flow_vars(), CONSUMER_ADMIN)
    days = [_task_last_day(third, i.id) for i in (old, new, newer)]
    moved = third.fire(old.id, "refuse", AUDITOR, {"reason": "旧版本仍可办理"})
    third.close()

    assert old.version != file_version
    assert newest_after_restart == newest_after_second_restart == file_version
    assert (new.version, newer.version) == (file_version, file_version)
    assert days == ["2026-03-09", "2026-03-05", "2026-03-05"]
    assert (moved.state, moved.version) == ("refused", old.version)


def test_a_stored_version_does_not_displace_the_loaded_one(tmp_path: Path) -> None:
    """`add(..., newest=False)` keeps a version by hash only; `add` (the default) still makes its version newest."""
    defs = DefinitionSet.from_texts([("v2.yaml", FLOW_V2)])
    v2 = defs.get(WF).version
    v1 = defs.add(DefinitionSet.from_texts([("v1.yaml", FLOW)]).get(WF).spec, newest=False).version
    kept = (defs.get(WF).version, defs.get_version(WF, v1).version, defs.versions(WF))
    defs.add(defs.get_version(WF, v1))
    assert kept == (v2, v1, (v1, v2))
    assert defs.get(WF).version == v1


def test_add_definition_after_a_restart_still_makes_its_version_newest(tmp_path: Path, db_url: str,
                                                                       clock: ManualClock) -> None:
    """A user's `add_definition` on a restarted engine wins over the file, as it did before the restart."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "test_flow.yaml").write_text(FLOW, encoding="utf-8")
    first = _engine(db_url, folder, clock)
    first.start(WF, "R-4", flow_vars(), CONSUMER_ADMIN)
    first.close()
    second = _engine(db_url, folder, clock)
    added = second.add_definition(FLOW_V2, "test_flow_v2.yaml")
    started = second.start(WF, "R-5", flow_vars(), CONSUMER_ADMIN)
    second.close()
    assert started.version == added.version
