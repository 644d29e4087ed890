"""Database outage: PostgreSQL is stopped and started again while workers run commands and ticks. During the
outage every command raises StorageUnavailable (never a driver error); afterwards the workers carry on, and
every acknowledged command is in the history exactly once."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
import pytest

from engine import ManualClock, StorageUnavailable, UnknownInstance, WorkflowError
from storage import open_store
from storage.sql import SPARE_PING_AFTER, SqlInstanceStore
from tests.conftest import find_pg_bin
from tests.faults.harness.flow import START, WF, actor, build_engine, flow_vars
from tests.faults.harness.invariants import Findings, check_history, check_timers
from tests.faults.harness.pg import RestartableServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def server() -> Iterator[RestartableServer]:
    pg_bin = find_pg_bin()
    if pg_bin is None:
        if os.environ.get("CI"):
            pytest.fail("the outage test needs PostgreSQL's server binaries (initdb, pg_ctl)")
        pytest.skip("the outage test needs PostgreSQL's server binaries (initdb, pg_ctl)")
    srv = RestartableServer(pg_bin)
    srv.start()
    yield srv
    srv.stop()


@dataclass
class Worker:
    """A backend worker: starts an instance, approves it, ticks; retries a command the database refused."""

    name: str
    url: str
    clock: ManualClock
    stop: threading.Event
    acked: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    untyped: list[str] = field(default_factory=list)

    def retry(self, what: str, fn: Callable[[], object]) -> None:
        """Run a command until it is acknowledged (its idempotency key makes a repeat harmless)."""
        while not self.stop.is_set():
            try:
                fn()
                self.acked.append(what)
                return
            except StorageUnavailable:
                self.errors["StorageUnavailable"] += 1
                time.sleep(0.05)  # back-off between retries, as a backend would
            except WorkflowError as err:
                self.errors[type(err).__name__] += 1
                return
            except Exception as err:
                self.untyped.append(f"{type(err).__module__}.{type(err).__name__}: {err}")
                return

    def run(self) -> None:
        engine = build_engine(self.url, self.clock, worker_id=self.name)
        try:
            k = 0
            while not self.stop.is_set():
                key = f"{self.name}-{k}"
                self.retry(f"{key}s", lambda key=key: engine.start(
                    WF, key, flow_vars(users=0), actor("consumer", f"{key}s"), idempotency_key=f"{key}s"))
                self.retry(f"{key}a", lambda key=key: engine.fire(
                    engine.find(WF, key).id, "approve", actor("auditor", f"{key}a"), {}, idempotency_key=f"{key}a"))
                self.retry(f"{key}t", lambda: engine.tick(self.clock.now()))
                k += 1
        finally:
            engine.close()


def _wait(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_postgres_restart_while_workers_run(server: RestartableServer) -> None:
    """Stopped and restarted under load: typed errors during the outage, nothing lost or doubled after it."""
    url = f"postgresql+psycopg://shixian@127.0.0.1:{server.port}/shixian_test"
    clock = ManualClock(START + timedelta(days=1))
    stop = threading.Event()
    workers = [Worker(f"w{n}", url, clock, stop) for n in range(3)]
    threads = [threading.Thread(target=w.run) for w in workers]
    probe = build_engine(url, clock)
    known = probe.start(WF, "PROBE", flow_vars(), actor("consumer"))
    for t in threads:
        t.start()
    try:
        _wait(lambda: all(len(w.acked) >= 6 for w in workers), "the workers to get going")
        server.halt()
        during = {}
        for name, call in {
            "start": lambda: probe.start(WF, "DOWN", flow_vars(), actor("consumer")),
            "fire": lambda: probe.fire(known.id, "approve", actor("auditor"), {}),
            "get": lambda: probe.get(known.id),
            "tick": lambda: probe.tick(clock.now()),
            "history": lambda: probe.history(known.id),
        }.items():
            try:
                call()
                during[name] = "succeeded"
            except Exception as err:
                during[name] = type(err).__name__
        _wait(lambda: all(w.errors["StorageUnavailable"] > 0 for w in workers), "the workers to see the outage")
        acked_before = [len(w.acked) for w in workers]
        server.restart()
        _wait(lambda: all(len(w.acked) >= n + 9 for w, n in zip(workers, acked_before, strict=True)),
              "the workers to carry on after the restart")
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert during == dict.fromkeys(during, "StorageUnavailable")
    assert [u for w in workers for u in w.untyped] == []
    assert all(set(w.errors) <= {"StorageUnavailable"} for w in workers), [w.errors for w in workers]

    clock.advance(timedelta(days=30))
    while probe.tick(clock.now()).fired:
        pass
    history = Counter(h.actor for i in probe.list_instances(limit=10_000) for h in probe.history(i.id))
    for w in workers:
        for what in w.acked:
            if not what.endswith("t"):
                assert history[what] == 1, f"{what}: {history[what]} history rows"
    mine = {a for a in history if a.startswith("w")}
    assert mine == {what for w in workers for what in w.acked if not what.endswith("t")}
    with pytest.raises(UnknownInstance):
        probe.find(WF, "DOWN")
    store = open_store(url)
    try:
        found = Findings()
        check_history(store, found)
        check_timers(store, clock.now(), found, probe)
    finally:
        store.close()
        probe.close()
    assert found.problems == []
    print(f"\noutage: {sum(len(w.acked) for w in workers)} commands acknowledged, "
          f"{sum(w.errors['StorageUnavailable'] for w in workers)} StorageUnavailable retries")


def test_the_first_command_after_a_restart_is_answered(server: RestartableServer) -> None:
    """A backend idle across a restart: its kept connection goes back through the pool's check, so the first
    command after the restart is answered, not refused for a connection the server dropped. Within the second
    it is kept without a check, a command right after a restart may still be refused, typed."""
    url = f"postgresql+psycopg://shixian@127.0.0.1:{server.port}/shixian_test"
    engine = build_engine(url, ManualClock(START))
    store = engine.store
    assert isinstance(store, SqlInstanceStore)
    now = [1000.0]
    store._monotonic = lambda: now[0]
    first = engine.start(WF, "RS-1", flow_vars(), actor("consumer"))
    server.halt()
    server.restart()
    now[0] += 2 * SPARE_PING_AFTER  # the backend was idle meanwhile
    assert engine.get(first.id) is not None
    assert engine.fire(first.id, "approve", actor("auditor"), {}).state != first.state

    server.halt()
    server.restart()
    with pytest.raises(StorageUnavailable) as refused:  # no time has passed: the dropped connection is used
        engine.get(first.id)
    assert not refused.value.outcome_unknown and "nothing was changed" in str(refused.value)
    assert engine.get(first.id) is not None  # the broken connection was replaced
    engine.close()


def test_a_commit_whose_answer_is_lost_is_not_called_unchanged(server: RestartableServer) -> None:
    """The server's session ends while the command commits: the caller cannot know whether it was committed,
    and the error says so, pointing to the idempotency key, instead of claiming nothing was changed."""
    url = f"postgresql+psycopg://shixian@127.0.0.1:{server.port}/shixian_test"
    store = SqlInstanceStore(url)
    killer = psycopg.connect(f"host=127.0.0.1 port={server.port} user=shixian dbname=shixian_test",
                             autocommit=True)
    try:
        with pytest.raises(StorageUnavailable) as lost, store.transaction() as tx:
            tx.cur.execute("SELECT pg_backend_pid()")
            pid = tx.cur.fetchone()[0]
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert lost.value.outcome_unknown
        assert "may or may not have been done" in str(lost.value) and "idempotency key" in str(lost.value)
        assert "nothing was changed" not in str(lost.value)
    finally:
        killer.close()
        store.close()
