"""Engine events for the embedding backend: subscribers are called after the command's transaction commits."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.errors import PayloadInvalid

log = logging.getLogger(__name__)

INSTANCE_STARTED = "instance_started"
STATE_ENTERED = "state_entered"
WARNING = "warning"
BREACH = "breach"
ESCALATION = "escalation"
COMPLETED = "completed"
HOOK_FAILED = "hook_failed"
KINDS = (INSTANCE_STARTED, STATE_ENTERED, WARNING, BREACH, ESCALATION, COMPLETED, HOOK_FAILED)


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """Something that happened to an instance, told after it was committed."""

    kind: str
    instance_id: str
    workflow_id: str
    business_key: str
    state: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


Subscriber = Callable[[EngineEvent], None]


class EventBus:
    """Delivers events to subscribers; a subscriber that raises is logged and does not stop the others."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Subscriber]] = defaultdict(list)

    def subscribe(self, kind: str, callback: Subscriber) -> None:
        if kind not in KINDS and kind != "*":
            raise PayloadInvalid("kind", f"one of {', '.join(KINDS)} or '*'", kind, where="subscribe")
        self._subs[kind].append(callback)

    def publish(self, events: Sequence[EngineEvent]) -> None:
        for ev in events:
            for cb in (*self._subs.get(ev.kind, ()), *self._subs.get("*", ())):
                try:
                    cb(ev)
                except Exception:  # a subscriber's bug must not undo or block a committed step
                    log.exception("subscriber %r failed on %s of instance %s", cb, ev.kind, ev.instance_id)
