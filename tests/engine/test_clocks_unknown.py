"""The per-instance reads refuse an id no instance has, as `get` and `history` do, instead of answering []."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine import Engine
from engine.errors import PayloadInvalid, UnknownClock, UnknownInstance
from tests.engine.conftest import CONSUMER_ADMIN, flow_vars

WF = "common.test_flow"
READS: dict[str, Callable[[Engine, str], Any]] = {
    "clocks": Engine.clocks, "timers": Engine.timers, "history": Engine.history, "get": Engine.get,
    "schedule": Engine.schedule, "allowed_events": lambda e, i: e.allowed_events(i),
}


@pytest.mark.parametrize("read", sorted(READS))
@pytest.mark.parametrize("instance_id", ["nope", "0" * 32, "x" * 40, ""])
def test_a_read_of_an_unknown_instance_raises_unknown_instance(engine: Engine, read: str, instance_id: str) -> None:
    """clocks, timers and the other reads raise UnknownInstance naming the id."""
    with pytest.raises(UnknownInstance) as caught:
        READS[read](engine, instance_id)
    assert caught.value.instance_id == instance_id


def test_an_instance_without_clocks_or_timers_answers_empty_lists(engine: Engine) -> None:
    """An existing instance that ended at once has no open timer: [] is still its answer, not an error."""
    inst = engine.start(WF, "C-1", flow_vars(fast=True), CONSUMER_ADMIN)
    assert (inst.status, engine.timers(inst.id)) == ("completed", [])


def test_pauses_refuses_a_clock_id_no_clock_has(engine: Engine) -> None:
    """`pauses` answers [] for a clock never paused, UnknownClock for a well-formed id no clock has, and
    PayloadInvalid for what is no clock id at all."""
    inst = engine.start(WF, "C-2", flow_vars(), CONSUMER_ADMIN)
    clock = engine.clocks(inst.id)[0]
    with pytest.raises(UnknownClock) as unknown:
        engine.pauses(clock.id + 1000)
    bad: list[object] = [0, -1, True, "1", 2**70]
    refused = []
    for clock_id in bad:
        with pytest.raises(PayloadInvalid) as caught:
            engine.pauses(clock_id)  # type: ignore[arg-type]
        refused.append(caught.value.field)
    assert engine.pauses(clock.id) == []
    assert unknown.value.clock_id == clock.id + 1000 and "Engine.clocks" in str(unknown.value)
    assert refused == ["clock_id"] * len(bad)
