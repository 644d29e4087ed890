"""The SLA calculator's caches: a day-counted deadline shared by the starts of one day, a ladder per due time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from calendars import DeadlinePolicy
from engine.clock import SHANGHAI
from engine.sla import SlaCalculator
from engine.spec import DueSpec, DurationSpec, DurationUnit, EscalationLevelSpec, SlaSpec

#: Every 150 minutes from the Thursday before the 2026 Spring Festival break to well after it.
STARTS = [datetime(2026, 2, 12, 0, 5, tzinfo=SHANGHAI) + timedelta(minutes=150 * i) for i in range(200)]
POLICIES = [DeadlinePolicy(), DeadlinePolicy(receipt="next_working_day"),
            DeadlinePolicy(business_hours=(time(9), time(17, 30)), receipt="next_working_day")]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("period", ["2 WD", "5 WD", "10 CD", "3 WH"])
def test_cached_deadlines_equal_computed_ones(policy: DeadlinePolicy, period: str) -> None:
    """For starts at every hour of many days around a holiday, the cached due time is the computed one."""
    cached, fresh = SlaCalculator(policy=policy), SlaCalculator(policy=policy)
    due = DueSpec(duration=DurationSpec.parse(period))
    for start in STARTS:
        expected = fresh._due("CN-GX", start, due, {})  # the computation itself, never cached
        assert cached.due("CN-GX", start, due, {}) == expected, start
        assert cached.due("CN-GX", start.astimezone(SHANGHAI).replace(tzinfo=None).replace(
            tzinfo=SHANGHAI), due, {}) == expected


def test_ladder_is_the_warnings_due_time_and_levels_in_time_order() -> None:
    """The ladder holds each warning before the due time, the due time and each level, sorted, cached or not."""
    calc = SlaCalculator()
    sla = SlaSpec(due=DueSpec(duration=DurationSpec(5, DurationUnit.WORKING_DAYS)),
                  warn_before=(DurationSpec(1, DurationUnit.WORKING_DAYS), DurationSpec(0, DurationUnit.WORKING_DAYS)),
                  escalations=(EscalationLevelSpec(1, DurationSpec(0, DurationUnit.WORKING_DAYS), ()),
                               EscalationLevelSpec(2, DurationSpec(2, DurationUnit.WORKING_DAYS), ())))
    due = calc.due("CN-GX", datetime(2026, 3, 2, 10, tzinfo=SHANGHAI), sla.due, {})
    warn, levels = calc.warn_times("CN-GX", due, sla), calc.level_times("CN-GX", due, sla)
    expected = sorted([(w, "warn", i) for i, w in enumerate(warn, start=1) if w < due.due]
                      + [(due.due, "due", 0)] + [(at, "escalate", n) for n, at in levels], key=lambda r: r[0])
    assert list(calc.ladder("CN-GX", due, sla)) == expected
    assert list(calc.ladder("CN-GX", due, sla)) == expected  # answered from the cache
    assert [kind for _, kind, _ in expected].count("warn") == 1  # a warning 0 WD before is the due time: no rung


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("period", ["2 WD", "10 CD", "3 WH"])
def test_cached_openings_equal_computed_ones(policy: DeadlinePolicy, period: str) -> None:
    """A new clock's opening (due time, last day text, ladder), shared by the starts of one day, is the computed one."""
    cached, fresh = SlaCalculator(policy=policy), SlaCalculator(policy=policy)
    sla = SlaSpec(due=DueSpec(duration=DurationSpec.parse(period)), warn_before=(DurationSpec.parse("1 WD"),),
                  escalations=(EscalationLevelSpec(1, DurationSpec.parse("1 WD"), ()),))
    for start in STARTS:
        due = fresh._due("CN-GX", start, sla.due, {})
        expected = (due, due.last_day.isoformat(), fresh._ladder("CN-GX", due, sla))
        assert cached.opening("CN-GX", start, sla, {}) == expected, start
