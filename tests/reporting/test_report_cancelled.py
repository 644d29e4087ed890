"""Steps of a cancelled instance in the supervision report: not on time when cancelled before their due time, late
when cancelled after it, for rows the engine writes now and for rows written before cancels were marked."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from calendars import get_calendar
from engine import Actor, Engine, ManualClock
from engine.cli_report import build_report
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from engine.reporting.figures import Figures, StepRecord, build_month_report
from engine.reporting.render import render
from engine.sla import SlaCalculator
from notifiers.directory import YamlDirectory
from storage import open_store
from storage.reports import stopped_by_cancel
from storage.tables import clock_t, instance_t

ROOT = Path(__file__).resolve().parents[2]
GX_BUREAU = "11450000MB1A832730"  # tagged `org: gx.bureau` in notifiers/example_directory.yaml
GX_REVIEWER = Actor("gx-rev", frozenset({"bureau_reviewer"}), GX_BUREAU)
HEALTH, POLICE = make_credit_code(1), make_credit_code(2)
APPLICANT = Actor("zhang.san", frozenset({"data_admin"}), HEALTH)
VARS = {"consumer_dept": HEALTH, "provider_dept": POLICE, "resource_id": "RK-0001",
        "purpose": "新生儿出生医学证明办理核验", "sharing_type": "conditional"}
DIRECTORY = YamlDirectory(ROOT / "notifiers" / "example_directory.yaml")


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


MONTH_END = at(11, 1)


class World:
    """gx.data_request instances on a temporary database, cancelled by the gx bureau's reviewer."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = ManualClock(at(10, 12, 10))
        self.store = open_store(str(tmp_path / "cancel.db"))
        self.engine = Engine(self.store, DefinitionSet.load([ROOT / "workflows" / "gx" / "data_request.yaml"]),
                             clock=self.clock)
        self.engine.register_hook("resource_users", lambda variables: {"users": []})

    def start(self, key: str) -> str:
        return self.engine.start("gx.data_request", key, VARS, APPLICANT).id

    def advance(self, moment: datetime) -> None:
        self.clock.set(moment)
        self.engine.tick(moment)

    def report(self, as_of: datetime = MONTH_END) -> Figures:
        return build_report(self.store.engine, self.engine.definitions, DIRECTORY, "2026-10", as_of).totals


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Mon 10-12 10:00, three requests reach normative review (2 WD: 10-13, 10-14; due 24:00 10-14).

    A is cancelled on 10-13, inside its period. B passes on time on 10-13 and is cancelled on 10-14 in provider
    approval (5 WD, due 24:00 10-20). C is never answered, breaches at 24:00 10-14 and is cancelled on 10-16.
    """
    w = World(tmp_path)
    a, b, c = w.start("SQ-A"), w.start("SQ-B"), w.start("SQ-C")
    w.advance(at(10, 13, 10))
    w.engine.cancel(a, GX_REVIEWER, "申请人撤回")
    w.engine.fire(b, "pass", GX_REVIEWER)
    w.advance(at(10, 14, 10))
    w.engine.cancel(b, GX_REVIEWER, "申请人撤回")
    w.advance(at(10, 16, 10))
    w.engine.cancel(c, GX_REVIEWER, "申请人撤回")
    yield w
    w.engine.close()


def test_a_step_cancelled_before_its_due_time_is_neither_on_time_nor_late(world: World) -> None:
    """A's and B's cancelled steps count apart; B's answered review is on time; C's review, cancelled after its
    due time, was late; no cancelled step counts in the working days taken."""
    t = world.report()
    assert (t.due, t.on_time, t.late, t.open_overdue, t.cancelled) == (2, 1, 1, 0, 2)
    assert t.on_time_rate == 0.5
    # B's review only: received 10-12, answered 10-13: one working day
    assert t.average_working_days == 1.0


def test_rows_written_before_cancels_were_marked_read_the_same(world: World) -> None:
    """Clocks a cancel stopped with status `met`, as the engine once wrote them, are still told apart by their
    instance (cancelled, changed last at that moment, in that state): the figures do not change."""
    before = world.report()
    with world.store.engine.begin() as conn:
        cancelled = sa.select(instance_t.c.id).where(instance_t.c.status == "cancelled")
        changed = conn.execute(sa.update(clock_t).where(clock_t.c.instance_id.in_(cancelled),
                                                        clock_t.c.stopped_at.is_not(None))
                               .values(status="met")).rowcount
    after = world.report()
    assert changed == 4  # A's review, B's review and approval, C's review
    assert (after.due, after.on_time, after.late, after.cancelled) == (before.due, before.on_time, before.late,
                                                                       before.cancelled) == (2, 1, 1, 2)


def test_before_the_cancel_the_step_reads_open(world: World) -> None:
    """As of 10-13 09:00 nothing was cancelled yet: nothing counts apart, and C is not yet due."""
    t = world.report(at(10, 13, 9))
    assert (t.cancelled, t.on_time, t.late) == (0, 0, 0)


def test_the_report_formats_show_the_cancelled_column(world: World) -> None:
    """Markdown and HTML carry a 到期前撤销 column, the CSV a `cancelled` column with the same total."""
    report = build_report(world.store.engine, world.engine.definitions, DIRECTORY, "2026-10", at(11, 1))
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"), newline="")))
    assert next(r for r in rows if r["section"] == "total")["cancelled"] == "2"
    assert "到期前撤销" in render(report, "md") and "到期前撤销" in render(report, "html")


# -- the rules on their own ----------------------------------------------------------------------------------

STEP = StepRecord(workflow_id="P", workflow_name="流程", instance_id="i", business_key="K", state="review",
                  state_title="审批", department="D", department_name="部门", started=at(10, 12, 10),
                  due=at(10, 15), finished=None)


def _totals(*records: StepRecord) -> Figures:
    return build_month_report(records, "2026-10", at(11, 1), get_calendar("CN-GX").working_days_between,
                              late_by=partial(SlaCalculator().late_by, "CN-GX")).totals


def test_figures_by_the_moment_of_the_cancel() -> None:
    """Cancelled by the due time: counted apart (its warning still counts); after it: late, with no time taken."""
    early = replace(STEP, finished=at(10, 14, 9), cancelled=True, warnings=1)
    late = replace(STEP, finished=at(10, 16, 9), cancelled=True, breached=True)
    answered = replace(STEP, finished=at(10, 14, 9))
    t = _totals(early, late, answered)
    assert (t.due, t.on_time, t.late, t.late_finished, t.cancelled, t.warnings, t.breaches) == (2, 1, 1, 1, 1, 1, 1)
    assert t.working_days_taken == [2]  # the answered step only: 10-13, 10-14


@pytest.mark.parametrize(("status", "stopped", "state", "inst_status", "inst_state", "updated", "expected"), [
    ("cancelled", at(10, 13), "review", "cancelled", "review", at(10, 13), True),
    ("met", at(10, 13), "review", "cancelled", "review", at(10, 13), True),  # an old row
    ("met", at(10, 13), "review", "completed", "done", at(10, 13), False),  # answered
    ("met", at(10, 13), "review", "cancelled", "approval", at(10, 14), False),  # answered before the cancel
    ("met", at(10, 13), "review", "cancelled", "approval", at(10, 13), False),  # answered at the cancel's moment
    ("cancelled", None, "review", "cancelled", "review", at(10, 13), False),  # stopped after the report's moment
])
def test_which_stopped_clocks_were_stopped_by_a_cancel(status: str, stopped: datetime | None, state: str,
                                                      inst_status: str, inst_state: str, updated: datetime,
                                                      expected: bool) -> None:
    """The clock's own mark, or for old rows its instance: cancelled at the clock's stop, in the clock's state."""
    assert stopped_by_cancel(status, stopped, state, inst_status, inst_state, updated) is expected


def test_an_hour_later_the_same_old_row_is_an_answer() -> None:
    """A `met` clock that stopped before its instance's last change was answered, not cancelled."""
    assert not stopped_by_cancel("met", at(10, 13), "review", "cancelled", "review", at(10, 13) + timedelta(hours=1))
