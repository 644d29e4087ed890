"""The supervision month report: figures from known step records around National Day 2026."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from functools import partial

import pytest

from calendars import get_calendar
from engine.clock import SHANGHAI
from engine.reporting.figures import StepRecord, build_month_report, month_bounds
from engine.reporting.render import render
from engine.sla import SlaCalculator

X, Y = "91450200MA5K000001", "11450200MB0000002X"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


def step(key: str, dept: str, wf: str, started: datetime, due: datetime, finished: datetime | None,
         **kw: object) -> StepRecord:
    return StepRecord(
        workflow_id=wf, workflow_name=f"流程{wf}", instance_id=key, business_key=key, state="review",
        state_title="审批", department=dept, department_name=f"部门{dept[-1]}", started=started, due=due,
        finished=finished, **kw,  # type: ignore[arg-type]
    )


RECORDS = [
    # received 09-30, 2 WD: 10-08 and 10-09 are the working days after National Day; answered on 10-09
    step("A", X, "P", at(2026, 9, 30, 10), at(2026, 10, 10), at(2026, 10, 9, 15)),
    # 5 WD from 10-09 (10-10 is a make-up Saturday) end with 10-15; answered on 10-19: late
    step("B", X, "P", at(2026, 10, 9, 16), at(2026, 10, 16), at(2026, 10, 19, 10),
         warnings=1, breached=True, escalation_level=1),
    # last day 10-22 and still open at the end of the month
    step("C", Y, "Q", at(2026, 10, 20, 9), at(2026, 10, 23), None, warnings=1, breached=True, escalation_level=2),
    # due in November: not part of October
    step("D", Y, "Q", at(2026, 10, 30, 9), at(2026, 11, 5), None),
    # due in September, still open: carried over as an open overdue item, not counted as due in October
    step("E", Y, "Q", at(2026, 9, 21, 9), at(2026, 9, 28), None, breached=True),
]


@pytest.fixture(scope="module")
def report():
    cal = get_calendar("CN")
    return build_month_report(RECORDS, "2026-10", at(2026, 10, 31, 12), cal.working_days_between,
                              late_by=partial(SlaCalculator().late_by, "CN"))


def test_totals_count_steps_due_in_the_month(report) -> None:
    """Three steps fall due in October: one on time, two late, and two open items are past due."""
    t = report.totals
    assert (t.due, t.on_time, t.late, t.open_overdue) == (3, 1, 2, 2)
    assert (t.warnings, t.breaches, t.escalations) == (2, 2, 3)


def test_average_counts_working_days_across_the_holiday(report) -> None:
    """A took 2 WD (10-08, 10-09) and B took 7 WD (10-10 make-up Saturday included): average 4.5."""
    assert report.totals.average_working_days == 4.5
    by_dept = {f.key: f for f in report.by_department}
    assert by_dept[X].working_days_taken == [2, 7]
    assert by_dept[Y].average_working_days is None


def test_open_items_are_sorted_by_lateness_in_working_days(report) -> None:
    """E (last day 09-27) is later than C (last day 10-22); lateness counts working days after the last day."""
    # E: 09-28..09-30 (3) + 10-08, 10-09, 10-10 (3) + three full weeks (15) = 21; C: 10-23 + 10-26..10-30 = 6
    assert [(i.record.business_key, i.late_working_days) for i in report.open_items] == [("E", 21), ("C", 6)]


def test_csv_carries_the_same_figures(report) -> None:
    """The CSV rows hold the department figures for scripts."""
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    x = next(r for r in rows if r["section"] == "department" and r["key"] == X)
    assert (x["due"], x["on_time"], x["late"], x["average_working_days"]) == ("2", "1", "1", "4.5")


def test_html_has_a_chart_and_escapes_names() -> None:
    """The HTML page carries an SVG chart and escapes what departments are called."""
    rec = step("Z", X, "P", at(2026, 10, 9, 16), at(2026, 10, 16), at(2026, 10, 19, 10))
    rec = StepRecord(**{**{f: getattr(rec, f) for f in rec.__slots__}, "department_name": "<b>局</b>"})
    rep = build_month_report([rec], "2026-10", at(2026, 10, 31), get_calendar("CN").working_days_between,
                             late_by=partial(SlaCalculator().late_by, "CN"))
    page = render(rep, "html")
    assert "<svg" in page and "&lt;b&gt;局&lt;/b&gt;" in page and "<b>局</b>" not in page


def test_bad_month_and_format_are_refused() -> None:
    """A malformed month or unknown format names what is expected."""
    with pytest.raises(ValueError) as bad_month:
        month_bounds("2026/10")
    assert "YYYY-MM" in str(bad_month.value)
    with pytest.raises(ValueError) as bad_fmt:
        render(build_month_report([], "2026-10", at(2026, 10, 31), lambda a, b: 0, late_by=lambda d, n: 0), "pdf")
    assert "md, csv, html" in str(bad_fmt.value)
