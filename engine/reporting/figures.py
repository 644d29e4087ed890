"""The monthly supervision figures (督查月报): pure arithmetic from step records to per-department rows.

A step is one SLA clock of a task: it is *due in the month* when its due time falls inside the month; it is on time
when it was finished by its due time, late when finished after it or still open past it at the report's moment.
A step whose instance was cancelled before its due time was never answered and never late: it is counted apart
(`cancelled`), not as due; one cancelled after its due time had already run late and counts as late.
A step standing still at the report's moment (a pausing state, a suspended instance) is due but not yet finished,
never late: its due time moves on when it counts again. Only a breach before its pause makes it late.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One task step with a deadline, as the store knows it."""

    workflow_id: str
    workflow_name: str
    instance_id: str
    business_key: str
    state: str
    state_title: str
    department: str
    department_name: str
    started: datetime
    due: datetime
    finished: datetime | None
    warnings: int = 0
    breached: bool = False
    escalation_level: int = 0
    #: its clock stopped because the instance was cancelled; `finished` is then the moment of the cancel
    cancelled: bool = False
    #: its clock stood still at the report's moment, so `due` is not yet its final due time
    paused: bool = False

    def open_past_due(self, as_of: datetime) -> bool:
        """Whether the step is still open and late at `as_of`, as `Engine.overdue` lists it: a paused clock only
        when it was breached before its pause."""
        return self.finished is None and self.due <= as_of and (not self.paused or self.breached)


@dataclass(slots=True)
class Figures:
    """Counts for one row of the report (a department or a procedure)."""

    key: str
    title: str
    due: int = 0
    on_time: int = 0
    late: int = 0
    late_finished: int = 0
    open_overdue: int = 0
    cancelled: int = 0  # cancelled before they fell due: in neither the on-time nor the late figures
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    working_days_taken: list[int] = field(default_factory=list)

    @property
    def average_working_days(self) -> float | None:
        if not self.working_days_taken:
            return None
        return round(sum(self.working_days_taken) / len(self.working_days_taken), 2)

    @property
    def on_time_rate(self) -> float | None:
        finished_or_late = self.on_time + self.late
        return None if finished_or_late == 0 else round(self.on_time / finished_or_late, 4)


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An overdue step still open: what the supervisor must chase."""

    record: StepRecord
    late_working_days: int


@dataclass(frozen=True, slots=True)
class MonthReport:
    month: str  # YYYY-MM
    as_of: datetime
    by_department: tuple[Figures, ...]
    by_procedure: tuple[Figures, ...]
    totals: Figures
    open_items: tuple[OpenItem, ...]


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def month_bounds(month: str) -> tuple[date, date]:
    """First day of the month and first day of the next; ValueError names the expected form (exactly YYYY-MM, so
    that `2026-1` is not read as a month a supervisor might have meant otherwise)."""
    found = _MONTH.fullmatch(month)
    try:
        if found is None:
            raise ValueError(month)
        year, mon = int(found.group(1)), int(found.group(2))
        first = date(year, mon, 1)
    except ValueError as err:
        raise ValueError(f"bad month {month!r}: write it as YYYY-MM, e.g. 2026-10") from err
    nxt = date(year + (mon == 12), mon % 12 + 1, 1)
    return first, nxt


def last_day_of(due: datetime) -> date:
    """The last day of a period that ends at `due` (a period ending at 24:00 is due at 00:00 of the next day)."""
    return (due - timedelta(microseconds=1)).date()


def build_month_report(
    records: Iterable[StepRecord],
    month: str,
    as_of: datetime,
    working_days_between: Callable[[date, date], int],
    *,
    late_by: Callable[[datetime, datetime], int],
) -> MonthReport:
    """Count the steps due in `month`, as things stood at `as_of`.

    `working_days_between(a, b)` is the calendar's count of working days in (a, b]; it measures how long a step
    took. `late_by(due, now)` is how many working days late an open step is (`SlaCalculator.late_by`: the
    working days after its last day that have ended), the figure the notices tell, so the report and the mails
    agree. Both count working days as the regulations do.
    """
    first, nxt = month_bounds(month)
    departments: dict[str, Figures] = {}
    procedures: dict[str, Figures] = {}
    totals = Figures("all", "合计")
    open_items: list[OpenItem] = []
    for rec in records:
        last_day = last_day_of(rec.due)
        if not (first <= last_day < nxt or (last_day < first and rec.open_past_due(as_of))):
            continue
        due_in_month = first <= last_day < nxt
        dept = departments.setdefault(rec.department, Figures(rec.department, rec.department_name))
        proc = procedures.setdefault(rec.workflow_id, Figures(rec.workflow_id, rec.workflow_name))
        for fig in (dept, proc, totals):
            _count(fig, rec, as_of, due_in_month, working_days_between)
        if rec.open_past_due(as_of):
            open_items.append(OpenItem(rec, late_by(rec.due, as_of)))
    open_items.sort(key=lambda item: (-item.late_working_days, item.record.due))
    return MonthReport(
        month=month,
        as_of=as_of,
        by_department=tuple(sorted(departments.values(), key=lambda f: (-f.late - f.open_overdue, f.title))),
        by_procedure=tuple(sorted(procedures.values(), key=lambda f: f.key)),
        totals=totals,
        open_items=tuple(open_items),
    )


def _count(
    fig: Figures,
    rec: StepRecord,
    as_of: datetime,
    due_in_month: bool,
    working_days_between: Callable[[date, date], int],
) -> None:
    if due_in_month:
        # the warnings, breach and escalations a step had are counted even when it was cancelled: they were sent
        fig.warnings += rec.warnings
        fig.breaches += int(rec.breached)
        fig.escalations += rec.escalation_level
        if rec.cancelled and rec.finished is not None and rec.finished <= rec.due:
            fig.cancelled += 1
            return
        fig.due += 1
        if rec.finished is not None:
            if rec.finished <= rec.due:
                fig.on_time += 1
            else:
                fig.late += 1
                fig.late_finished += 1
            if not rec.cancelled:  # a cancelled step was never answered: it took no time to answer
                fig.working_days_taken.append(working_days_between(rec.started.date(), rec.finished.date()))
        elif rec.open_past_due(as_of):
            fig.late += 1
    if rec.open_past_due(as_of):
        fig.open_overdue += 1

