"""Concurrent retries of one command with one idempotency key all get the first result, on two engines."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from engine import Engine
from engine.errors import DuplicateBusinessKey, IdempotencyConflict
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, MakeEngine, flow_vars

WF = "common.test_flow"
THREADS = 4


class _KeyCheckBarrier:
    """The engine's store, except that each thread's first idempotency-key lookup waits at a barrier after reading.

    So every racing command has found the key unknown before any writes: the interleaving that loses the
    race, every time (a real store, real threads; only the order is forced).
    """

    def __init__(self, store: Any, barrier: threading.Barrier) -> None:
        self._store = store
        self._barrier = barrier
        self._seen = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._store.transaction() as tx:
            yield _Tx(tx, self)

    def key_looked_up(self) -> None:
        if not getattr(self._seen, "done", False):
            self._seen.done = True
            self._barrier.wait()


class _Tx:
    def __init__(self, tx: Any, store: _KeyCheckBarrier) -> None:
        self._tx = tx
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    def get_idempotency(self, key: str) -> tuple[str, str] | None:
        found: tuple[str, str] | None = self._tx.get_idempotency(key)
        self._store.key_looked_up()
        return found


def _race(engines: list[Engine], call: Callable[[Engine, int], Any]) -> list[Any]:
    """`call(engine, n)` on each engine at once, each in its own thread; each result or error, in order."""
    barrier = threading.Barrier(len(engines), timeout=60)
    for e in set(engines):
        e.store = _KeyCheckBarrier(e.store, barrier)  # type: ignore[assignment]
    out: list[Any] = [None] * len(engines)

    def run(n: int) -> None:
        try:
            out[n] = call(engines[n], n)
        except Exception as err:  # the test looks at which errors came back
            out[n] = err

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in set(engines):
        e.store = e.store._store  # type: ignore[attr-defined]
    return out


def _engines(make_engine: MakeEngine, threads: int = THREADS) -> list[Engine]:
    """Two engines on one database (two processes), each called from `threads // 2` threads."""
    first, second = make_engine(), make_engine()
    return [first, second] * (threads // 2)


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_starts_with_one_key_return_one_instance(make_engine: MakeEngine, round_: int) -> None:
    """Four simultaneous starts with the same key and business key: all return the instance the first made."""
    engines = _engines(make_engine)
    results = _race(engines, lambda e, n: e.start(WF, f"RACE-{round_}", flow_vars(), CONSUMER_ADMIN,
                                                  idempotency_key=f"k-{round_}"))
    ids = {getattr(r, "id", repr(r)) for r in results}
    assert len(ids) == 1, results
    assert [i.id for i in engines[0].list_instances(business_key_prefix=f"RACE-{round_}")] == list(ids)


def test_a_concurrent_start_with_the_key_of_another_command_conflicts(make_engine: MakeEngine) -> None:
    """Same key, same business key, other variables: one starts, the other gets IdempotencyConflict."""
    results = _race(_engines(make_engine, 2), lambda e, n: e.start(WF, "RACE-X", flow_vars(reason=f"第{n}次"),
                                                                   CONSUMER_ADMIN, idempotency_key="k-x"))
    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["IdempotencyConflict", "InstanceView"], results


def test_a_concurrent_start_with_another_key_is_a_duplicate(make_engine: MakeEngine) -> None:
    """Same business key, different keys: one starts, the other gets DuplicateBusinessKey naming the first."""
    results = _race(_engines(make_engine, 2), lambda e, n: e.start(WF, "RACE-D", flow_vars(), CONSUMER_ADMIN,
                                                                   idempotency_key=f"k-d{n}"))
    started = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, DuplicateBusinessKey)]
    assert (len(started), len(refused)) == (1, 1), results
    assert refused[0].instance_id == started[0].id


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_fires_with_one_key_apply_once(make_engine: MakeEngine, round_: int) -> None:
    """Four simultaneous `approve` fires with one key: the step is applied once and every call returns it."""
    engines = _engines(make_engine)
    inst = engines[0].start(WF, f"FIRE-{round_}", flow_vars(), CONSUMER_ADMIN)
    results = _race(engines, lambda e, n: e.fire(inst.id, "approve", AUDITOR, idempotency_key=f"f-{round_}"))
    approvals = [h for h in engines[0].history(inst.id) if h.event == "approve"]
    assert {(getattr(r, "row_version", None), getattr(r, "state", repr(r))) for r in results} \
        == {(engines[0].get(inst.id).row_version, engines[0].get(inst.id).state)}, results
    assert len(approvals) == 1


def test_a_failed_command_whose_key_is_unknown_raises_its_own_error(make_engine: MakeEngine) -> None:
    """A start refused for a taken business key under a fresh key is not turned into a replay."""
    engine = make_engine()
    first = engine.start(WF, "RACE-U", flow_vars(), CONSUMER_ADMIN, idempotency_key="k-u1")
    with pytest.raises(DuplicateBusinessKey) as caught:
        engine.start(WF, "RACE-U", flow_vars(), CONSUMER_ADMIN, idempotency_key="k-u2")
    with pytest.raises(IdempotencyConflict):
        engine.start(WF, "RACE-V", flow_vars(), CONSUMER_ADMIN, idempotency_key="k-u1")
    assert caught.value.instance_id == first.id


def test_a_concurrent_start_of_another_business_key_under_the_key_conflicts(make_engine: MakeEngine) -> None:
    """Same key, two business keys: the key row is taken by one; the other gets IdempotencyConflict, no instance."""
    engines = _engines(make_engine, 2)
    results = _race(engines, lambda e, n: e.start(WF, f"RACE-K{n}", flow_vars(), CONSUMER_ADMIN,
                                                  idempotency_key="k-k"))
    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["IdempotencyConflict", "InstanceView"], results
    assert len(engines[0].list_instances(business_key_prefix="RACE-K")) == 1
