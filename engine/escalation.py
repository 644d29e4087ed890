"""The escalation policy, pure: from an SLA, its clock and the moment, the warnings, breach and escalation
levels that are due. Each action happens once per (clock, kind, level); the store's unique key enforces it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.spec import SlaSpec
from engine.store import ClockView

SUPERVISOR_ROLE = "bureau.data_supervisor"


@dataclass(frozen=True, slots=True)
class SlaAction:
    """Tell `roles` with `template`: a warning (level = its index), the breach (level 0), an escalation level."""

    kind: str  # warning / breach / escalation
    level: int
    roles: tuple[str, ...]
    template: str
    at: datetime  # when it was due to happen


def sla_actions(
    sla: SlaSpec,
    clock: ClockView,
    now: datetime,
    warn_times: Sequence[datetime],
    level_times: Sequence[tuple[int, datetime]],
    assignee: str | None,
) -> list[SlaAction]:
    """Everything due by `now` for a clock that still runs, in order; nothing for a stopped or paused clock.

    Warnings only while the due time has not passed, and only those after the clock started; the breach at
    the due time; each escalation level at its own time after it. Default recipients: the task's assignee, or
    the data supervisor for the procedure.
    """
    if clock.stopped_at is not None or clock.status == "paused":
        return []
    default = (assignee,) if assignee else (SUPERVISOR_ROLE,)
    actions: list[SlaAction] = []
    if now < clock.due_at:
        for index, at in enumerate(warn_times, start=1):
            # a warning already past when the clock started never applied (as `Engine.schedule` shows it)
            if clock.started_at < at <= now:
                actions.append(SlaAction("warning", index, sla.warn_notify or default, sla.warn_template, at))
        return actions
    actions.append(SlaAction("breach", 0, sla.breach_notify or default, sla.breach_template, clock.due_at))
    by_level = {e.level: e for e in sla.escalations}
    for level, at in level_times:
        if at <= now and level in by_level:
            e = by_level[level]
            actions.append(SlaAction("escalation", level, e.notify, e.template, at))
    return actions
