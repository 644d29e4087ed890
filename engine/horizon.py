"""How far ahead the calendar data lets each deadline of the served workflows be counted.

A strict engine refuses a command whose deadline needs a year without data (`CalendarYearMissing`), so the day a
year's file is missing starts to matter is not 1 January: a procedure with a 10-working-day publicity cannot
enter it from about two weeks before. `calendar_horizon` finds, for every deadline with a fixed period, the first
day from which a start (at that day's last moment, the latest count) needs a missing year, so that the operators
can add the file before the refusals begin (`cli.py horizon`, and the worker's daily warning).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from calendars.errors import CalendarYearMissing as _CalendarYearMissing
from engine.clock import SHANGHAI
from engine.spec import DueSpec, DurationSpec, StateKind, WorkflowSpec

#: How far ahead a deadline is followed: a year and a month, beyond any period the regulations set.
SEARCH_DAYS = 400
_LAST_MOMENT = time(23, 59, 59)


@dataclass(frozen=True, slots=True)
class DeadlineReach:
    """One deadline of one workflow and the first day a start needs a year without data (None: not within
    `SEARCH_DAYS`). `missing` names the files whose absence refuses it; `kind` is task, procedure or timer."""

    workflow_id: str
    workflow_name: str
    where: str  # the state, or "" for the procedure's own deadline
    kind: str
    period: DurationSpec
    calendar: str
    refused_from: date | None
    missing: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "the whole procedure" if self.kind == "procedure" else f"{self.where} ({self.kind})"


@dataclass(frozen=True, slots=True)
class CalendarHorizon:
    """Every fixed-period deadline's reach, soonest refusal first; `by_date` lists the deadlines counted to a
    date a variable holds, whose reach depends on the case (they are refused when that date has no data)."""

    today: date
    deadlines: tuple[DeadlineReach, ...]
    by_date: tuple[tuple[str, str], ...]  # (workflow id, where)

    @property
    def first(self) -> DeadlineReach | None:
        """The deadline refused soonest, if any is within reach of the search."""
        return next((d for d in self.deadlines if d.refused_from is not None), None)

    def refused_within(self, days: int) -> tuple[DeadlineReach, ...]:
        """The deadlines refused on a day before `today + days` (already refused ones included)."""
        limit = self.today + timedelta(days=days)
        return tuple(d for d in self.deadlines if d.refused_from is not None and d.refused_from < limit)

    @property
    def missing(self) -> tuple[str, ...]:
        """The files whose absence causes the refusals, in the order the refusals come."""
        files: dict[str, None] = {}
        for d in self.deadlines:
            files.update(dict.fromkeys(d.missing))
        return tuple(files)


def _periods(spec: WorkflowSpec) -> Iterable[tuple[str, str, DueSpec]]:
    """(where, kind, due) of every deadline the workflow counts: the procedure's, each task's, each timer's."""
    if spec.sla is not None:
        yield "", "procedure", spec.sla.due
    for name, st in spec.states.items():
        if st.kind is StateKind.TASK and st.sla is not None:
            yield name, "task", st.sla.due
        elif st.kind is StateKind.TIMER:
            yield name, "timer", DueSpec(duration=st.after) if st.after is not None else DueSpec(
                date_variable=st.at_variable)


def calendar_horizon(specs: Iterable[WorkflowSpec], policy: Any, today: date) -> CalendarHorizon:
    """The reach of every deadline of `specs` under the deadline policy `policy` (a `calendars.DeadlinePolicy`;
    None: the default), counted as a strict engine counts, since the question is when it starts refusing."""
    from engine.sla import SlaCalculator

    calculator = SlaCalculator(False, policy)
    reaches: list[DeadlineReach] = []
    by_date: list[tuple[str, str]] = []
    for spec in specs:
        for where, kind, due in _periods(spec):
            if due.duration is None or due.from_variable is not None:
                by_date.append((spec.id, where or "procedure"))
                continue
            first, missing = _first_refused(calculator, spec.calendar, due, today)
            reaches.append(DeadlineReach(spec.id, spec.name.zh, where, kind, due.duration, spec.calendar, first,
                                         missing))
    reaches.sort(key=lambda d: (d.refused_from or date.max, d.workflow_id, d.where))
    return CalendarHorizon(today, tuple(reaches), tuple(by_date))


def _first_refused(calculator: Any, region: str, due: DueSpec, today: date) -> tuple[date | None, tuple[str, ...]]:
    """The first day from `today` whose last moment starts a count needing a year without data, found by
    bisection: a later start never ends earlier, so once refused, every later day is too."""

    def refusal(day: date) -> _CalendarYearMissing | None:
        try:
            calculator.due(region, datetime.combine(day, _LAST_MOMENT, SHANGHAI), due, {})
        except _CalendarYearMissing as err:
            return err
        return None

    lo, hi = today, today + timedelta(days=SEARCH_DAYS)
    err = refusal(hi)
    if err is None:
        return None, ()
    while lo < hi:  # hi is refused, with err; the answer lies in [lo, hi]
        mid = lo + (hi - lo) // 2
        found = refusal(mid)
        if found is None:
            lo = mid + timedelta(days=1)
        else:
            hi, err = mid, found
    return hi, tuple(err.missing)


def horizon_summary(horizon: CalendarHorizon, within: int) -> str:
    """One paragraph for an operator: what is or will be refused, from when, and which files end it."""
    first = horizon.first
    if first is None or first.refused_from is None:
        return (f"the calendar data covers every deadline of these workflows started in the next {SEARCH_DAYS} days"
                if horizon.deadlines else "no workflow counts a fixed period")
    soon = horizon.refused_within(within)
    when = "already" if first.refused_from <= horizon.today else f"from {first.refused_from}"
    what = f"{first.workflow_id}'s {first.label}, {first.period}"
    head = (f"{len(soon)} deadline(s) need a year without calendar data within {within} days; the first, {what}, "
            f"is refused {when}." if soon else
            f"The calendar data runs short in more than {within} days: {what} is refused {when}.")
    files = " and ".join(horizon.missing)
    return (f"{head} A strict engine refuses a command that would start such a deadline (CalendarYearMissing) until "
            f"{files} {'is' if len(horizon.missing) == 1 else 'are'} added (see docs/calendar.md, Adding a year); an "
            "engine run with --allow-provisional counts it from weekends and fixed-date holidays, and the worker "
            "recomputes it once the file is in.")


__all__ = ["SEARCH_DAYS", "CalendarHorizon", "DeadlineReach", "calendar_horizon", "horizon_summary"]
