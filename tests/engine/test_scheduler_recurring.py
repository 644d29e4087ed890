"""The scheduler's recurring starts: a round whose cron moment passed while no worker ran is started when a worker
starts, one whose start met a database outage is started once a tick reaches the database again, and either
round is the latest period's, with that moment's variables and the start's own time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import decode_values
from engine.periods import recurring_business_key, recurring_variables
from engine.scheduler import EngineScheduler, cron_trigger, latest_fire_time
from storage import open_store
from tests.engine.conftest import DIRECTORY, REVIEWER
from tests.engine.test_scheduler_daily_digest import wait_for

WF = "lz.catalog_refresh"  # cron "0 9 1 6,12 *": 1 June and 1 December at 09:00, one round per half year


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


LAST_DECEMBER_1 = at(2025, 12, 1, 9)
JUNE_1 = at(2026, 6, 1, 9)  # a Monday
DECEMBER_1 = at(2026, 12, 1, 9)


@pytest.mark.parametrize(("cron", "now", "expected"), [
    ("0 9 1 6,12 *", at(2026, 7, 3, 10), at(2026, 6, 1, 9)),
    ("0 9 1 6,12 *", at(2026, 6, 1, 9), at(2026, 6, 1, 9)),  # the moment itself counts
    ("0 9 1 6,12 *", at(2026, 6, 1, 8, 59), at(2025, 12, 1, 9)),
    ("* * * * *", at(2026, 3, 2, 10, 0, 30), at(2026, 3, 2, 10, 0)),
    ("*/5 9 * * mon-fri", at(2026, 3, 2, 8, 0), at(2026, 2, 27, 9, 55)),  # Monday before 9: Friday's last
    ("0 9 29 2 *", at(2026, 3, 1), at(2024, 2, 29, 9)),
])
def test_the_latest_fire_time_is_the_last_cron_moment_not_after_now(cron: str, now: datetime,
                                                                    expected: datetime) -> None:
    """The moment a worker owes a round for: the cron's last moment at or before now, in Shanghai time."""
    assert latest_fire_time(cron, now) == expected
    assert latest_fire_time(cron, now.astimezone(UTC)) == expected


@settings(max_examples=60, deadline=None)
@given(cron=st.sampled_from(["0 9 1 6,12 *", "30 8 * * mon-fri", "0 0 1 1 *", "15,45 * * * *", "0 9 29 2 *",
                             "0 9 * * 0", "0 18 * * 1-5/2"]),
       now=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(SHANGHAI)))
def test_no_fire_time_lies_between_the_latest_and_now(cron: str, now: datetime) -> None:
    """Whatever the moment, the latest fire time is not after it and the cron's next fire time after it is."""
    latest = latest_fire_time(cron, now)
    assert latest is not None and latest <= now
    following = cron_trigger(cron).get_next_fire_time(latest, latest)
    assert following is not None and following > now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "recurring.db"


@pytest.fixture
def engine(db: Path, clock: ManualClock) -> Iterator[Engine]:
    """An engine on a SQLite file with the half-yearly catalog refresh (a recurring workflow)."""
    repo = Path(__file__).resolve().parents[2]
    definitions = DefinitionSet.load([repo / "workflows" / "lz" / "catalog_refresh.yaml"])
    made = Engine(open_store(str(db)), definitions, clock=clock, directory=DIRECTORY)
    yield made
    made.close()


def rounds(engine: Engine) -> list[str]:
    return sorted(i.business_key for i in engine.list_instances(workflow_id=WF))


def ran_at(engine: Engine, clock: ManualClock, moment: datetime) -> None:
    """A worker ran through `moment`: its cron job started that round."""
    clock.set(moment)
    EngineScheduler(engine, interval=60).start_recurring(WF)


def informed(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "engine.scheduler" and r.levelno == logging.INFO]


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "engine.scheduler" and r.levelno >= logging.WARNING]


def test_a_worker_started_after_the_moment_starts_that_rounds_period(
        engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """Down over the weekend and started at 10:30 on Monday 1 June, the worker starts the round of 09:00 and says so;
    started again, it starts nothing more."""
    ran_at(engine, clock, LAST_DECEMBER_1)
    started = JUNE_1 + timedelta(minutes=90)
    clock.set(started)
    scheduler = EngineScheduler(engine, interval=60)
    with caplog.at_level(logging.INFO, logger="engine.scheduler"):
        scheduler.catch_up_recurring()
        EngineScheduler(engine, interval=60).catch_up_recurring()  # a restart, or a second worker
    spec = engine.definitions.get(WF).spec
    key = recurring_business_key(spec, JUNE_1)
    assert rounds(engine) == ["catalog-refresh-2025-H2", key] == ["catalog-refresh-2025-H2", "catalog-refresh-2026-H1"]
    assert engine.list_instances(workflow_id=WF)[-1].created_at == started
    assert said(caplog) == [f"caught up {WF} {key}, the round of its cron moment 2026-06-01 09:00 (its variables are "
                            "that moment's): no round of that moment had started when this worker started (no "
                            "worker ran then, or the database was unavailable)"]
    assert f"{WF} {key} already started" in caplog.messages
    assert scheduler.errors == 0


def test_a_first_start_of_the_deployment_catches_up_no_round(
        engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """Deployed in March, the worker does not start last December's round, already past its due date (its
    escalations would reach the supervisors at once for a round nobody owed): it says so once, at INFO."""
    clock.set(at(2026, 3, 10, 10))
    scheduler = EngineScheduler(engine, interval=60)
    with caplog.at_level(logging.INFO, logger="engine.scheduler"):
        scheduler.catch_up_recurring()
    assert rounds(engine) == []
    assert [m for m in informed(caplog) if "not caught up" in m] == [
        f"not caught up: the round of {WF} of 2025-12-01 09:00, as the deployment did not run {WF} before its "
        "moment (no instance of it had started by then)"]
    assert said(caplog) == [] and scheduler.errors == 0


def test_a_round_started_after_the_moment_is_no_sign_the_deployment_ran_before_it(
        engine: Engine, clock: ManualClock) -> None:
    """A round started by hand in March, after the worker's first start, does not make last December's round owed
    at the next start; the first cron moment after it (June) is owed to a worker down then."""
    clock.set(at(2026, 3, 12, 10))
    engine.start(WF, "catalog-refresh-2026-spring", {"period_end": date(2026, 6, 30)}, REVIEWER)
    clock.set(at(2026, 3, 15, 10))
    EngineScheduler(engine, interval=60).catch_up_recurring()
    assert rounds(engine) == ["catalog-refresh-2026-spring"]
    clock.set(JUNE_1 + timedelta(days=2))
    EngineScheduler(engine, interval=60).catch_up_recurring()
    assert rounds(engine) == ["catalog-refresh-2026-H1", "catalog-refresh-2026-spring"]


def test_a_catch_up_the_database_kept_from_checking_is_made_when_a_tick_reaches_it(
        engine: Engine, db: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """The database is away when the worker starts: whether the deployment ran the workflow cannot be read, so
    nothing is started (said once); the first tick that reaches the database again makes the catch-up."""
    ran_at(engine, clock, LAST_DECEMBER_1)
    clock.set(JUNE_1 + timedelta(hours=2))
    scheduler = EngineScheduler(engine, interval=3600)  # its own ticks: the one at start, then the test's
    away = db.with_name("away.db")
    caplog.set_level(logging.INFO, logger="engine.scheduler")
    db.rename(away)
    scheduler.start()
    try:
        assert wait_for(lambda: scheduler.errors == 2)  # the catch-up's check and the first tick
        away.rename(db)
        scheduler._tick()
        assert wait_for(lambda: "catalog-refresh-2026-H1" in rounds(engine))
    finally:
        scheduler.stop()
    assert rounds(engine) == ["catalog-refresh-2025-H2", "catalog-refresh-2026-H1"]
    waits = [m for m in said(caplog) if "waits for the database" in m]
    assert len(waits) == 1 and waits[0].startswith("the catch-up of the recurring rounds waits for the database")


def test_a_caught_up_round_keeps_its_periods_deadline_and_starts_its_clock_now(
        engine: Engine, clock: ManualClock) -> None:
    """Started on 2 July, after its half year, the round of 1 June is the first half's, due 30 June as it would
    have been (not the second half's 31 December), its clock started at the catch-up, already late."""
    ran_at(engine, clock, LAST_DECEMBER_1)
    now = at(2026, 7, 2, 10)
    clock.set(now)
    EngineScheduler(engine, interval=60).catch_up_recurring()
    spec = engine.definitions.get(WF).spec
    inst = engine.list_instances(workflow_id=WF)[-1]
    assert inst.business_key == recurring_business_key(spec, JUNE_1) != recurring_business_key(spec, now)
    variables = decode_values(spec, inst.variables)
    assert variables["period_end"] == recurring_variables(spec, JUNE_1)["period_end"] == date(2026, 6, 30)
    (task,) = [c for c in engine.clocks(inst.id) if c.scope == "task"]
    assert task.started_at == now
    assert task.due_at.astimezone(SHANGHAI).date() <= date(2026, 7, 1) and task.due_at <= now


def test_only_the_latest_missed_round_is_caught_up(engine: Engine, clock: ManualClock) -> None:
    """A worker down from May to January owes the rounds of June and December: it starts December's only."""
    ran_at(engine, clock, LAST_DECEMBER_1)
    clock.set(at(2027, 1, 4, 10))
    EngineScheduler(engine, interval=60).catch_up_recurring()
    spec = engine.definitions.get(WF).spec
    assert rounds(engine) == [recurring_business_key(spec, LAST_DECEMBER_1), recurring_business_key(spec, DECEMBER_1)]


def test_a_started_worker_catches_up_without_being_asked(engine: Engine, clock: ManualClock) -> None:
    """`start()` runs the catch-up itself, in the scheduler's thread."""
    ran_at(engine, clock, LAST_DECEMBER_1)
    clock.set(JUNE_1 + timedelta(hours=3))
    scheduler = EngineScheduler(engine, interval=60)
    scheduler.start()
    try:
        assert wait_for(lambda: len(rounds(engine)) == 2)
    finally:
        scheduler.stop()
    assert rounds(engine) == ["catalog-refresh-2025-H2", "catalog-refresh-2026-H1"]


def test_a_round_the_database_kept_from_starting_starts_when_a_tick_reaches_it(
        engine: Engine, db: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """The cron fires while the file is away: the round waits (said once, however often it is tried); the first
    tick that reaches the database again has it started, with that moment's key, and the log says why it is late.
    The worker ran at the moment, so the round is owed on a first deployment too."""
    clock.set(JUNE_1 - timedelta(hours=1))
    scheduler = EngineScheduler(engine, interval=3600)  # its own ticks: the one at start, then the test's
    away = db.with_name("away.db")
    caplog.set_level(logging.INFO, logger="engine.scheduler")
    scheduler.start()
    try:
        # the catch-up at start (nothing owed: a first deployment) and the first tick done, nothing runs in the
        # background
        assert wait_for(lambda: informed(caplog) and scheduler.ticks == 1)
        with caplog.at_level(logging.WARNING, logger="engine.scheduler"):
            db.rename(away)
            clock.set(JUNE_1)
            scheduler.start_recurring(WF)  # the cron job, which must not raise
            scheduler.start_recurring(WF)
            scheduler._tick()
            away.rename(db)
            clock.set(JUNE_1 + timedelta(minutes=20))
            scheduler._tick()
            assert wait_for(lambda: "catalog-refresh-2026-H1" in rounds(engine))
    finally:
        scheduler.stop()
    assert rounds(engine) == ["catalog-refresh-2026-H1"]
    waits = [m for m in said(caplog) if "waits for the database" in m]
    assert len(waits) == 1 and waits[0].startswith(f"the round of {WF} of 2026-06-01 09:00 waits for the database")
    assert (f"caught up {WF} catalog-refresh-2026-H1, the round of its cron moment 2026-06-01 09:00 (its variables "
            "are that moment's): the database was unavailable at that moment") in said(caplog)
    (inst,) = [i for i in engine.list_instances(workflow_id=WF) if i.business_key == "catalog-refresh-2026-H1"]
    assert inst.created_at == JUNE_1 + timedelta(minutes=20)
    assert scheduler.errors == 3  # two starts and a tick refused while the file was away


def test_an_outage_over_two_moments_starts_only_the_latest_round(
        engine: Engine, db: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """The database away from June to December: the June round is said to be lost and December's is started."""
    scheduler = EngineScheduler(engine, interval=60)
    away = db.with_name("away.db")
    with caplog.at_level(logging.WARNING, logger="engine.scheduler"):
        db.rename(away)
        clock.set(JUNE_1)
        scheduler.start_recurring(WF)
        away.rename(db)
        clock.set(DECEMBER_1 + timedelta(days=1))
        scheduler.start_owed_rounds()
        scheduler.start_owed_rounds()  # owed no more: nothing is tried or said again
    assert rounds(engine) == ["catalog-refresh-2026-H2"]
    assert said(caplog)[1:] == [
        f"the round of {WF} of 2026-06-01 09:00 was not started: the database was unavailable until after its next "
        "cron moment, 2026-12-01 09:00, whose round is started instead",
        f"caught up {WF} catalog-refresh-2026-H2, the round of its cron moment 2026-12-01 09:00 (its variables are "
        "that moment's): the database was unavailable at that moment",
    ]


def test_an_earlier_round_started_meanwhile_leaves_the_later_one_owed(
        engine: Engine, db: Path, clock: ManualClock) -> None:
    """June's round waits for the database; a start of December's older round (the catch-up at start, finishing
    late) does not settle it: the retry still starts June's."""
    scheduler = EngineScheduler(engine, interval=60)
    away = db.with_name("away.db")
    clock.set(JUNE_1)
    db.rename(away)
    scheduler.start_recurring(WF)
    away.rename(db)
    scheduler.start_round(WF, at(2025, 12, 1, 9))
    scheduler.start_owed_rounds()
    assert rounds(engine) == ["catalog-refresh-2025-H2", "catalog-refresh-2026-H1"]
