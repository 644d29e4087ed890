"""Concurrency: threads and processes fire conflicting events at the same instances, on SQLite and on
PostgreSQL. Each instance takes exactly one winner; the losers get a typed error; the winners' steps are all
in the history, nobody else's are, and every instance replays from its history."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine import Engine, ManualClock
from storage import open_store
from tests.faults.harness.contenders import (
    LOOP_EVENTS,
    contend,
    contend_in_loop,
    contend_in_process,
    open_in_process,
    start_in_process,
)
from tests.faults.harness.flow import START, WF, actor, build_engine, flow_vars
from tests.faults.harness.invariants import Findings, check_history

INSTANCES = 24


@pytest.fixture
def instance_ids(engine: Engine) -> Iterator[list[str]]:
    yield [engine.start(WF, f"RACE-{i}", flow_vars(), actor("consumer")).id for i in range(INSTANCES)]


def history_problems(db_url: str) -> list[Any]:
    """What the history invariants find wrong in the whole database (nothing, when all is well)."""
    store = open_store(db_url)
    try:
        found = Findings()
        check_history(store, found)
    finally:
        store.close()
    return found.problems


def _check(engine: Engine, db_url: str, results: list[dict[str, Any]], instance_ids: list[str]) -> None:
    unexpected = [u for r in results for u in r["unexpected"]]
    assert unexpected == []
    winners = Counter(i for r in results for i, _ in r["wins"])
    assert set(winners) == set(instance_ids)
    # from review exactly one of approve / refuse wins per instance: nothing else leaves review for these actors
    assert all(count == 1 for count in winners.values()), winners
    assert sum(sum(r["losses"].values()) for r in results) > 0  # there really were races
    by_actor = {(h.instance_id, h.event, h.actor) for i in instance_ids for h in engine.history(i)
                if h.actor.startswith("racer")}
    won = {(i, e, r["name"]) for r in results for i, e in r["wins"]}
    assert by_actor == won
    assert history_problems(db_url) == []


@pytest.mark.parametrize("shared", [True, False], ids=["one_engine", "engine_each"])
def test_threads_firing_conflicting_events(engine: Engine, db_url: str, instance_ids: list[str],
                                           shared: bool) -> None:
    """8 threads race approve against refuse on 24 instances, sharing one engine or each with its own."""
    barrier = threading.Barrier(8)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    engines = [engine if shared else build_engine(db_url, ManualClock(START), worker_id=f"e{n}") for n in range(8)]

    def run(n: int) -> None:
        result = contend(engines[n], f"racer{n}", instance_ids, seed=n, barrier=barrier)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for e in engines:
        if e is not engine:
            e.close()
    assert len(results) == 8
    _check(engine, db_url, results, instance_ids)


def in_processes(target: Callable[..., None], args: Callable[[int], tuple[Any, ...]], count: int = 4,
                 timeout: float = 300) -> list[dict[str, Any]]:
    """Run `target(*args(n), barrier, out)` in `count` spawned processes that start their work together; the
    report each puts on `out`. Every process must exit 0."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(count), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args(n), barrier, out)) for n in range(count)]
    for p in procs:
        p.start()
    results = [out.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    return results


def test_processes_firing_conflicting_events(engine: Engine, db_url: str, instance_ids: list[str]) -> None:
    """4 processes race approve against refuse on the same 24 instances."""
    results = in_processes(contend_in_process, lambda n: (db_url, f"racer{n}", instance_ids, 100 + n))
    _check(engine, db_url, results, instance_ids)


def test_processes_moving_instances_back_and_forth_lose_no_step(engine: Engine, db_url: str) -> None:
    """4 processes fire settle and object at the same 4 instances, 60 passes each, so each instance goes back and
    forth between the meeting and the publicity and every process's remembered rows are overtaken by the others'
    steps. Every step a process won is in the history once, by its actor, and no other; each instance replays
    from its history; some commands did find their remembered row out of date and ran again on the stored one."""
    ids = []
    for n in range(4):
        iid = engine.start(WF, f"LOOP-{n}", flow_vars(), actor("consumer")).id
        if engine.fire(iid, "approve", actor("auditor"), {"note": "loop"}).state == "publicity":
            engine.fire(iid, "object", actor("consumer"))
        ids.append(iid)
    assert {engine.get(i).state for i in ids} == {"meeting"}
    results = in_processes(contend_in_loop, lambda n: (db_url, f"looper{n}", ids, 200 + n, 60), timeout=600)
    assert [u for r in results for u in r["unexpected"]] == []
    won = Counter((i, e, f"{r['name']}-{LOOP_EVENTS[e]}") for r in results for i, e in r["wins"])
    stepped = Counter((h.instance_id, h.event, h.actor) for i in ids for h in engine.history(i)
                      if h.actor.startswith("looper"))
    assert stepped == won and sum(won.values()) > 0
    assert sum(r["reruns"] for r in results) > 0  # the remembered rows really were out of date
    assert history_problems(db_url) == []


def test_processes_starting_at_once_number_every_instance_apart(engine: Engine, db_url: str) -> None:
    """4 processes start 30 instances each on one database at the same moment: each instance takes a number of its
    own (SQLite: one past the highest in the history's keys, under the write lock; PostgreSQL: the sequence), so
    every history is whole, in its own range of keys, and verifies."""
    from sqlalchemy import select

    from storage.tables import instance_t

    results = in_processes(start_in_process, lambda n: (db_url, f"starter{n}", 30))
    started = [i for r in results for i in r["started"]]
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        numbers = dict(conn.execute(select(instance_t.c.id, instance_t.c.ordinal)).all())
    assert [u for r in results for u in r["unexpected"]] == []
    assert len(started) == len(set(started)) == 120
    assert len(set(numbers.values())) == len(numbers) == 120
    steps = {i: [s.seq for s in engine.history(i)] for i in started}
    assert all(seqs == list(range(1, engine.get(i).history_seq + 1)) != [] for i, seqs in steps.items()), steps
    assert all(engine.verify_history(i).ok for i in started)
    assert history_problems(db_url) == []


def test_threads_opening_one_database_at_once(tmp_path: Any) -> None:
    """8 threads opening (and so migrating) one new database at the same moment all get a working store."""
    barrier = threading.Barrier(8)
    errors: list[str] = []

    def run() -> None:
        barrier.wait(60)
        try:
            store = open_store(str(tmp_path / "fresh.db"))
            store.close()
        except Exception as err:
            errors.append(f"{type(err).__module__}.{type(err).__name__}: {err}")

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []


def test_processes_opening_one_new_sqlite_file_at_once(tmp_path: Any) -> None:
    """4 processes opening one new SQLite file at the same moment all get a store: the schema is made once."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    files = [str(tmp_path / f"new{n}.db") for n in range(3)]  # three rounds: the race is not won every time
    procs = [ctx.Process(target=open_in_process, args=(files, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert results == [["ok"] * 3] * 4
