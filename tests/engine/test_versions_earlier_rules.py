"""A database written by an earlier release: the versions its instances run on are served under the rules of their
day. A rule added since for new definitions only (who may start) is waived for them; a version this release cannot
load at all keeps its own instances waiting with a typed error, and the engine opens for every other instance."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from engine import StoredVersionUnloadable
from engine.clock import SHANGHAI
from engine.errors import DefinitionError
from engine.loader import load_text, parse_text
from engine.store import StoredDefinition
from storage import open_store
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, FLOW, MakeEngine, flow_vars

WF = "common.test_flow"
START_LINE = "start: {roles: [consumer.data_admin]}\n"
#: The test flow as a release before `start:` was required accepted it.
FLOW_WITHOUT_START = FLOW.replace(START_LINE, "")
#: A version this release refuses outright (not a rule for new definitions only).
FLOW_REFUSED_NOW = FLOW.replace("      due: 5 WD\n", "      due: 5 WDD\n")


def _run_on_earlier_version(db_url: str, instance_id: str, source: str) -> str:
    """Make `source` the stored version `instance_id` runs on, as the earlier release that accepted it wrote it."""
    version = parse_text(source).content_hash
    store = open_store(db_url)
    store.save_definition(StoredDefinition(WF, version, source, "test_flow.yaml"))
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE instance SET version = :v WHERE id = :i"), {"v": version, "i": instance_id})
    store.close()
    return version


def test_this_release_refuses_both_earlier_versions_as_new_definitions() -> None:
    """The premise: neither text loads as a new definition today."""
    with pytest.raises(DefinitionError, match="missing required key 'start'"):
        load_text(FLOW_WITHOUT_START)
    with pytest.raises(DefinitionError, match="5 WDD"):
        load_text(FLOW_REFUSED_NOW)


def test_a_version_without_start_still_serves_the_instances_that_run_on_it(
        make_engine: MakeEngine, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The engine opens on the database, moves the old instance on its version, and says what it waived; new
    instances start on the files' version, which still must say who may start."""
    old = make_engine().start(WF, "E-1", flow_vars(), CONSUMER_ADMIN)
    version = _run_on_earlier_version(db_url, old.id, FLOW_WITHOUT_START)

    with caplog.at_level("WARNING", logger="engine.definitions"):
        restarted = make_engine()
    moved = restarted.fire(old.id, "refuse", AUDITOR, {"reason": "旧版本仍可办理"})
    new = restarted.start(WF, "E-2", flow_vars(), CONSUMER_ADMIN)

    assert (moved.state, moved.version) == ("refused", version)
    assert new.version != version
    waived = [r.getMessage() for r in caplog.records if "waived" in r.getMessage()]
    assert len(waived) == 1 and version[:12] in waived[0] and "missing required key 'start'" in waived[0]


def test_a_version_this_release_refuses_keeps_only_its_own_instances_waiting(
        make_engine: MakeEngine, db_url: str) -> None:
    """The engine still opens: the other instance runs and is swept; the refused version's instance is left as it
    was, and every command on it, and its due moments, say why."""
    first = make_engine()
    stuck = first.start(WF, "E-3", flow_vars(), CONSUMER_ADMIN)
    runs = first.start(WF, "E-4", flow_vars(), CONSUMER_ADMIN)
    version = _run_on_earlier_version(db_url, stuck.id, FLOW_REFUSED_NOW)

    restarted = make_engine()
    with pytest.raises(StoredVersionUnloadable) as refused:
        restarted.fire(stuck.id, "approve", AUDITOR)
    report = restarted.tick(datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI))  # the review's warning is due for both
    moved = restarted.fire(runs.id, "approve", AUDITOR)

    assert version[:12] in str(refused.value) and "5 WDD" in str(refused.value)
    assert "release that started them" in str(refused.value)
    assert (report.fired, report.failed) == (1, 1)
    assert restarted.get(stuck.id).state == "review" and restarted.get(stuck.id).version == version
    assert moved.state != "review"
