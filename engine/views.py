"""The read-only results the engine hands back beyond the stored records: overdue items, tick reports."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from engine.store import ClockView, InstanceView


@dataclass(frozen=True, slots=True)
class OverdueItem:
    """An open clock past its due time, with its instance and how many working days late it is."""

    instance: InstanceView
    clock: ClockView
    late_working_days: int


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one `tick` did with the timers it claimed, and how many outbox messages it dispatched.

    fired: acted on (a warning, breach, level, timer transition or hook retry); skipped: marked fired with
    nothing left to do (the task was done, the clock stopped, the level already happened); lost: another
    worker had fired it first; failed: put back for a later try. stopped: the tick was asked to stop before
    it was through; released: the moments it had claimed and then handed back unfired, for another worker.
    """

    fired: int
    skipped: int
    failed: int
    dispatched: int
    lost: int = 0
    released: int = 0
    stopped: bool = False


@dataclass(frozen=True, slots=True)
class Moment:
    """One rung of an SLA clock's ladder: a warning (level = its index), the due time, an escalation level."""

    clock_id: int
    scope: str  # task / procedure
    state: str | None
    kind: str  # warn / due / escalate
    level: int
    at: datetime
    pending: bool  # the clock still runs and this moment is its next one or later


_TIMES = ("created_at", "updated_at")


def view_to_json(view: InstanceView) -> str:
    data: dict[str, Any] = asdict(view)
    for k in _TIMES:
        data[k] = data[k].isoformat()
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def view_from_json(text: str) -> InstanceView:
    data = json.loads(text)
    for k in _TIMES:
        data[k] = datetime.fromisoformat(data[k])
    return InstanceView(**data)
