"""The daily overdue list (每日超时汇总): on a working day, every open clock past its due time goes into one
digest per data supervisor and channel, scoped by the directory, enqueued in the outbox once per day."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from engine.clock import SHANGHAI
from engine.commands import clock_schedule
from engine.errors import PayloadInvalid, StorageUnavailable
from engine.fields import decode_values
from engine.notify import Notice, notice_data, procedure_department, responsible_department
from engine.ports import Directory
from engine.runtime import Engine
from engine.sla import DueTime
from engine.spec import WorkflowSpec
from engine.views import OverdueItem

log = logging.getLogger(__name__)

#: When the list goes out by default: 09:00 Beijing time, at the start of the working day.
DEFAULT_AT = time(9, 0)
#: The calendar whose working days the list is sent on: the national (mainland) schedule.
REGION = "CN"
#: The clocks one `overdue()` call reads (see `all_overdue`).
PAGE = 1000


@dataclass(frozen=True, slots=True)
class DailyDigest:
    """The worker's daily digest settings: who is in scope (the directory) and at what Beijing time it is sent."""

    directory: Directory
    at: time = DEFAULT_AT

    def __post_init__(self) -> None:
        if not isinstance(self.at, time) or self.at.tzinfo is not None:
            raise PayloadInvalid("at", "a naive datetime.time of day in Beijing time", self.at, where="DailyDigest")


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What one run did: the Beijing day, whether it is a working day, the overdue clocks read, rows enqueued.

    `enqueued` counts new outbox rows only: a second run on the same day (another worker, a restart) adds none.
    `guessed`: the day's year has no calendar data, so whether it is a working day was guessed.
    """

    day: date
    working_day: bool
    overdue: int
    enqueued: int
    guessed: bool = False


def is_guessed(engine: Engine, day: date, region: str = REGION) -> bool:
    """Whether `day` falls where the calendar has no data, so that `is_working_day` guessed."""
    return bool(engine.parts.sla.ladder_calendar(region).is_provisional(day))


def is_working_day(engine: Engine, day: date, region: str = REGION) -> bool:
    """Whether `day` is a working day of the national calendar. In a year without data the guess answers
    (weekends and fixed-date holidays), whether or not the engine allows provisional deadlines: the list must
    still go out in a January whose schedule is not yet published, when deadlines are refused and run late."""
    return bool(engine.parts.sla.ladder_calendar(region).is_working_day(day))


def all_overdue(engine: Engine, now: datetime, page: int = PAGE) -> list[OverdueItem]:
    """Every overdue clock, not only the first `overdue()` page: reads on with `offset` while a page comes back
    full, each page reaching back over the last quarter of the one before. A clock stopped meanwhile moves the
    rest up a place, so the overlap takes in what would fall between two pages; a clock is listed once."""
    if page < 1:
        raise ValueError(f"a page holds at least one clock, not {page}")
    items: list[OverdueItem] = []
    seen: set[int] = set()
    overlap = page // 4
    offset = 0
    while True:
        got = engine.overdue(now, limit=page, offset=offset)
        items.extend(item for item in got if item.clock.id not in seen)
        seen.update(item.clock.id for item in got)
        if len(got) < page:
            return items
        offset += page - overlap


def _level_reached(engine: Engine, spec: WorkflowSpec, item: OverdueItem, now: datetime) -> int:
    """The highest escalation level (督办级别) of the clock's ladder whose moment has come, else 0."""
    clock = item.clock
    st = spec.states.get(clock.state or "")
    sla = spec.sla if clock.scope == "procedure" else st.sla if st is not None else None
    if sla is None:
        return 0
    due = DueTime(clock.due_at, date.fromisoformat(clock.last_day), clock.provisional)
    reached = [level for at, kind, level in clock_schedule(engine.parts.sla, clock.calendar, sla, due)
               if kind == "escalate" and at <= now]
    return max(reached, default=0)


def digest_item(engine: Engine, directory: Directory, item: OverdueItem, now: datetime) -> dict[str, Any]:
    """One line of the list in the message-data shape of a breach notice (notifiers/templates/_macros.j2
    `items_*` read workflow_name, business_key, department_name, state_title, due, late_by, level; the
    directory's scope reads `department`, the responsible department holding the task)."""
    inst, clock = item.instance, item.clock
    spec = engine.machine(inst.workflow_id, inst.version).spec
    variables = decode_values(spec, inst.variables)
    state = clock.state or inst.state  # a procedure clock is told about the step the instance is in
    where = responsible_department(directory, spec, state, variables)
    if where is None:  # no task holds it (a wait, a timer): the procedure's department, as a breach notice says
        code = procedure_department(spec, variables)
        where = (code, directory.department_name(code)) if code is not None else (None, spec.name.zh)
    level = _level_reached(engine, spec, item, now)
    notice = Notice("escalation" if level else "breach", "daily_digest", (), state, "", level=level,
                    due=clock.due_at, late_by_days=item.late_working_days)
    return {**notice_data(spec, inst.id, inst.business_key, notice, where), "scope": clock.scope,
            "late_working_days": item.late_working_days}


def overdue_items(engine: Engine, directory: Directory, now: datetime) -> list[dict[str, Any]]:
    """The lines of today's lists: every overdue clock, one line per instance and step (a task clock and the
    procedure clock late on the same step are one case to chase: the line with the later due time is kept)."""
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    for item in all_overdue(engine, now):
        line = digest_item(engine, directory, item, now)
        key = (line["instance_id"], line["state"])
        held = lines.get(key)
        if held is None or _rank(line) > _rank(held):
            lines[key] = line
    return list(lines.values())


def _rank(line: Mapping[str, Any]) -> tuple[int, int]:
    # the task clock names the step's own deadline; the procedure clock's is the same step late overall
    return int(line["level"]), 1 if line["scope"] == "task" else 0


def send_daily_digest(engine: Engine, directory: Directory, now: datetime | None = None, *,
                      region: str = REGION) -> DigestRun:
    """Enqueue today's digests (one transaction on the engine's database), on working days only.

    Safe to run again the same day, from any number of workers: the dedupe key `daily:{day}:{person}:{channel}`
    lets each digest in once. Raises StorageUnavailable when the database cannot be read or written (nothing is
    enqueued then).
    """
    moment = now if now is not None else engine.clock.now()
    day = moment.astimezone(SHANGHAI).date()
    guessed = is_guessed(engine, day, region)
    if not is_working_day(engine, day, region):
        return DigestRun(day, False, 0, 0, guessed)
    items = overdue_items(engine, directory, moment)
    if not items:
        return DigestRun(day, True, 0, 0, guessed)
    from sqlalchemy.exc import SQLAlchemyError

    from notifiers.daily_digest import enqueue_daily_digests

    db: Any = getattr(engine.store, "engine", None)  # the SQL store's SQLAlchemy engine: the outbox is in it
    if db is None:
        raise StorageUnavailable("the daily digest needs the SQL store (storage.open_store): its outbox table")
    try:
        with db.begin() as conn:
            enqueued = enqueue_daily_digests(conn, directory, items, day, moment)
    except SQLAlchemyError as err:
        raise StorageUnavailable(f"daily digest not enqueued: {str(err).splitlines()[0]}") from err
    return DigestRun(day, True, len(items), enqueued, guessed)


__all__ = ["DEFAULT_AT", "DailyDigest", "DigestRun", "all_overdue", "digest_item", "is_working_day",
           "overdue_items", "send_daily_digest"]
