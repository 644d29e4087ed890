"""The worker's daily look at the calendar's reach (engine.horizon): when a deadline of the served workflows will
need a year without data within `within` days, it says so in the log and, with a directory, tells the platform's
operators once a working day (notifiers.calendar_notice), so that the file is added before commands are refused."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from engine.clock import SHANGHAI
from engine.daily_digest_job import is_working_day
from engine.errors import PayloadInvalid, StorageUnavailable
from engine.horizon import CalendarHorizon, DeadlineReach, calendar_horizon, horizon_summary
from engine.ports import Directory
from engine.runtime import Engine

log = logging.getLogger(__name__)

#: How many days ahead a refusal is told by default: time to add a file once the State Council's notice is out.
DEFAULT_WITHIN = 30
#: When the worker looks, Beijing time, besides when it starts.
DEFAULT_AT = time(8, 30)
#: The deadlines a notice lists at most (the soonest): the rest are counted.
LISTED = 20


@dataclass(frozen=True, slots=True)
class HorizonWatch:
    """The worker's settings: how many days ahead to warn, who is told (the directory's holders of `role`; no
    directory: the log only) and at what Beijing time it looks each day."""

    within: int = DEFAULT_WITHIN
    directory: Directory | None = None
    role: str = "center_operator"  # the information centre, which runs the platform (PROCEDURES.md "Roles")
    at: time = DEFAULT_AT

    def __post_init__(self) -> None:
        if not isinstance(self.within, int) or self.within < 1:
            raise PayloadInvalid("within", "a whole number of days, at least 1", self.within, where="HorizonWatch")


@dataclass(frozen=True, slots=True)
class HorizonRun:
    """What one look found: the deadlines refused within the window, and the notices newly enqueued."""

    day: date
    horizon: CalendarHorizon
    soon: tuple[DeadlineReach, ...]
    enqueued: int


def look_ahead(engine: Engine, watch: HorizonWatch, now: datetime | None = None) -> HorizonRun:
    """Find the reach of every served workflow's deadlines on the engine's deadline policy, warn when a refusal
    comes within the window, and enqueue today's notices (on a working day, with a directory). Raises
    StorageUnavailable when the notices cannot be written."""
    moment = now if now is not None else engine.clock.now()
    today = moment.astimezone(SHANGHAI).date()
    definitions: Any = engine.definitions
    horizon = calendar_horizon([c.spec for c in definitions], engine.parts.sla.policy, today)
    soon = horizon.refused_within(watch.within)
    if not soon:
        return HorizonRun(today, horizon, (), 0)
    log.warning("calendar data: %s", horizon_summary(horizon, watch.within))
    enqueued = 0
    if watch.directory is not None and is_working_day(engine, today):
        enqueued = _enqueue(engine, watch.directory, watch.role, horizon, soon, today, moment)
    return HorizonRun(today, horizon, soon, enqueued)


def _enqueue(engine: Engine, directory: Directory, role: str, horizon: CalendarHorizon,
             soon: tuple[DeadlineReach, ...], today: date, now: datetime) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from notifiers.calendar_notice import enqueue_calendar_notices, notice_facts

    first = soon[0].refused_from
    items = [{"workflow_id": d.workflow_id, "workflow_name": d.workflow_name, "label": d.label,
              "period": str(d.period), "refused_from": d.refused_from.isoformat() if d.refused_from else None}
             for d in soon[:LISTED]]
    facts = notice_facts(items, horizon.missing, first.isoformat() if first else "", len(soon))
    db: Any = getattr(engine.store, "engine", None)  # the SQL store's SQLAlchemy engine: the outbox is in it
    if db is None:
        return 0
    try:
        with db.begin() as conn:
            return enqueue_calendar_notices(conn, directory, facts, today, now, base_role=role)
    except SQLAlchemyError as err:
        raise StorageUnavailable(f"calendar notice not enqueued: {str(err).splitlines()[0]}") from err


__all__ = ["DEFAULT_AT", "DEFAULT_WITHIN", "HorizonRun", "HorizonWatch", "look_ahead"]
