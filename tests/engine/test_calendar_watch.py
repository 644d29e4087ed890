"""A running engine takes up a calendar year file added to its data folder at its next look (at most every 30 s),
without a restart; a wrong file leaves the data in force and is logged once; the worker recomputes the provisional
deadlines once per reload, after a database outage too."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest

import calendars
from calendars.store import current_data
from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.scheduler import EngineScheduler
from storage import open_store
from tests.engine.calendar_2027 import TEST_2027_CN, TEST_2027_CN_MAKEUP, TEST_2027_GX
from tests.engine.conftest import CONSUMER_ADMIN, FLOW, MakeEngine, flow_vars, sla_told

WF = "common.test_flow"
#: The test flow counted on the Guangxi calendar.
GX_FLOW = FLOW.replace("calendar: CN\n", "calendar: CN-GX\n", 1)
RECOMPUTED = ("calendar data covers CN 2018-2027, CN-GX 2018-2026 (2027 before 03-01): {} provisional clock(s) and "
              "timer(s) recomputed")


class Seconds:
    """The monotonic clock of an engine's calendar guard, moved by hand."""

    def __init__(self, *engines: Engine) -> None:
        self.at = 0.0
        for engine in engines:
            engine.calendar_guard.monotonic = self

    def __call__(self) -> float:
        return self.at


def _procedure(engine: Engine, instance_id: str) -> tuple[bool, str]:
    """(provisional, last day) of the instance's procedure clock."""
    clock = next(c for c in engine.clocks(instance_id) if c.scope == "procedure")
    return clock.provisional, clock.last_day


def test_a_strict_engine_takes_up_an_added_year_at_its_next_look(make_engine: MakeEngine, clock: ManualClock,
                                                                 data_copy: Path) -> None:
    """On 24 Dec 2026 a start needing 2027 is refused; cn/2027.yaml is added: still refused a second before the next
    look, started by the same engine at it, due on the new data (1-5 January off: 12 January, not 8)."""
    engine = make_engine()
    seconds = Seconds(engine)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    with pytest.raises(calendars.CalendarYearMissing):
        engine.start(WF, "Y-1", flow_vars(), CONSUMER_ADMIN)  # looked at second 0

    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    seconds.at = engine.calendar_guard.recheck - 1
    with pytest.raises(calendars.CalendarYearMissing):
        engine.start(WF, "Y-1", flow_vars(), CONSUMER_ADMIN)
    seconds.at = engine.calendar_guard.recheck
    inst = engine.start(WF, "Y-1", flow_vars(), CONSUMER_ADMIN)
    assert _procedure(engine, inst.id) == (False, "2027-01-12")
    assert engine.calendar_guard.reloads == 1


def test_a_guangxi_engine_takes_up_each_of_its_two_files(make_engine: MakeEngine, clock: ManualClock,
                                                         data_copy: Path) -> None:
    """A CN-GX case started on Monday 29 March 2027 needs both 2027 files: with the national one taken up it is
    refused naming only cn-gx/2027.yaml; once that is added (8-9 April off) and looked at, its 10 WD end on
    14 April, two days after the national count."""
    engine = make_engine(flow=GX_FLOW)
    seconds = Seconds(engine)
    clock.set(datetime(2027, 3, 29, 10, 0, tzinfo=SHANGHAI))
    with pytest.raises(calendars.CalendarYearMissing) as neither:
        engine.start(WF, "GX-1", flow_vars(), CONSUMER_ADMIN)
    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    seconds.at = 30.0
    with pytest.raises(calendars.CalendarYearMissing) as national_only:
        engine.start(WF, "GX-1", flow_vars(), CONSUMER_ADMIN)
    assert [Path(f).parent.name for f in neither.value.missing] == ["cn", "cn-gx"]
    assert [Path(f).parent.name for f in national_only.value.missing] == ["cn-gx"]

    (data_copy / "cn-gx" / "2027.yaml").write_text(TEST_2027_GX, encoding="utf-8")
    seconds.at = 59.0
    with pytest.raises(calendars.CalendarYearMissing):
        engine.start(WF, "GX-1", flow_vars(), CONSUMER_ADMIN)
    seconds.at = 60.0
    inst = engine.start(WF, "GX-1", flow_vars(), CONSUMER_ADMIN)
    assert _procedure(engine, inst.id) == (False, "2027-04-14")
    assert engine.calendar_guard.reloads == 2


def test_a_wrong_file_leaves_the_data_in_force_and_is_logged_once(make_engine: MakeEngine, clock: ManualClock,
                                                                  data_copy: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A half-written cn/2027.yaml: commands go on with the data in force, one ERROR names the file and line and
    `calendar check`, nothing is reloaded, and later looks at the same folder say nothing more; the file written
    in full is taken up at the next look, and a deadline in 2027 is counted on it."""
    engine = make_engine()
    seconds = Seconds(engine)
    engine.start(WF, "W-1", flow_vars(), CONSUMER_ADMIN)  # looked at second 0
    path = data_copy / "cn" / "2027.yaml"
    path.write_text(TEST_2027_CN[:TEST_2027_CN.index("  - name: 春节")], encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="engine.calendar_check"):
        seconds.at = 30.0
        engine.start(WF, "W-2", flow_vars(), CONSUMER_ADMIN)
        seconds.at = 60.0
        engine.start(WF, "W-3", flow_vars(), CONSUMER_ADMIN)
        refused = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]  # the guard's only
        assert (engine.calendar_guard.reloads, 2027 in current_data().years("CN")) == (0, False)

        path.write_text(TEST_2027_CN, encoding="utf-8")
        seconds.at = 90.0
        clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
        inst = engine.start(WF, "W-4", flow_vars(), CONSUMER_ADMIN)
    assert len(refused) == 1
    assert f"{path}:" in refused[0] and "python cli.py calendar check" in refused[0]
    assert _procedure(engine, inst.id) == (False, "2027-01-12")
    [reloaded] = [r.getMessage() for r in caplog.records
                  if r.name == "engine.calendar_check" and r.levelno == logging.INFO]
    assert "CN 2018-2027" in reloaded


def test_the_worker_recomputes_provisional_deadlines_once_after_a_reload(make_engine: MakeEngine, clock: ManualClock,
                                                                         data_copy: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Clocks started on 24 Dec 2026 without 2027 data are provisional. cn/2027.yaml is added: the worker's tick at
    the next look reloads the data and recomputes them (the procedure due on 12 January, not 8), once; a backend's
    engine on the same database only reloads."""
    engine = make_engine(allow_provisional=True)
    backend = make_engine(allow_provisional=True)
    seconds = Seconds(engine, backend)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    inst = engine.start(WF, "P-1", flow_vars(), CONSUMER_ADMIN)
    worker = EngineScheduler(engine, interval=5, recurring=False)
    worker._tick()
    assert _procedure(engine, inst.id) == (True, "2027-01-08")

    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="engine.scheduler"):
        seconds.at = 29.0
        worker._tick()
        assert _procedure(engine, inst.id) == (True, "2027-01-08")
        seconds.at = 30.0
        backend.start(WF, "P-2", flow_vars(), CONSUMER_ADMIN)
        assert _procedure(engine, inst.id) == (True, "2027-01-08")  # the backend reloaded and recomputed nothing
        worker._tick()
        seconds.at = 60.0
        worker._tick()
    assert _procedure(engine, inst.id) == (False, "2027-01-12")
    assert [r.getMessage() for r in caplog.records if r.name == "engine.scheduler"] == [RECOMPUTED.format(2)]
    assert (engine.calendar_guard.reloads, backend.calendar_guard.reloads) == (1, 1)


class TakesTheDatabaseAway:
    """The dispatcher, a tick's last step: once armed, it moves the SQLite file away, so that the database fails
    right after a tick that reached it."""

    def __init__(self, db: Path) -> None:
        self.db, self.away, self.armed = db, db.with_suffix(".away"), False

    def dispatch(self, now: datetime) -> int:
        if self.armed:
            self.armed = False
            self.db.rename(self.away)
        return 0

    def bring_back(self) -> None:
        self.away.rename(self.db)

    def request_stop(self) -> None:
        pass


def test_a_recompute_the_database_fails_is_done_at_a_later_tick(tmp_path: Path, clock: ManualClock,
                                                                 data_copy: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The database goes away between the tick that reloaded the data and its recompute: the recompute is owed,
    said once, and done at the first tick that reaches the database again, once."""
    db = tmp_path / "worker.db"
    outage = TakesTheDatabaseAway(db)
    engine = Engine(open_store(str(db)), DefinitionSet(), clock=clock, allow_provisional=True, dispatcher=outage)
    try:
        engine.add_definition(FLOW, "test_flow.yaml")
        seconds = Seconds(engine)
        clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
        inst = engine.start(WF, "O-1", flow_vars(), CONSUMER_ADMIN)
        worker = EngineScheduler(engine, interval=5, recurring=False)
        (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="engine.scheduler"):
            seconds.at = 30.0
            outage.armed = True
            worker._tick()
            worker._tick()  # the database is still away: the tick fails, and the recompute waits
            outage.bring_back()
            worker._tick()
            worker._tick()
        assert _procedure(engine, inst.id) == (False, "2027-01-12")
    finally:
        engine.close()
    said = [r.getMessage() for r in caplog.records if "recomputed" in r.getMessage()]  # besides the outage's
    assert said[0].startswith("the provisional deadlines are recomputed for the reloaded calendar data at a later "
                              "tick (one that reaches the database)")
    assert said[1:] == [RECOMPUTED.format(2)]
    assert engine.calendar_guard.reloads == 1


def test_two_workers_each_recompute_and_a_moment_is_told_once(make_engine: MakeEngine, clock: ManualClock,
                                                              data_copy: Path) -> None:
    """Two workers on one database each reload and recompute. The 2027 file comes on Friday 8 January and makes
    Saturday 2 January a working day: the procedure was due at 24:00 on 7 January. The second worker's recompute
    arms again the breach the first worker's sweep has fired: it is told once all the same, and level 1 too."""
    first, second = make_engine(allow_provisional=True), make_engine(allow_provisional=True)
    told_first, told_second = sla_told(first), sla_told(second)
    seconds = Seconds(first, second)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    inst = first.start(WF, "T-1", flow_vars(), CONSUMER_ADMIN)
    workers = [EngineScheduler(first, interval=5, recurring=False), EngineScheduler(second, interval=5,
                                                                                    recurring=False)]
    clock.set(datetime(2027, 1, 8, 10, 0, tzinfo=SHANGHAI))
    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN_MAKEUP, encoding="utf-8")
    seconds.at = 30.0
    for worker in [*workers, *workers]:
        worker._tick()
    proc = next(c for c in first.clocks(inst.id) if c.scope == "procedure")
    assert (proc.due_at, proc.provisional, proc.breached) == (datetime(2027, 1, 8, 0, 0, tzinfo=SHANGHAI), False,
                                                              True)
    assert sorted((kind, level) for clock_id, kind, level in told_first + told_second if clock_id == proc.id) == [
        ("breach", 0), ("escalation", 1)]
    assert (first.calendar_guard.reloads, second.calendar_guard.reloads) == (1, 1)


def test_a_file_added_while_no_worker_ran_is_taken_up_by_the_next_to_start(
        make_engine: MakeEngine, clock: ManualClock, data_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The worker is stopped, cn/2027.yaml is copied in (or a release ships it), and processes start again on the
    new data: the first worker's first tick recomputes the provisional clocks, since the database recorded that
    its deadlines were last recomputed without 2027; a second worker, and a restart, find nothing to do."""
    before = make_engine(allow_provisional=True)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    inst = before.start(WF, "R-1", flow_vars(), CONSUMER_ADMIN)
    EngineScheduler(before, interval=5, recurring=False)._tick()  # records the coverage without 2027
    assert _procedure(before, inst.id) == (True, "2027-01-08")

    (data_copy / "cn" / "2027.yaml").write_text(TEST_2027_CN, encoding="utf-8")
    calendars.reload_data(data_copy)  # what a process started now reads
    first, second = make_engine(allow_provisional=True), make_engine(allow_provisional=True)
    with caplog.at_level(logging.INFO, logger="engine.scheduler"):
        EngineScheduler(first, interval=5, recurring=False)._tick()
        EngineScheduler(second, interval=5, recurring=False)._tick()
        EngineScheduler(first, interval=5, recurring=False)._tick()
    assert _procedure(first, inst.id) == (False, "2027-01-12")
    assert [r.getMessage() for r in caplog.records if "recomputed" in r.getMessage()] == [RECOMPUTED.format(2)]
    assert first.calendar_guard.reloads == 0  # no reload: the data was read at start
