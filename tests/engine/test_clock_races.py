"""A worker and a command on one instance at once: a clock change neither loses nor brings back what the other did,
and one moment that fails, however, never holds up the rest of the tick."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import engine.sweep as sweep
from engine import ConcurrentUpdate, Engine, ManualClock, PayloadInvalid, Person, StorageUnavailable
from engine.clock import SHANGHAI
from storage.tx import SqlStoreTx
from tests.engine.calendar_2027 import TEST_2027_CN
from tests.engine.conftest import (
    AUDITOR,
    CONSUMER_ADMIN,
    DIRECTORY,
    OTHER,
    SUPERVISOR,
    MakeEngine,
    StaticDirectory,
    flow_vars,
)

REVIEW_DUE = datetime(2026, 3, 10, 0, 0, tzinfo=SHANGHAI)  # 5 WD from Monday 2 March: 24:00 on Monday 9 March


def _task_clock(engine: Engine, instance_id: str) -> Any:
    return next(c for c in engine.clocks(instance_id) if c.scope == "task")


def test_a_command_that_read_the_clocks_before_a_tick_committed_fails_and_keeps_the_breach(
        make_engine: MakeEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker records the review's breach just after `suspend` has read the clocks: the suspension fails on
    the row version and writes nothing, so the breach stays; sent again, it pauses a clock that is breached and
    on the overdue list."""
    api, worker = make_engine(), make_engine(worker_id="worker")
    iid = api.start("common.test_flow", "RACE-1", flow_vars(), CONSUMER_ADMIN).id
    clock.set(REVIEW_DUE + timedelta(hours=11))
    read = SqlStoreTx.open_clocks

    def tick_in_between(self: SqlStoreTx, instance_id: str) -> Any:
        clocks = read(self, instance_id)
        monkeypatch.setattr(SqlStoreTx, "open_clocks", read)
        worker.tick(clock.now())
        return clocks

    monkeypatch.setattr(SqlStoreTx, "open_clocks", tick_in_between)
    api.store.remembered.clear()  # type: ignore[attr-defined]  # the command reads the row from the database
    with pytest.raises(ConcurrentUpdate):
        api.suspend(iid, SUPERVISOR, "等待材料")
    assert api.get(iid).status == "running" and _task_clock(api, iid).breached
    api.suspend(iid, SUPERVISOR, "等待材料")
    task = _task_clock(api, iid)
    assert (task.status, task.breached) == ("paused", True)
    assert [o.clock.id for o in api.overdue(clock.now())] == [task.id]


def test_a_command_on_a_remembered_row_a_tick_overtook_runs_again_on_the_stored_one(
        make_engine: MakeEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same race on the row the api process committed at the start (storage.remembered): the suspension's
    first run fails on the row version, and its second, on the row and clocks read again, pauses the breached
    clock. Nothing of the first run is written, and the breach stays."""
    api, worker = make_engine(), make_engine(worker_id="worker")
    iid = api.start("common.test_flow", "RACE-1R", flow_vars(), CONSUMER_ADMIN).id
    clock.set(REVIEW_DUE + timedelta(hours=11))
    read, runs = SqlStoreTx.open_clocks, []

    def tick_in_between(self: SqlStoreTx, instance_id: str) -> Any:
        clocks = read(self, instance_id)
        runs.append([c.breached for c in clocks])
        if len(runs) == 1:
            worker.tick(clock.now())
        return clocks

    monkeypatch.setattr(SqlStoreTx, "open_clocks", tick_in_between)
    suspended = api.suspend(iid, SUPERVISOR, "等待材料")
    assert runs == [[False, False], [False, True]]  # the second run read the breach the tick recorded
    task = _task_clock(api, iid)
    assert (suspended.status, task.status, task.breached) == ("suspended", "paused", True)
    assert [s.event for s in api.history(iid)].count("_suspend") == 1 and api.verify_history(iid).ok


def test_a_recompute_does_not_bring_back_a_clock_a_command_stopped_meanwhile(
        make_engine: MakeEngine, clock: ManualClock, data_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The auditor approves while `recompute_provisional` is between reading the review's provisional clock and
    writing it: the recompute reads the instance again and leaves the stopped clock stopped, met on time, so no
    later tick breaches a step that was answered."""
    engine = make_engine(allow_provisional=True)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    iid = engine.start("common.test_flow", "RACE-2", flow_vars(), CONSUMER_ADMIN).id
    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    read, approved = SqlStoreTx.closed_pauses, []

    def approve_in_between(self: SqlStoreTx, clock_id: int) -> Any:
        if not approved and _task_clock(engine, iid).stopped_at is None and clock_id == _task_clock(engine, iid).id:
            approved.append(engine.fire(iid, "approve", AUDITOR).state)
        return read(self, clock_id)

    monkeypatch.setattr(SqlStoreTx, "closed_pauses", approve_in_between)
    engine.recompute_provisional()
    monkeypatch.setattr(SqlStoreTx, "closed_pauses", read)
    review = next(c for c in engine.clocks(iid) if c.scope == "task" and c.state == "review")
    clock.set(datetime(2027, 1, 20, 10, 0, tzinfo=SHANGHAI))
    engine.tick(clock.now())
    review_after = next(c for c in engine.clocks(iid) if c.id == review.id)
    assert approved == ["publicity"]
    assert (review.status, review.stopped_at is not None, review.next_fire_at) == ("met", True, None)
    assert (review_after.status, review_after.breached) == ("met", False)


class _DirectoryDown(StaticDirectory):
    """A backend's directory that fails (its LDAP gone) for one department's auditors."""

    def __init__(self, people: Sequence[Person]) -> None:
        super().__init__(people)
        self.failing: str | None = None

    def people(self, base_role: str, department: str | None) -> Sequence[Person]:
        if department == self.failing:
            raise ConnectionError(f"LDAP: no answer for {department}")
        return super().people(base_role, department)


def test_a_moment_that_raises_unexpectedly_does_not_hold_up_the_tick(make_engine: MakeEngine, clock: ManualClock,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """X's warning, due first, fails with the backend's own ConnectionError: it is logged with its traceback,
    counted failed and put back with back-off, and Y's warning due at the same tick is sent. Once the directory
    answers, X's warning goes out at its retry."""
    directory = _DirectoryDown(DIRECTORY._people)
    engine = make_engine(directory=directory)
    x = engine.start("common.test_flow", "POISON-X", flow_vars(provider_dept=OTHER), CONSUMER_ADMIN).id
    clock.advance(timedelta(hours=1))
    y = engine.start("common.test_flow", "POISON-Y", flow_vars(), CONSUMER_ADMIN).id
    directory.failing = OTHER
    at = datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI)  # both review warnings are due (1 WD before 24:00 on 9 March)
    report = engine.tick(at)
    assert (report.fired, report.failed) == (1, 1)
    assert _task_clock(engine, y).next_kind == "due" and _task_clock(engine, x).next_kind == "warn"
    assert "failed unexpectedly" in caplog.text and "ConnectionError" in caplog.text
    directory.failing = None
    assert engine.tick(at + timedelta(seconds=5)).fired == 0  # still waiting out its back-off
    assert engine.tick(at + timedelta(seconds=31)).fired == 1
    assert _task_clock(engine, x).next_kind == "due"


def test_a_moment_that_keeps_failing_backs_off_and_keeps_its_error(make_engine: MakeEngine, clock: ManualClock,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """X's warning fails at every try: each retry waits twice the last wait, from 30 s up to an hour, the clock
    keeps its tries and last error, and only the first failure logs a traceback. Once the directory answers the
    warning goes out and the tries and error are cleared."""
    directory = _DirectoryDown(DIRECTORY._people)
    engine = make_engine(directory=directory)
    x = engine.start("common.test_flow", "BACKOFF-X", flow_vars(provider_dept=OTHER), CONSUMER_ADMIN).id
    directory.failing = OTHER
    at = datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI)  # the review's warning is due
    assert engine.tick(at).failed == 1
    waits = [timedelta(seconds=30 * 2 ** n) for n in range(7)] + [timedelta(hours=1)] * 2
    early, tried = [], []
    for wait in waits:
        early.append(engine.tick(at + wait - timedelta(seconds=1)).failed)
        at += wait + timedelta(seconds=1)
        tried.append(engine.tick(at).failed)
    failing = _task_clock(engine, x)
    tracebacks = [r for r in caplog.records if r.name == "engine.sweep" and r.exc_info]
    directory.failing = None
    fired = engine.tick(at + timedelta(hours=1, seconds=1)).fired
    after = _task_clock(engine, x)
    assert early == [0] * len(waits) and tried == [1] * len(waits)
    assert (failing.next_kind, failing.fire_attempts) == ("warn", len(waits) + 1)
    assert failing.last_error == f"LDAP: no answer for {OTHER}"
    assert len(tracebacks) == 1
    assert fired == 1
    assert (after.next_kind, after.fire_attempts, after.last_error) == ("due", 0, None)


def test_a_command_that_moves_a_failing_clock_on_clears_its_tries(
        make_engine: MakeEngine, clock: ManualClock) -> None:
    """A suspension while X's warning waits out its back-off records the warning itself and pauses the clock:
    the tries and error are gone, and once resumed the clock's breach fires at its time."""
    directory = _DirectoryDown(DIRECTORY._people)
    engine = make_engine(directory=directory)
    x = engine.start("common.test_flow", "BACKOFF-S", flow_vars(provider_dept=OTHER), CONSUMER_ADMIN).id
    directory.failing = OTHER
    at = datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI)
    engine.tick(at)
    engine.tick(at + timedelta(seconds=31))  # the second try: the next waits 60 s
    failing = _task_clock(engine, x)
    directory.failing = None
    clock.set(at + timedelta(seconds=40))
    engine.suspend(x, SUPERVISOR, "等待材料")
    paused = _task_clock(engine, x)
    clock.set(REVIEW_DUE + timedelta(hours=1))
    engine.resume(x, SUPERVISOR)
    resumed = _task_clock(engine, x)
    report = engine.tick(resumed.next_fire_at)
    assert (failing.fire_attempts, failing.last_error is not None) == (2, True)
    assert (paused.status, paused.fire_attempts, paused.last_error) == ("paused", 0, None)
    assert resumed.next_kind == "due" and resumed.fire_attempts == 0
    assert report.fired == 1 and _task_clock(engine, x).breached


def test_a_clock_put_back_after_a_failed_firing_is_still_due_to_a_suspension(
        make_engine: MakeEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The breach's first firing meets a database failure and goes back for a retry a second later; a suspension
    half a second after that still finds the breach due, records it, and the clock stays late through cancel."""
    engine = make_engine()
    iid = engine.start("common.test_flow", "RETRY-1", flow_vars(), CONSUMER_ADMIN).id
    engine.tick(datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI))  # the warning
    fire = sweep._fire_clock

    def fails_once(*args: Any) -> Any:
        monkeypatch.setattr(sweep, "_fire_clock", fire)
        raise StorageUnavailable("server closed the connection unexpectedly")

    monkeypatch.setattr(sweep, "_fire_clock", fails_once)
    clock.set(REVIEW_DUE + timedelta(seconds=5))
    assert engine.tick(clock.now()).failed == 1
    assert _task_clock(engine, iid).next_fire_at == REVIEW_DUE  # the moment itself is not moved
    clock.advance(timedelta(milliseconds=500))
    engine.suspend(iid, SUPERVISOR, "等待材料")
    paused = _task_clock(engine, iid)
    engine.cancel(iid, SUPERVISOR, "撤回")
    cancelled = next(c for c in engine.clocks(iid) if c.id == paused.id)
    assert (paused.status, paused.breached) == ("paused", True)
    assert (cancelled.status, cancelled.breached) == ("breached", True)


@pytest.mark.parametrize("payload", ["x", 5, ["a"]])
def test_a_payload_that_is_no_mapping_is_refused_typed_with_an_idempotency_key(engine: Engine, payload: Any) -> None:
    """The command's digest reads the payload: a string, number or list is a PayloadInvalid, as without a key."""
    iid = engine.start("common.test_flow", "PAYLOAD-1", flow_vars(), CONSUMER_ADMIN).id
    with pytest.raises(PayloadInvalid) as refused:
        engine.fire(iid, "refuse", AUDITOR, payload, idempotency_key="k-1")
    assert "mapping of field names" in str(refused.value)


class _NaiveClock:
    def now(self) -> datetime:
        return datetime(2026, 3, 2, 10, 0)


def test_recompute_names_a_clock_that_answers_naive_times(make_engine: MakeEngine, clock: ManualClock) -> None:
    """`recompute_provisional` takes the time as every command does: a clock without a time zone is named."""
    engine = make_engine(allow_provisional=True)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    engine.start("common.test_flow", "NAIVE-1", flow_vars(), CONSUMER_ADMIN)
    engine.clock = _NaiveClock()
    with pytest.raises(PayloadInvalid) as refused:
        engine.recompute_provisional()
    assert "Engine(clock=...).now()" in str(refused.value)
