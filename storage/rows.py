"""Conversions from table rows to the engine's plain records."""

from __future__ import annotations

import json
from typing import Any

from engine.errors import StoredRowInvalid
from engine.store import ClockView, HistoryEntry, InstanceView, PauseEntry, TimerView


class UndecodablePayload(dict[str, Any]):
    """The payload of a history step whose stored text is no JSON object (changed outside the engine), the text in
    `raw`. It holds that text under a key no payload field can have, so it never hashes as the step was hashed
    and the chain's check names that step."""

    KEY = "\x00stored text"

    def __init__(self, raw: str) -> None:
        super().__init__({self.KEY: raw})
        self.raw = raw


def instance_variables(instance_id: str, text: str) -> dict[str, Any]:
    """An instance's stored variables; StoredRowInvalid names the instance when they are no JSON object."""
    try:
        value = json.loads(text)
    except (ValueError, TypeError) as err:
        raise StoredRowInvalid(f"instance {instance_id}", f"its variables are not JSON ({err})") from None
    if not isinstance(value, dict):
        raise StoredRowInvalid(f"instance {instance_id}", "its variables are not a JSON object")
    return value


def step_payload(text: str) -> dict[str, Any]:
    """A history step's stored payload, or an UndecodablePayload for text that is no JSON object."""
    try:
        value = json.loads(text)
    except (ValueError, TypeError):
        return UndecodablePayload(str(text))
    return value if isinstance(value, dict) else UndecodablePayload(str(text))


def instance_view(r: Any) -> InstanceView:
    return InstanceView(
        id=r.id, workflow_id=r.workflow_id, version=r.version, business_key=r.business_key, state=r.state,
        variables=instance_variables(r.id, r.variables), status=r.status, outcome=r.outcome, row_version=r.row_version,
        history_seq=r.history_seq, history_hash=r.history_hash, last_error=r.last_error,
        created_at=r.created_at, updated_at=r.updated_at,
    )


def history_entry(r: Any) -> HistoryEntry:
    return HistoryEntry(
        instance_id=r.instance_id, seq=r.seq, at=r.at, actor=r.actor, event=r.event, from_state=r.from_state,
        to_state=r.to_state, payload=step_payload(r.payload), prev_hash=r.prev_hash, hash=r.hash,
        actor_role=r.actor_role, actor_department=r.actor_department, key_id=r.key_id,
    )


def clock_view(r: Any) -> ClockView:
    return ClockView(
        id=r.id, instance_id=r.instance_id, scope=r.scope, state=r.state, calendar=r.calendar,
        started_at=r.started_at, base_due_at=r.base_due_at, due_at=r.due_at, last_day=r.last_day,
        paused_working_days=r.paused_working_days, paused_since=r.paused_since, status=r.status,
        breached=bool(r.breached), provisional=bool(r.provisional), stopped_at=r.stopped_at,
        next_fire_at=r.next_fire_at, next_kind=r.next_kind, next_level=r.next_level, fire_attempts=r.fire_attempts,
        last_error=r.last_error,
    )


def pause_entry(r: Any) -> PauseEntry:
    return PauseEntry(
        clock_id=r.clock_id, state=r.state, started_at=r.started_at, ended_at=r.ended_at, working_days=r.working_days
    )


def timer_view(r: Any) -> TimerView:
    return TimerView(
        id=r.id, instance_id=r.instance_id, clock_id=r.clock_id, kind=r.kind, level=r.level, state=r.state,
        fire_at=r.fire_at, status=r.status, attempts=r.attempts, last_error=r.last_error,
        provisional=bool(r.provisional), armed_at=r.armed_at,
    )
