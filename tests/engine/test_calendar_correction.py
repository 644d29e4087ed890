"""A correction of the calendar data (calendars.reload_data) reaches the deadlines of instances started after it,
although deadlines are cached per start day."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import calendars
from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from notifiers.directory import YamlDirectory
from tests.engine.conftest import MakeEngine

ROOT = Path(__file__).resolve().parents[2]
HEALTH, POLICE = make_credit_code(1), make_credit_code(2)
APPLICANT = Actor("zhang.san", frozenset({"data_admin"}), department=HEALTH)
VARS = {"consumer_dept": HEALTH, "provider_dept": POLICE, "resource_id": "RK-0001",
        "purpose": "新生儿出生医学证明办理核验", "sharing_type": "conditional"}


def _review_last_day(engine: Engine, key: str) -> str:
    inst = engine.start("gx.data_request", key, VARS, APPLICANT)
    return next(c.last_day for c in engine.clocks(inst.id) if c.scope == "task")


def test_a_corrected_guangxi_file_changes_the_next_deadline(make_engine: MakeEngine, clock: ManualClock,
                                                            data_copy: Path) -> None:
    """Normative review (2 WD) from Wednesday 2026-04-15: last day 04-21 while 04-17..04-20 are Guangxi days off;
    after the file is corrected to 04-20 and 04-21 and reloaded, a request that same day ends on 04-17."""
    engine = make_engine(DefinitionSet.load([ROOT / "workflows"]), flow=None,
                         directory=YamlDirectory(ROOT / "notifiers" / "example_directory.yaml"))
    clock.set(datetime(2026, 4, 15, 10, tzinfo=SHANGHAI))
    assert _review_last_day(engine, "CORR-1") == "2026-04-21"
    gx = data_copy / "cn-gx" / "2026.yaml"
    text = gx.read_text(encoding="utf-8")
    assert "off: [2026-04-17..2026-04-20]" in text
    gx.write_text(text.replace("off: [2026-04-17..2026-04-20]", "off: [2026-04-20, 2026-04-21]"), encoding="utf-8")
    calendars.reload_data(data_copy)
    clock.set(datetime(2026, 4, 15, 11, tzinfo=SHANGHAI))
    assert _review_last_day(engine, "CORR-2") == "2026-04-17"
