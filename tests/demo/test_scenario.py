"""The demo's cases and answer times: spread over autumn 2026, seeded, and on working days across National Day."""

from __future__ import annotations

import random
from datetime import date, datetime, time

from calendars import get_calendar
from engine.clock import SHANGHAI
from engine.demo.playbook import CHOICES, choose
from engine.demo.scenario import FIRST_START, LAST_START, answer_moment, days_to_answer, plan_cases

DEPTS = ["11450200007565127X", "11450200MB0K273590", "11450200007565442H", "11450200MB0N561879"]


def test_cases_spread_over_the_season_and_are_seeded() -> None:
    """Starts fall between 09-01 and 11-15, in time order; the same seed plans the same cases."""
    cases = plan_cases(120, 3, DEPTS)
    days = [c.start.date() for c in cases]
    assert days == sorted(days)
    assert days[0] >= FIRST_START and days[-1] <= LAST_START
    assert any(date(2026, 10, 1) <= d <= date(2026, 10, 7) for d in days)  # National Day has filings too
    assert plan_cases(120, 3, DEPTS) == cases
    assert plan_cases(120, 4, DEPTS) != cases


def test_an_answer_after_hours_before_national_day_comes_on_10_08() -> None:
    """A task that arrives 09-30 at 17:00 and is answered 'the same day' is answered on 10-08, the next WD."""
    cal = get_calendar("CN-GX")
    moment = answer_moment(cal, datetime(2026, 9, 30, 17, tzinfo=SHANGHAI), 0, random.Random(1))
    assert moment.date() == date(2026, 10, 8)
    assert time(9) < moment.time() < time(17)


def test_two_working_days_from_friday_10_09_is_monday_10_12() -> None:
    """The make-up Saturday 10-10 is the first working day; Monday 10-12 the second."""
    cal = get_calendar("CN-GX")
    moment = answer_moment(cal, datetime(2026, 10, 9, 16, tzinfo=SHANGHAI), 2, random.Random(1))
    assert moment.date() == date(2026, 10, 12)


def test_answer_bands() -> None:
    """Always late: past the due day; never late and never on the last day: before it."""
    rng = random.Random(5)
    assert all(days_to_answer(5, 1.0, 0.0, rng) > 5 for _ in range(50))
    assert all(days_to_answer(5, 0.0, 1.0, rng) == 5 for _ in range(50))
    assert all(days_to_answer(5, 0.0, 0.0, rng) < 5 for _ in range(50))


def test_a_revisited_state_takes_the_usual_answer() -> None:
    """After a correction or a meeting the case moves forward: no second return, no second meeting."""
    rng = random.Random(0)
    usual = CHOICES[("lz.dispatch_data_request", "provider_review")][0][0]
    assert {choose("lz.dispatch_data_request", "provider_review", 2, rng) for _ in range(30)} == {usual}
    assert choose("lz.unknown", "x", 1, rng) is None
