"""From a step to a delivered message: the engine writes outbox rows in its transaction, and the notifier's
dispatcher, called by tick, renders and delivers them through the file channel of the example directory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import DEFAULT_SETTLE, OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage import open_store

REPO = Path(__file__).resolve().parents[2]
POLICE, MARKET = "11450200007565127X", "11450200MB0K273590"  # departments of the example directory


def test_assignment_and_breach_reach_the_people_of_the_directory(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewers get the assignment, then the breach and its level go out once each, as files."""
    monkeypatch.chdir(tmp_path)  # the example's file channel writes under ./var/notifications
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    directory = YamlDirectory(REPO / "notifiers" / "example_directory.yaml")
    store = open_store(db_url)
    dispatcher = OutboxDispatcher(store.engine, directory.channels, TemplateRenderer(), clock)
    engine = Engine(store, DefinitionSet.load([REPO / "workflows" / "gx" / "data_request.yaml"]), clock=clock,
                    directory=directory, dispatcher=dispatcher)
    admin = Actor("lz-gaj-admin", frozenset({"data_admin"}), POLICE)
    engine.start("gx.data_request", "E2E-1", {
        "consumer_dept": POLICE, "provider_dept": MARKET, "resource_id": "RES-1", "purpose": "核验",
        "sharing_type": "conditional"}, admin)
    first = engine.tick(clock.now())
    files = sorted((tmp_path / "var" / "notifications").rglob("*.eml"))
    assert first.dispatched >= 1 and len(files) == first.dispatched

    clock.set(datetime(2026, 3, 5, 0, 5, tzinfo=SHANGHAI))  # 2 WD from Monday end with Wednesday 4 March
    late = engine.tick(clock.now())
    # a breach waits a moment before it goes out alone, in case a burst of them is to be folded into a digest
    assert (late.fired, late.dispatched) == (1, 0)
    clock.set(clock.now() + DEFAULT_SETTLE)
    settled = engine.tick(clock.now())
    again = engine.tick(clock.now())
    after = sorted((tmp_path / "var" / "notifications").rglob("*.eml"))
    assert (settled.fired, settled.dispatched >= 1) == (0, True)
    assert (again.fired, again.dispatched) == (0, 0)
    assert len(after) == len(files) + settled.dispatched
    engine.close()
