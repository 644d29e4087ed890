"""How far the calendar data reaches for the shipped workflows' deadlines (engine.horizon), on the real 2026
schedule, the last year the package holds: each deadline is refused from the first day a start at its last
moment needs 2027, and not a day earlier."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

import calendars
from calendars import CalendarYearMissing, DeadlinePolicy
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.horizon import CalendarHorizon, DeadlineReach, calendar_horizon, horizon_summary
from engine.sla import SlaCalculator
from engine.spec import DueSpec
from tests.engine.calendar_2027 import TEST_2027_CN, TEST_2027_GX

TODAY = date(2026, 11, 22)


def horizon(shipped: DefinitionSet, today: date = TODAY, policy: DeadlinePolicy | None = None) -> CalendarHorizon:
    return calendar_horizon([c.spec for c in shipped], policy, today)


def reach(h: CalendarHorizon, workflow_id: str, where: str) -> DeadlineReach:
    return next(d for d in h.deadlines if (d.workflow_id, d.where) == (workflow_id, where))


def counts(policy: DeadlinePolicy | None, d: DeadlineReach, day: date) -> bool:
    """Whether a start at the last moment of `day` can count the deadline on the strict calendar."""
    try:
        SlaCalculator(False, policy).due(d.calendar, datetime.combine(day, time(23, 59, 59), SHANGHAI),
                                         DueSpec(duration=d.period), {})
    except CalendarYearMissing:
        return False
    return True


def test_the_publicity_is_refused_first_from_18_december(shipped: DefinitionSet) -> None:
    """Liuzhou's 10 WD publicity started on Thursday 17 December ends on 31 December (18, 21-25, 28-31); started on
    Friday 18 December it would need 4 January 2027. It is the first deadline to run short."""
    h = horizon(shipped)
    assert h.first == reach(h, "lz.resource_offlining", "publicity")
    assert (h.first.kind, str(h.first.period), h.first.refused_from) == ("timer", "10 WD", date(2026, 12, 18))
    assert [Path(f).as_posix().split("calendars/data/")[-1] for f in h.missing] == ["cn/2027.yaml",
                                                                                   "cn-gx/2027.yaml"]


@pytest.mark.parametrize(("workflow_id", "where", "first"), [
    ("gx.data_request", "provider_approval", date(2026, 12, 25)),  # 5 WD: 28-31 Dec are four
    ("gx.data_request", "normative_review", date(2026, 12, 30)),   # 2 WD: 31 Dec is one
    ("gx.cloud_resource", "approval", date(2026, 12, 31)),         # 1 WD: none left after the 31st
])
def test_each_deadline_runs_short_by_its_own_length(shipped: DefinitionSet, workflow_id: str, where: str,
                                                    first: date) -> None:
    assert reach(horizon(shipped), workflow_id, where).refused_from == first


def test_every_reach_is_the_first_refused_day(shipped: DefinitionSet) -> None:
    """For every deadline found: the day before counts, the day itself is refused (the bisection's claim, checked
    against the calendar one day at a time)."""
    h = horizon(shipped)
    assert len(h.deadlines) > 20
    for d in h.deadlines:
        assert d.refused_from is not None
        assert counts(None, d, d.refused_from - timedelta(days=1)), d
        assert not counts(None, d, d.refused_from), d
    assert h.deadlines == tuple(sorted(h.deadlines, key=lambda d: (d.refused_from or date.max, d.workflow_id,
                                                                     d.where)))


def test_business_hours_with_next_day_receipt_move_it_a_day_earlier(shipped: DefinitionSet) -> None:
    """Closing at 17:30, with what arrives after hours received on the next working day: the review (2 WD) started
    late on Tuesday 29 December is received on the 30th and would end on 4 January."""
    policy = DeadlinePolicy(business_hours=(time(9), time(17, 30)), receipt="next_working_day")
    review = reach(horizon(shipped, policy=policy), "gx.data_request", "normative_review")
    assert review.refused_from == date(2026, 12, 29)
    assert counts(policy, review, date(2026, 12, 28)) and not counts(policy, review, date(2026, 12, 29))


def test_a_deadline_counted_to_a_date_is_listed_apart(shipped: DefinitionSet) -> None:
    """The network migration is due on the completion date the application gives: no day can be named."""
    h = horizon(shipped)
    assert ("gx.network_migration", "procedure") in h.by_date
    assert all(d.workflow_id != "gx.network_migration" or d.where for d in h.deadlines)


def test_a_day_past_the_first_refusal_is_refused_already(shipped: DefinitionSet) -> None:
    h = horizon(shipped, today=date(2026, 12, 20))
    assert h.first is not None and h.first.refused_from == date(2026, 12, 20)
    assert len(h.refused_within(1)) == 1
    assert "is refused already" in horizon_summary(h, 30)


def test_the_window_counts_from_today(shipped: DefinitionSet) -> None:
    """From 22 November the publicity's 18 December is 26 days ahead: inside 30 days, outside 26."""
    h = horizon(shipped)
    assert [d.where for d in h.refused_within(30)] == ["publicity"]
    assert h.refused_within(26) == ()
    assert "within 30 days" in horizon_summary(h, 30)
    assert "in more than 26 days" in horizon_summary(h, 26)


def test_adding_the_year_moves_the_horizon_a_year_on(shipped: DefinitionSet, data_copy: Path) -> None:
    """With 2027's files in, nothing runs short in 2026; the first refusal moves to December 2027 and names the
    2028 files."""
    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    (data_copy / "cn-gx" / "2027.yaml").write_text(TEST_2027_GX, encoding="utf-8")
    calendars.reload_data(data_copy)
    h = horizon(shipped)
    assert h.first is not None and h.first.refused_from is not None
    assert date(2027, 12, 1) < h.first.refused_from <= date(2027, 12, 31)
    assert all("2028" in f for f in h.missing)


def test_a_guangxi_year_known_in_part_runs_short_before_march(shipped: DefinitionSet, data_copy: Path) -> None:
    """Without Guangxi's own 2026 file, CN-GX knows 2026 up to 28 February only (its 三月三 is not out): in
    February the Guangxi deadlines run short and name that file alone."""
    (data_copy / "cn-gx" / "2026.yaml").unlink()
    calendars.reload_data(data_copy)
    h = horizon(shipped, today=date(2026, 2, 2))
    first = h.first
    assert first is not None and first.refused_from is not None
    assert first.calendar == "CN-GX" and first.refused_from < date(2026, 3, 1)
    assert [Path(f).name for f in first.missing] == ["2026.yaml"] and "cn-gx" in first.missing[0]
    assert counts(None, first, first.refused_from - timedelta(days=1)) and not counts(None, first,
                                                                                       first.refused_from)
