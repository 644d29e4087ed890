"""Deadline maths for SLA clocks and timers, on the working-day calendar; calendar errors become engine errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from engine.clock import SHANGHAI
from engine.errors import CalendarDataInvalid, CalendarYearMissing, PayloadInvalid
from engine.memo import Derived
from engine.spec import DueSpec, SlaSpec

T = TypeVar("T")

#: A clock's moments in time order: (moment, kind "warn" / "due" / "escalate", warning number or level).
Ladder = tuple[tuple[datetime, str, int], ...]
#: What a new clock stores: its due time (provisional also when its ladder is), its last working day as ISO
#: text, its ladder.
Opening = tuple["DueTime", str, Ladder]
#: The caches of deadlines and ladders are emptied when they grow past this many entries.
_CACHE_LIMIT = 8192
#: Moments ending a day at 24:00 are 00:00 of the next day: one step back gives the day they end.
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class DueTime:
    """A computed deadline: the moment, the last working day, and whether a year's data was guessed."""

    due: datetime
    last_day: date
    provisional: bool


class SlaCalculator:
    """Computes due times, warning and escalation moments, and pause extensions, per calendar region."""

    def __init__(self, allow_provisional: bool = False, policy: Any = None) -> None:
        self.allow_provisional = allow_provisional
        self._policy = policy
        self._calendars: dict[str, Any] = {}
        self._guessing: dict[str, Any] = {}
        # Day-counted deadlines depend on the day a period starts, not the moment, and a ladder on its due time:
        # the instances started on one day share them. Keyed by spec identity (the spec kept in the entry).
        self._dues: Derived[DueTime] = Derived(_CACHE_LIMIT)
        self._ladders: Derived[Ladder] = Derived(_CACHE_LIMIT)
        self._openings: Derived[Opening] = Derived(_CACHE_LIMIT)
        from calendars.store import follow

        follow(self)  # a correction of the calendar data (calendars.reload_data) empties the caches above

    def _refresh(self, _data: Any) -> None:
        """Called by the calendar store after a reload: deadlines cached on the old data are forgotten."""
        self._dues.clear()
        self._ladders.clear()
        self._openings.clear()

    @property
    def policy(self) -> Any:
        if self._policy is None:
            from calendars import DeadlinePolicy

            self._policy = DeadlinePolicy()
        return self._policy

    def calendar(self, region: str) -> Any:
        cal = self._calendars.get(region)
        if cal is None:
            from calendars import get_calendar

            cal = _wrapped(lambda: get_calendar(region, allow_provisional=self.allow_provisional))
            self._calendars[region] = cal
        return cal

    def is_working_day(self, region: str, day: date) -> bool:
        """Whether `day` is a working day of the region's calendar; a year without data is CalendarYearMissing
        unless provisional deadlines are allowed."""
        cal = self.calendar(region)
        return bool(_wrapped(lambda: cal.is_working_day(day)))

    def ladder_calendar(self, region: str) -> Any:
        """The calendar warnings, escalation levels and lateness are counted on: the region's, answering for a
        year without data from weekends and fixed-date holidays (`touches_provisional` says where). A moment
        after the deadline must not stop a command that a deadline in a known year allows."""
        cal = self._guessing.get(region)
        if cal is None:
            from calendars import get_calendar

            cal = _wrapped(lambda: get_calendar(region, allow_provisional=True))
            self._guessing[region] = cal
        return cal

    def reload(self) -> None:
        """Forget the calendars so that newly added year files are used."""
        from calendars import reload_data

        _wrapped(reload_data)  # the caches are emptied by `_refresh`, which the reload calls
        self._calendars.clear()
        self._guessing.clear()

    def due(self, region: str, start: datetime, due: DueSpec, variables: Mapping[str, Any]) -> DueTime:
        day = self._start_day(start, due)
        if day is None:
            return self._due(region, start, due, variables)
        return self._dues.get((region, id(due), *day), due, lambda: self._due(region, start, due, variables))

    def opening(self, region: str, start: datetime, sla: SlaSpec, variables: Mapping[str, Any]) -> Opening:
        """What a clock of `sla` starting at `start` stores: its due time, its last working day as ISO text,
        and its ladder; shared, like `due`, by the clocks started on one day."""
        day = self._start_day(start, sla.due)
        if day is None:
            return self._opening(region, start, sla, variables)
        return self._openings.get((region, id(sla), *day), sla,
                                  lambda: self._opening(region, start, sla, variables))

    def _opening(self, region: str, start: datetime, sla: SlaSpec, variables: Mapping[str, Any]) -> Opening:
        due = self.due(region, start, sla.due, variables)
        ladder = self.ladder(region, due, sla)
        if not due.provisional and self.ladder_provisional(region, due, ladder):
            # stored as provisional, so that adding the year's file recomputes the clock and its ladder
            due = dataclasses.replace(due, provisional=True)
        return due, due.last_day.isoformat(), ladder

    def _start_day(self, start: datetime, due: DueSpec) -> tuple[date, bool | None] | None:
        """What a day-counted period's deadline depends on besides the spec: the start's day and, under the
        next-working-day receipt rule, whether it came after close of business (calendars.deadlines._received_on).
        None when the deadline depends on more (working hours, a date variable) and is not shared."""
        d = due.duration
        if d is None or due.from_variable is not None or d.unit.value == "WH" or start.tzinfo is None:
            return None
        local = start.astimezone(SHANGHAI)
        policy = self.policy
        return local.date(), local.time() >= policy.hours[1] if policy.receipt == "next_working_day" else None

    def _due(self, region: str, start: datetime, due: DueSpec, variables: Mapping[str, Any]) -> DueTime:
        from calendars.deadlines import due_after, end_of_day

        cal = self.calendar(region)
        if due.duration is not None:
            d, policy = due.duration, self.policy
            if due.from_variable is not None:
                # counted from the date, like a start at its first moment whose day is never counted
                day = _date_value(variables, due.from_variable, "a date (the period counts from that day)", start)
                start = datetime.combine(day, time(0), SHANGHAI)
                policy = dataclasses.replace(policy, receipt="never_counted")
            return _due_time(_wrapped(lambda: due_after(cal, start, d.amount, d.unit.value, policy)))
        day = _date_value(variables, due.date_variable or "", "a date (the deadline is the end of that day)",
                          start)
        return _due_time(_wrapped(lambda: end_of_day(cal, day, self.policy)))

    def _deadline(self, due: DueTime) -> Any:
        from calendars import Deadline

        return Deadline(due=due.due, last_day=due.last_day, provisional=due.provisional)

    def ladder(self, region: str, due: DueTime, sla: SlaSpec) -> Ladder:
        """The clock's whole ladder in time order: (moment, kind, level) of each warning before the due time,
        the due time, each escalation level; computed once per (region, due time, SLA)."""
        key = (region, due.due, due.last_day, due.provisional, id(sla))
        return self._ladders.get(key, sla, lambda: self._ladder(region, due, sla))

    def _ladder(self, region: str, due: DueTime, sla: SlaSpec) -> Ladder:
        warn, levels = self.warn_times(region, due, sla), self.level_times(region, due, sla)
        rungs = [(at, "warn", i) for i, at in enumerate(warn, start=1) if at < due.due]
        rungs.append((due.due, "due", 0))
        rungs.extend((at, "escalate", level) for level, at in levels)
        rungs.sort(key=lambda r: r[0])
        return tuple(rungs)

    def ladder_provisional(self, region: str, due: DueTime, ladder: Ladder) -> bool:
        """True when a moment of `ladder` (a clock's with `due`) rests on a year without data: the clock is then
        marked provisional, to be recomputed with the ladder when the year's file is added."""
        if not ladder:
            return False
        first = min(due.last_day, ladder[0][0].astimezone(SHANGHAI).date())
        last = max(due.last_day, (ladder[-1][0] - _INSTANT).astimezone(SHANGHAI).date())
        return bool(self.ladder_calendar(region).touches_provisional(first, last))

    def warn_times(self, region: str, due: DueTime, sla: SlaSpec) -> list[datetime]:
        from calendars.deadlines import moment_before

        cal, dl, policy = self.ladder_calendar(region), self._deadline(due), self.policy
        out: list[datetime] = []
        for w in sla.warn_before:
            out.append(_wrapped(lambda: moment_before(cal, dl, w.amount, w.unit.value, policy)))  # noqa: B023
        return out

    def level_times(self, region: str, due: DueTime, sla: SlaSpec) -> list[tuple[int, datetime]]:
        from calendars.deadlines import moment_after

        cal, dl, policy = self.ladder_calendar(region), self._deadline(due), self.policy
        out: list[tuple[int, datetime]] = []
        for e in sla.escalations:
            at = _wrapped(lambda: moment_after(cal, dl, e.after.amount, e.after.unit.value, policy))  # noqa: B023
            out.append((e.level, at))
        return out

    def extend(self, region: str, due: DueTime, working_days: int) -> DueTime:
        from calendars.deadlines import extend

        if working_days <= 0:
            return due
        cal, dl = self.calendar(region), self._deadline(due)
        return _due_time(_wrapped(lambda: extend(cal, dl, working_days, self.policy)))

    def working_days_between(self, region: str, start: datetime, end: datetime, *, moves_deadline: bool = True) -> int:
        """Working days in (start day, end day], Asia/Shanghai: what a pause from start to end adds.

        Where the count moves no deadline (a paused clock stopped for good: cancelled, or its task left), a year
        without data is answered from the calendar the ladder uses, not refused: otherwise a strict engine could
        not cancel a case or leave a pausing state until that year's notice is published."""
        cal = self.calendar(region) if moves_deadline else self.ladder_calendar(region)
        a, b = start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date()
        return int(_wrapped(lambda: cal.working_days_between(a, b))) if b > a else 0

    def late_by(self, region: str, due: datetime, now: datetime) -> int:
        """Whole working days elapsed after the due time: the working days after the deadline's last day that
        have ended by `now`. A day ends at 24:00, or at close of business where business hours are set: the end
        the ladder's "k WD after" counts to, so a level `after: k WD` is told "k working days late". A day that
        has only begun does not count. Past the last year with data the count is provisional, not refused."""
        if now <= due:
            return 0
        cal, hours = self.ladder_calendar(region), self.policy.business_hours
        last_day = (due - _INSTANT).astimezone(SHANGHAI).date()
        local = now.astimezone(SHANGHAI)
        ended = local.date() - timedelta(days=1)
        if hours is not None and local.time() >= hours[1] and _wrapped(lambda: cal.is_working_day(local.date())):
            ended = local.date()  # today's working day closed already
        return int(_wrapped(lambda: cal.working_days_between(last_day, ended))) if ended > last_day else 0


#: How far from the moment a clock starts a date variable that sets its deadline may lie: a deadline decades
#: away (a typo, or a department pushing out its own deadline) is refused, not computed or guessed.
DATE_VARIABLE_SPAN_YEARS = 5


def _date_value(variables: Mapping[str, Any], name: str, expected: str, start: datetime) -> date:
    day = variables.get(name)
    if isinstance(day, datetime):
        day = day.date()
    if not isinstance(day, date):
        raise PayloadInvalid(name, expected, day, where="variable")
    near = start.astimezone(SHANGHAI).date() if start.tzinfo is not None else start.date()
    if abs(day.year - near.year) > DATE_VARIABLE_SPAN_YEARS:
        raise PayloadInvalid(name, f"{expected}, within {DATE_VARIABLE_SPAN_YEARS} years of {near.isoformat()}",
                             day.isoformat(), where="variable")
    return day


def _due_time(deadline: Any) -> DueTime:
    return DueTime(deadline.due, deadline.last_day, bool(deadline.provisional))


def _wrapped(fn: Callable[[], T]) -> T:
    from calendars.errors import CalendarDataError as _Invalid
    from calendars.errors import CalendarYearMissing as _Missing

    try:
        return fn()
    except (CalendarYearMissing, CalendarDataInvalid):
        raise
    except _Missing as err:
        raise CalendarYearMissing.wrap(err) from err
    except _Invalid as err:
        raise CalendarDataInvalid.wrap(err) from err
