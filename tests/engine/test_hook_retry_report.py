"""A hook retry that fails again is reported by the tick as failed, with a warning, and armed once more."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from engine import ManualClock
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, MakeEngine, flow_vars

WF = "common.test_flow"


def test_a_hook_that_fails_again_counts_as_failed_and_is_armed_again(
        make_engine: MakeEngine, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """The worker's tick says failed (not fired) and logs the error; the next retry is later still."""
    engine = make_engine()

    def down(variables: object) -> dict[str, int]:
        raise ConnectionError("resource registry unreachable")

    engine.register_hook("count_users", down)
    inst = engine.start(WF, "H-9", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "approve", AUDITOR)
    first = next(t for t in engine.timers(inst.id) if t.kind == "hook" and t.status == "pending")
    with caplog.at_level(logging.WARNING, logger="engine.sweep"):
        report = engine.tick(first.fire_at)
    assert (report.fired, report.failed) == (0, 1)
    assert any("the hook failed again" in r.getMessage() and "resource registry unreachable" in r.getMessage()
               for r in caplog.records)
    stuck = engine.get(inst.id)
    assert stuck.state == "check" and "resource registry unreachable" in (stuck.last_error or "")
    second = next(t for t in engine.timers(inst.id) if t.kind == "hook" and t.status == "pending")
    assert second.id != first.id and second.fire_at > first.fire_at + timedelta(seconds=30)


def test_a_hook_retry_that_succeeds_counts_as_fired(make_engine: MakeEngine, clock: ManualClock) -> None:
    """Once the hook answers, the retry is an ordinary fired timer and the instance moves on."""
    engine = make_engine()
    answers: list[Exception | dict[str, int]] = [ConnectionError("down"), {"users": 0}]

    def flaky(variables: object) -> dict[str, int]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    engine.register_hook("count_users", flaky)
    inst = engine.start(WF, "H-10", flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "approve", AUDITOR)
    retry = next(t for t in engine.timers(inst.id) if t.kind == "hook")
    report = engine.tick(retry.fire_at)
    assert (report.fired, report.failed) == (1, 0)
    assert engine.get(inst.id).state == "publicity"
