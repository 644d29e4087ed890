"""Moving a report test's engine through weeks of simulated time as a worker would."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine import Engine, ManualClock


def tick_every_half_day(engine: Engine, clock: ManualClock, ticked: datetime, moment: datetime) -> datetime:
    """Tick at every midnight and noon after `ticked` up to `moment`, the clock following, and leave the clock at
    `moment`; the last moment ticked."""
    while ticked + timedelta(hours=12) <= moment:
        ticked += timedelta(hours=12)
        clock.set(ticked)
        engine.tick(ticked)
    clock.set(moment)
    return ticked
