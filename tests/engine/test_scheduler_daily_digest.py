"""The scheduler's daily overdue list: sent at start when its time has passed, never stopping the worker on an
error, and sent once the database is back after an outage."""

from __future__ import annotations

import logging
import time as wall
from collections.abc import Callable, Sequence
from datetime import datetime, time
from pathlib import Path

import pytest

from engine import Engine, ManualClock, Person
from engine.clock import SHANGHAI
from engine.daily_digest_job import DailyDigest
from engine.definitions import DefinitionSet
from engine.errors import PayloadInvalid
from engine.scheduler import EngineScheduler
from storage import open_store
from tests.engine.conftest import CONSUMER_ADMIN, DIRECTORY, FLOW, MakeEngine, flow_vars
from tests.engine.test_daily_digest_job import MONDAY, STARTED, at, digests


def wait_for(condition: Callable[[], object], seconds: float = 20.0) -> bool:
    """Bounded polling for what another thread does."""
    deadline = wall.monotonic() + seconds
    while wall.monotonic() < deadline:
        if condition():
            return True
        wall.sleep(0.02)
    return bool(condition())


@pytest.fixture
def late(make_engine: MakeEngine, clock: ManualClock) -> Engine:
    """An engine (the supervisor erin sees everything) with a review due at 24:00 on Thursday 24 September."""
    clock.set(STARTED)
    engine = make_engine()
    engine.start("common.test_flow", "SCH-D-1", flow_vars(), CONSUMER_ADMIN)
    return engine


@pytest.mark.parametrize(("moment", "expected"), [(at("2026-09-28", 8), False), (at("2026-09-28", 9), True),
                                                  (at("2026-09-26", 10), True)])
def test_a_worker_catches_up_only_after_the_digest_time(late: Engine, moment: datetime, expected: bool) -> None:
    """Started before 09:00 it waits for the cron time; at or after it, it sends at start (the run skips days off)."""
    scheduler = EngineScheduler(late, interval=60, recurring=False, daily_digest=DailyDigest(DIRECTORY))
    assert scheduler.catch_up_due(moment) is expected
    assert EngineScheduler(late, interval=60, recurring=False).catch_up_due(moment) is False


def test_a_worker_started_after_the_time_sends_that_days_list(late: Engine, clock: ManualClock) -> None:
    """Started at 10:00 on Monday 28 September, the scheduler enqueues the day's list without waiting a day."""
    clock.set(MONDAY)
    scheduler = EngineScheduler(late, interval=60, recurring=False, daily_digest=DailyDigest(DIRECTORY, time(9, 30)))
    scheduler.start()
    try:
        assert wait_for(lambda: scheduler.last_digest is not None)
    finally:
        scheduler.stop()
    assert scheduler.last_digest is not None and scheduler.last_digest.enqueued == 1
    assert list(digests(late)) == ["daily:2026-09-28:erin:email"]


def test_a_year_without_calendar_data_still_sends_the_list_and_says_the_day_was_guessed(
        late: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """In a year without a published schedule the strict engine still sends Monday's list (overdue cases need
    chasing most then) and says the working day was a guess; the job returns."""
    clock.set(datetime(2030, 1, 7, 10, 0, tzinfo=SHANGHAI))
    scheduler = EngineScheduler(late, interval=60, recurring=False, daily_digest=DailyDigest(DIRECTORY))
    with caplog.at_level(logging.INFO, logger="engine.scheduler"):
        run = scheduler.run_daily_digest()
    assert run is not None and (run.working_day, run.enqueued, run.guessed) == (True, 1, True)
    said = [r.getMessage() for r in caplog.records if r.name == "engine.scheduler"]
    assert said == ["daily digest of 2030-01-07: 1 overdue case(s), 1 new message(s) (2030 has no calendar data: "
                    "a guess from weekends and fixed-date holidays)"]
    assert scheduler.errors == 0


class BrokenDirectory:
    """A backend's directory that fails when asked for people."""

    def people(self, base_role: str, department: str | None) -> Sequence[Person]:
        raise RuntimeError("LDAP timed out")

    def department_name(self, code: str) -> str:
        return code


def test_a_failing_directory_is_logged_and_the_job_returns(late: Engine, clock: ManualClock,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected error of a plug-in is logged with its traceback; the worker's job does not raise."""
    clock.set(MONDAY)
    scheduler = EngineScheduler(late, interval=60, recurring=False, daily_digest=DailyDigest(BrokenDirectory()))
    with caplog.at_level(logging.ERROR, logger="engine.scheduler"):
        assert scheduler.run_daily_digest() is None
    (record,) = [r for r in caplog.records if r.name == "engine.scheduler"]
    assert record.getMessage() == "the daily digest of 2026-09-28 failed" and record.exc_info is not None


def test_the_digest_time_must_be_a_time_of_day() -> None:
    """A DailyDigest at something other than a naive time of day is refused with a typed error."""
    with pytest.raises(PayloadInvalid) as err:
        DailyDigest(DIRECTORY, "09:00")  # type: ignore[arg-type]
    assert "time of day" in str(err.value)


def test_an_outage_holds_the_list_until_a_tick_reaches_the_database(
        tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """With the database away at the digest's time the list waits (said once); the first tick after it is back
    sends it (at 10:00, before the 11:00 set here: no catch-up at start sends it instead)."""
    db = tmp_path / "d.db"
    engine = Engine(open_store(str(db)), DefinitionSet(), clock=clock, directory=DIRECTORY)
    engine.add_definition(FLOW, "test_flow.yaml")
    clock.set(STARTED)
    engine.start("common.test_flow", "SCH-D-2", flow_vars(), CONSUMER_ADMIN)
    clock.set(MONDAY)
    away = tmp_path / "away.db"
    scheduler = EngineScheduler(engine, interval=0.1, recurring=False, daily_digest=DailyDigest(DIRECTORY, time(11)))
    try:
        with caplog.at_level(logging.WARNING, logger="engine.scheduler"):
            db.rename(away)
            assert scheduler.run_daily_digest() is None
            assert scheduler.run_daily_digest() is None  # a second try the same day: not said again
            away.rename(db)
            assert not scheduler.catch_up_due()
            scheduler.start()
            assert wait_for(lambda: scheduler.last_digest is not None)
    finally:
        scheduler.stop()
    said = [r.getMessage() for r in caplog.records if r.name == "engine.scheduler" and "digest" in r.getMessage()]
    try:
        assert len(said) == 1 and said[0].startswith("the daily digest of 2026-09-28 waits for the database")
        assert scheduler.last_digest is not None and scheduler.last_digest.enqueued == 1
        assert list(digests(engine)) == ["daily:2026-09-28:erin:email"]
    finally:
        engine.close()
