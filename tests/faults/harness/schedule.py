"""The crash run's deterministic schedule: step n's command and moment follow from the seed and n alone."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.faults.harness.flow import EVENT_ROLE, START

#: Simulated time between two steps: about 16 steps per working day, so SLA ladders run within a run.
STEP = timedelta(minutes=90)
#: After the last step the run drains: ticks this far after it, then every DRAIN_STEP until two idle ticks.
DRAIN_AFTER = timedelta(days=1)
DRAIN_STEP = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Op:
    """One step: a tick, a start or a fire, by an actor kind, with a payload."""

    n: int
    kind: str  # tick / start / fire
    business_key: str = ""
    event: str = ""
    actor_kind: str = ""
    payload: tuple[tuple[str, object], ...] = ()


#: A long schedule takes shorter steps: the whole run stays inside the calendar years the tests ship with.
SPAN = timedelta(days=280)


def moment(n: int, steps: int) -> datetime:
    """Step n's clock: regular steps every STEP (or less, see SPAN), drain ticks after the last step."""
    step = min(STEP, SPAN / max(steps, 1))
    if n < steps:
        return START + n * step
    return START + steps * step + DRAIN_AFTER + (n - steps) * DRAIN_STEP


def plan(seed: int, steps: int) -> list[Op]:
    """The whole schedule of regular steps (drain ticks follow it)."""
    ops: list[Op] = []
    started: list[str] = []
    for n in range(steps):
        rng = random.Random(f"{seed}:{n}")
        if n % 3 == 2:
            ops.append(Op(n, "tick"))
        elif len(started) < 4 or rng.random() < 0.2:
            key = f"C{n}"
            started.append(key)
            ops.append(Op(n, "start", key, actor_kind="consumer"))
        else:
            key = rng.choice(started[-12:])
            event = rng.choice(sorted(EVENT_ROLE))
            kind = EVENT_ROLE[event]
            if rng.random() < 0.1:
                kind = "other_auditor"  # a refusal: the wrong department
            payload: tuple[tuple[str, object], ...] = ()
            if event == "refuse":
                payload = (("reason", f"不予共享 {n}"),)
            elif event == "approve":
                payload = (("note", f"n{n}"),)
            ops.append(Op(n, "fire", key, event, kind, payload))
    return ops
