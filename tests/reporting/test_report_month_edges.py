"""The edges of a report's month: a step due at 24:00 on the last day, clocks standing still at the report's
moment, and months the report's moment has not reached.

Calendar facts (国办发明电〔2025〕7号): 10-01..10-08 are days off, 09-28 and 10-11 make-up working days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from cli import main as cli_main
from engine import Actor, Engine, ManualClock
from engine.cli_report import build_report
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from engine.reporting.figures import MonthReport
from notifiers.directory import YamlDirectory
from storage import open_store
from tests.reporting.ticking import tick_every_half_day

ROOT = Path(__file__).resolve().parents[2]
DIRECTORY = YamlDirectory(ROOT / "notifiers" / "example_directory.yaml")
SYSTEM = Actor.system()
HEALTH, POLICE = make_credit_code(1), make_credit_code(2)
LZ_HR, LZ_POLICE = "11450200007565442H", "11450200007565127X"


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def gx_request() -> dict[str, str]:
    return {"consumer_dept": HEALTH, "provider_dept": POLICE, "resource_id": "RK-0001", "purpose": "核验",
            "sharing_type": "conditional"}


def lz_dispatch() -> dict[str, str]:
    return {"consumer_dept": LZ_HR, "provider_dept": LZ_POLICE, "resource_id": "RK-0002", "purpose": "核验",
            "sharing_type": "conditional", "conditions": "仅限核验"}


class World:
    """The Engine on a temporary database, ticked every twelve hours up to each moment it is taken to."""

    def __init__(self, tmp_path: Path) -> None:
        self.ticked = at(9, 28)
        self.clock = ManualClock(self.ticked)
        self.store = open_store(str(tmp_path / "edges.db"))
        self.engine = Engine(self.store, DefinitionSet.load([ROOT / "workflows"]), clock=self.clock)
        self.engine.register_hook("resource_users", lambda variables: {"users": []})
        self.db = str(tmp_path / "edges.db")

    def until(self, moment: datetime) -> None:
        self.ticked = tick_every_half_day(self.engine, self.clock, self.ticked, moment)
        self.engine.tick(moment)
        self.engine.tick(moment)

    def start(self, workflow: str, key: str, variables: dict[str, str], moment: datetime) -> str:
        self.until(moment)
        return self.engine.start(workflow, key, variables, SYSTEM).id

    def report(self, month: str, as_of: datetime) -> MonthReport:
        return build_report(self.store.engine, self.engine.definitions, DIRECTORY, month, as_of)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """LAST-DAY reaches normative review (2 WD) on Mon 09-28: due at 24:00 on 09-30, passed late on 10-09.

    SUSPENDED reaches normative review on 10-19 (due 24:00 10-21) and is suspended on 10-20, inside its period.
    MEETING's provider review (3 WD from 10-26, due 24:00 10-29) pauses in a coordination meeting on 10-27.
    LATE-THEN-SUSPENDED's review is due at 24:00 10-14, breaches, and is suspended on 10-16.
    All three stand still at the end of October.
    """
    w = World(tmp_path_factory.mktemp("edges"))
    last_day = w.start("gx.data_request", "LAST-DAY", gx_request(), at(9, 28, 9))
    w.until(at(10, 9, 10))
    w.engine.fire(last_day, "pass", SYSTEM)
    late = w.start("gx.data_request", "LATE-THEN-SUSPENDED", gx_request(), at(10, 12, 9))
    w.until(at(10, 16, 10))
    w.engine.suspend(late, SYSTEM, "补充材料")
    suspended = w.start("gx.data_request", "SUSPENDED", gx_request(), at(10, 19, 9))
    w.until(at(10, 20, 10))
    w.engine.suspend(suspended, SYSTEM, "补充材料")
    meeting = w.start("lz.dispatch_data_request", "MEETING", lz_dispatch(), at(10, 26, 9))
    w.until(at(10, 27, 9))
    w.engine.fire(meeting, "request_coordination", SYSTEM, {"coordination_topic": "共享范围"})
    w.until(at(11, 1))
    yield w
    w.engine.close()


def test_a_step_due_at_24_00_on_the_months_last_day_is_in_that_months_report(world: World) -> None:
    """LAST-DAY's review, due at 24:00 on 30 September, is a September step answered late, not lost."""
    report = world.report("2026-09", at(10, 10))
    t = report.totals
    assert (t.due, t.on_time, t.late, t.late_finished) == (1, 0, 1, 1)
    assert [f.key for f in report.by_procedure] == ["gx.data_request"]


def test_a_step_due_at_the_months_end_is_an_open_item_at_that_moment(world: World) -> None:
    """As of 24:00 on 30 September, LAST-DAY's review has run out and is the one item to chase."""
    report = world.report("2026-09", at(10, 1))
    assert [i.record.business_key for i in report.open_items] == ["LAST-DAY"]
    assert (report.totals.due, report.totals.open_overdue) == (1, 1)


def test_clocks_standing_still_are_due_but_not_late(world: World) -> None:
    """SUSPENDED's and MEETING's steps are due in October and not finished, but neither late nor to chase: their
    due times move on when they count again. LATE-THEN-SUSPENDED breached before its pause and stays late, as
    does LAST-DAY's provider approval (5 WD from 10-09, due 24:00 10-15), never answered."""
    report = world.report("2026-10", at(11, 1))
    t = report.totals
    assert (t.due, t.on_time, t.late, t.open_overdue) == (4, 0, 2, 2)
    assert {i.record.business_key for i in report.open_items} == {"LATE-THEN-SUSPENDED", "LAST-DAY"}
    procedures = {f.key: (f.due, f.late, f.open_overdue) for f in report.by_procedure}
    assert procedures == {"gx.data_request": (3, 2, 2), "lz.dispatch_data_request": (1, 0, 0)}


def test_before_its_pause_a_clock_reads_as_running(world: World) -> None:
    """As of 10-16 09:00 LATE-THEN-SUSPENDED was not yet suspended: open past due, as it was then."""
    report = world.report("2026-10", at(10, 16, 9))
    items = {i.record.business_key: i.record.paused for i in report.open_items}
    assert items == {"LATE-THEN-SUSPENDED": False, "LAST-DAY": False}


def test_a_month_not_yet_begun_is_refused(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A report of November as of 31 October would list only other months' items: exit 2, saying why."""
    code = cli_main(["report", "--month", "2026-11", "--db", world.db, "--as-of", "2026-10-31T18:00"])
    err = capsys.readouterr().err
    assert code == 2
    assert "2026-11 has not begun" in err and "2026-11-01T00:00" in err


def test_a_month_far_ahead_of_now_is_refused(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --as-of the moment is now, before December 2999 has begun."""
    code = cli_main(["report", "--month", "2999-12", "--db", world.db])
    assert code == 2
    assert "has not begun" in capsys.readouterr().err


@pytest.mark.parametrize("month", ["2026-1", "26-10", "2026-010", " 2026-10", "２０２６-10"])
def test_a_month_not_written_yyyy_mm_is_refused(world: World, month: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Only YYYY-MM names a month."""
    code = cli_main(["report", "--month", month, "--db", world.db, "--as-of", "2026-11-01T00:00"])
    assert code == 2
    assert "YYYY-MM" in capsys.readouterr().err
