"""A claimed moment whose firing meets a failed database goes back as it was: the database's fault is not the
moment's, so it gets no attempt and no back-off, and it fires at the next tick once the database answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pytest

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.store import TimerView
from storage.sql import SqlInstanceStore
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, DIRECTORY, FLOW, flow_vars

WF = "common.test_flow"
APP = "shixian_tick_outage"
#: Started Monday 2 March 2026, the procedure's 10 WD end at 24:00 on Monday 16 March; approved on Tuesday 3 March,
#: the 10 WD publicity ends a day later, at 24:00 on Tuesday 17 March
PROCEDURE_DUE = datetime(2026, 3, 17, 0, 0, tzinfo=SHANGHAI)
PUBLICITY_ENDS = datetime(2026, 3, 18, 0, 0, tzinfo=SHANGHAI)


class CutAfterClaim(SqlInstanceStore):
    """The engine's store; once armed, the server ends every session of this store right after a timer claim,
    as a failover or a restart of the server would, between the claim and the firing."""

    def __init__(self, url: str, plain_url: str) -> None:
        super().__init__(url)
        self.armed = False
        self._plain_url = plain_url

    def claim_timers(self, now: datetime, worker: str, lease_seconds: float, limit: int) -> list[TimerView]:
        claimed = super().claim_timers(now, worker, lease_seconds, limit)
        if claimed and self.armed:
            self.armed = False
            with psycopg.connect(self._plain_url, autocommit=True) as admin:
                ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE application_name = %s", (APP,)).fetchone()
            assert ended is not None and ended[0] > 0
        return claimed


@pytest.fixture
def cut_engine(pg_url: str, pg_server_url: str, clock: ManualClock) -> Iterator[tuple[Engine, CutAfterClaim]]:
    store = CutAfterClaim(f"{pg_url}&application_name={APP}", pg_server_url.replace("+psycopg", ""))
    store._monotonic = lambda: 0.0  # the kept connection never looks idle: the command uses it, as a busy one would
    engine = Engine(store, DefinitionSet(), clock=clock, directory=DIRECTORY)
    engine.add_definition(FLOW, "test_flow.yaml")
    engine.register_hook("count_users", lambda variables: {"users": 0})
    yield engine, store
    engine.close()


@pytest.mark.postgres
def test_a_timer_whose_firing_meets_a_lost_connection_is_put_back_without_an_attempt(
        cut_engine: tuple[Engine, CutAfterClaim], clock: ManualClock) -> None:
    engine, store = cut_engine
    inst = engine.start(WF, "OUT-1", flow_vars(), CONSUMER_ADMIN)
    clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=SHANGHAI))
    assert engine.fire(inst.id, "approve", AUDITOR).state == "publicity"
    assert engine.tick(PROCEDURE_DUE).fired == 1  # the procedure's breach: nothing else is left before the timer

    store.armed = True
    report = engine.tick(PUBLICITY_ENDS)
    assert (report.fired, report.failed) == (0, 1)
    assert engine.get(inst.id).state == "publicity"
    [timer] = [t for t in engine.timers(inst.id) if t.kind == "timer"]
    assert (timer.status, timer.attempts) == ("pending", 0)
    assert timer.fire_at == PUBLICITY_ENDS + timedelta(seconds=1)  # no back-off: the next tick takes it
    assert "database" in (timer.last_error or "")

    assert engine.tick(PUBLICITY_ENDS + timedelta(seconds=1)).fired == 1
    done = engine.get(inst.id)
    assert (done.state, done.status) == ("done", "completed")
    assert [h.event for h in engine.history(inst.id)].count("_timer") == 1
