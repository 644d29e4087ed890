"""Legal deadline arithmetic (民法典 arts. 201 and 203, 行政许可法 art. 82) over a working calendar; pure functions.

All moments are timezone-aware and computed in Asia/Shanghai; a naive datetime is refused (CalendarInputError,
which is also a ValueError). "24:00 of day D" is represented as 00:00 of the day after D.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from calendars.errors import CalendarInputError

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNITS = ("WD", "CD", "WH")
_MIDNIGHT = time(0)


class WorkingCalendar(Protocol):
    """What deadline arithmetic needs from a calendar (ChinaWorkingCalendar provides it)."""

    def is_working_day(self, day: date) -> bool: ...
    def add_working_days(self, day: date, delta: int) -> date: ...
    def sub_working_days(self, day: date, delta: int) -> date: ...
    def next_working_day(self, day: date) -> date: ...
    def touches_provisional(self, first: date, last: date) -> bool: ...


@dataclass(frozen=True)
class DeadlinePolicy:
    """How a deployment counts: where a day ends, when a receipt counts, and the hours of an hour-period."""

    #: (open, close); None means a deadline ends at 24:00 of its last day
    business_hours: tuple[time, time] | None = None
    #: "never_counted": the day of receipt is never counted, whatever the hour (the default);
    #: "next_working_day": what arrives on a day off or after close of business counts as received on the next
    #: working day, and day 1 is the working day after that
    receipt: Literal["never_counted", "next_working_day"] = "never_counted"
    #: the hours a WH period counts in when business_hours is None
    working_hours: tuple[time, time] = (time(9), time(17))

    def __post_init__(self) -> None:
        if self.receipt not in ("never_counted", "next_working_day"):
            raise CalendarInputError("receipt", "'never_counted' or 'next_working_day'", self.receipt)
        for name in ("business_hours", "working_hours"):
            hours = getattr(self, name)
            if hours is None:
                continue
            if not (isinstance(hours, tuple) and len(hours) == 2 and all(isinstance(t, time) for t in hours)):
                raise CalendarInputError(name, "a pair (open, close) of datetime.time", hours)
            if not hours[0] < hours[1]:
                raise CalendarInputError(name, "open before close", hours)

    @property
    def hours(self) -> tuple[time, time]:
        """The hours a working-hour period counts in: business hours where set, else working_hours."""
        return self.business_hours or self.working_hours


@dataclass(frozen=True)
class Deadline:
    """When a period ends. `provisional` is True when any day it rests on lies in a year without data."""

    due: datetime
    last_day: date
    provisional: bool


def _local(moment: datetime, argument: str) -> datetime:
    if not isinstance(moment, datetime):
        raise CalendarInputError(argument, "a timezone-aware datetime", moment)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CalendarInputError(argument, "a timezone-aware datetime (e.g. tzinfo=ZoneInfo('Asia/Shanghai'))", moment)
    return moment.astimezone(SHANGHAI)


def _amount(amount: int, unit: str) -> None:
    if unit not in UNITS:
        raise CalendarInputError("unit", "one of WD (working days), CD (calendar days), WH (working hours)", unit)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise CalendarInputError("amount", "a whole number >= 0", amount)


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=SHANGHAI)


def _span(hours: tuple[time, time]) -> tuple[timedelta, timedelta]:
    return (timedelta(hours=hours[0].hour, minutes=hours[0].minute, seconds=hours[0].second),
            timedelta(hours=hours[1].hour, minutes=hours[1].minute, seconds=hours[1].second))


def _end_of(cal: WorkingCalendar, day: date, policy: DeadlinePolicy) -> datetime:
    """Close of business on a working day where business hours are set; otherwise 24:00."""
    if policy.business_hours is not None and cal.is_working_day(day):
        return _at(day, policy.business_hours[1])
    return _at(day + timedelta(days=1), _MIDNIGHT)


def _received_on(cal: WorkingCalendar, local: datetime, policy: DeadlinePolicy) -> date:
    day = local.date()
    if policy.receipt == "next_working_day":
        close = policy.hours[1]
        if not cal.is_working_day(day) or local.time() >= close:
            return cal.next_working_day(day)
    return day


def _add_hours(cal: WorkingCalendar, moment: datetime, hours: int, policy: DeadlinePolicy) -> datetime:
    opening, closing = _span(policy.hours)
    length = closing - opening
    day = moment.date()
    now = timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second, microseconds=moment.microsecond)
    if cal.is_working_day(day) and now < closing:
        begin = max(now, opening)
    else:
        day, begin = cal.next_working_day(day), opening
    remaining = timedelta(hours=hours)
    if remaining <= closing - begin:
        return _at(day, _MIDNIGHT) + begin + remaining
    remaining -= closing - begin
    full, rest = divmod(remaining, length)
    if not rest:
        return _at(cal.add_working_days(day, full), _MIDNIGHT) + closing
    return _at(cal.add_working_days(day, full + 1), _MIDNIGHT) + opening + rest


def _sub_hours(cal: WorkingCalendar, moment: datetime, hours: int, policy: DeadlinePolicy) -> datetime:
    opening, closing = _span(policy.hours)
    length = closing - opening
    day = moment.date()
    now = timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second, microseconds=moment.microsecond)
    if cal.is_working_day(day) and now > opening:
        end = min(now, closing)
    else:
        day, end = cal.sub_working_days(day, 1), closing
    remaining = timedelta(hours=hours)
    if remaining <= end - opening:
        return _at(day, _MIDNIGHT) + end - remaining
    remaining -= end - opening
    full, rest = divmod(remaining, length)
    if not rest:
        return _at(cal.sub_working_days(day, full), _MIDNIGHT) + opening
    return _at(cal.sub_working_days(day, full + 1), _MIDNIGHT) + closing - rest


def due_after(cal: WorkingCalendar, start: datetime, amount: int, unit: str, policy: DeadlinePolicy) -> Deadline:
    """The deadline of a period of `amount` `unit` ("WD", "CD" or "WH") that starts at `start`.

    WD: the start day is not counted; the period ends at the end of the amount-th working day after it.
    CD: ends at the end of the amount-th calendar day after the start day, moved to the next working day when
    that is a day off (民法典 art. 203). WH: counts hours within the working hours of working days from `start`.
    """
    local = _local(start, "start")
    _amount(amount, unit)
    if unit == "WH":
        due = _add_hours(cal, local, amount, policy)
        last = due.date()
        return Deadline(due, last, cal.touches_provisional(local.date(), last))
    received = _received_on(cal, local, policy)
    if unit == "WD":
        last = cal.add_working_days(received, amount)
    else:
        last = received + timedelta(days=amount)
        if not cal.is_working_day(last):
            last = cal.next_working_day(last)
    return Deadline(_end_of(cal, last, policy), last, cal.touches_provisional(local.date(), last))


def end_of_day(cal: WorkingCalendar, day: date, policy: DeadlinePolicy) -> Deadline:
    """A deadline on a given date (e.g. a plan's completion date): its end, not moved even on a day off."""
    if not isinstance(day, date) or isinstance(day, datetime):
        raise CalendarInputError("day", "a date", day)
    return Deadline(_end_of(cal, day, policy), day, cal.touches_provisional(day, day))


def moment_before(cal: WorkingCalendar, deadline: Deadline, amount: int, unit: str, policy: DeadlinePolicy) -> datetime:
    """When a warning `amount` `unit` before the deadline fires.

    WD: the moment from which `amount` working days are left: the end of the working day `amount` working days
    before the deadline's last working day where business hours are set; otherwise 00:00 of the working day
    after it, so a warning lands on a working day, never at midnight on a holiday or a weekend in between (0:
    the end of last_day). The last working day is last_day itself, or, for a fixed date on a day off (a
    completion date on a Sunday, which is not moved), the working day before it.
    WH: `amount` working hours before the due moment, counted within working hours.
    CD: the end of the calendar day `amount` days before last_day.
    """
    _amount(amount, unit)
    if unit == "WD":
        if amount == 0:
            return _end_of(cal, deadline.last_day, policy)
        last = deadline.last_day
        if not cal.is_working_day(last):
            last = cal.sub_working_days(last, 1)
        earlier = cal.sub_working_days(last, amount)
        if policy.business_hours is not None:
            return _end_of(cal, earlier, policy)
        return _at(cal.add_working_days(earlier, 1), _MIDNIGHT)
    if unit == "WH":
        return _sub_hours(cal, _local(deadline.due, "deadline.due"), amount, policy)
    return _end_of(cal, deadline.last_day - timedelta(days=amount), policy)


def moment_after(cal: WorkingCalendar, deadline: Deadline, amount: int, unit: str, policy: DeadlinePolicy) -> datetime:
    """When escalation `amount` `unit` after the deadline fires; 0 of any unit is the due moment itself.

    WD: the end of the amount-th working day after last_day. WH: `amount` working hours after the due moment.
    CD: the end of the calendar day `amount` days after last_day.
    """
    _amount(amount, unit)
    if amount == 0:
        return deadline.due
    if unit == "WD":
        return _end_of(cal, cal.add_working_days(deadline.last_day, amount), policy)
    if unit == "WH":
        return _add_hours(cal, _local(deadline.due, "deadline.due"), amount, policy)
    return _end_of(cal, deadline.last_day + timedelta(days=amount), policy)


def extend(cal: WorkingCalendar, deadline: Deadline, working_days: int, policy: DeadlinePolicy) -> Deadline:
    """The deadline moved by the working days a pause covered: a day-end deadline ends at the end of the new last
    day; one at a time of day (a WH period) keeps its time of day."""
    _amount(working_days, "WD")
    last = cal.add_working_days(deadline.last_day, working_days)
    if deadline.due == _end_of(cal, deadline.last_day, policy):
        due = _end_of(cal, last, policy)
    else:
        due = _at(last, deadline.due.astimezone(SHANGHAI).time())
    return Deadline(due, last, deadline.provisional or cal.touches_provisional(deadline.last_day, last))
