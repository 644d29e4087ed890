#!/usr/bin/env python3
"""Would another way of driving SQLite make a durable command faster? The engine as it is beside variants.

    python bench/driver_variants.py [--cases 150] [--rounds 16]

Builds one engine per variant, each on its own database, all in this process, and runs the peers' case of the
durable approval (four commands, WAL, synchronous=NORMAL) on each in turn, `--cases` cases a batch, for
`--rounds` rounds (the order turns every round, since this machine drifts). Prints the peers' JSON lines:
cases/s per variant, and each variant's ratio to the engine as it is (the median of the per-round ratios).

- `as_is`: the store as it ships.
- `begin_first`: `BEGIN` before the instance read, so the read and the writes share one transaction.
- `begin_immediate`: `BEGIN IMMEDIATE` before the read: the writer's lock taken first.
- `checkpoint_in_background`: SQLite's checkpoints run by the store's log-sync thread, on a connection of its
  own, after each sync; the commands' own automatic checkpoint stays as the bound.
- `no_checkpoints`: no checkpoint at all while the batches run (the log only grows): what checkpoints cost.
"""

from __future__ import annotations

import gc
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench as bench

from engine import Engine
from storage.sql import CommandTransaction, SqlInstanceStore

BENCH = "driver_variants"


def set_pragma(store: SqlInstanceStore, pragma: str) -> None:
    """Run a pragma on the connection the commands use (the store keeps one for the next command)."""
    raw = store._take()
    raw.cursor().execute(pragma).fetchall()
    store._put_back(raw)


def _begin_with(store: SqlInstanceStore, statement: str) -> None:
    class BeginFirst(CommandTransaction):
        __slots__ = ()

        def __enter__(self) -> Any:
            tx = super().__enter__()
            self._cursor.execute(statement)
            return tx

    store.transaction = lambda: BeginFirst(store, store.remembered)  # type: ignore[method-assign]


def _checkpoint_after_sync(store: SqlInstanceStore) -> None:
    flusher = store.wal_flusher
    assert flusher is not None and store._path is not None
    sync, path = flusher.flush, store._path
    own: list[sqlite3.Connection] = []

    def flush_and_checkpoint() -> bool:
        synced = sync()
        if not own:
            own.append(sqlite3.connect(path, isolation_level=None, check_same_thread=False))
        own[0].execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        return synced

    flusher.flush = flush_and_checkpoint  # type: ignore[method-assign]


VARIANTS: dict[str, Callable[[SqlInstanceStore], None]] = {
    "as_is": lambda store: None,
    "begin_first": lambda store: _begin_with(store, "BEGIN"),
    "begin_immediate": lambda store: _begin_with(store, "BEGIN IMMEDIATE"),
    "checkpoint_in_background": _checkpoint_after_sync,
    "no_checkpoints": lambda store: set_pragma(store, "PRAGMA wal_autocheckpoint=0"),
}


def batch(engine: Engine, cases: int) -> float:
    """Cases per second of wall time over `cases` approvals, after a collection (the peers' method)."""
    gc.collect()
    return bench.approval_rate(engine, cases)


def main() -> None:
    a = bench.rounds_args(__doc__, 150, 16, "cases a batch (the peers use 150)")
    tmp = Path(tempfile.mkdtemp(prefix="shixian-driver-"))
    engines: dict[str, Engine] = {}
    for name, change in VARIANTS.items():
        engine = bench.make_engine(str(tmp / f"{name}.db"))
        change(engine.store)  # type: ignore[arg-type]
        batch(engine, max(1, a.cases // 10))  # the peers' warm-up
        engines[name] = engine
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    for n in range(a.rounds):
        for name in names if n % 2 == 0 else names[::-1]:
            rates[name].append(batch(engines[name], a.cases))
    for name, engine in engines.items():
        ok = all(engine.verify_history(i.id).ok for i in engine.list_instances(workflow_id=bench.WORKFLOW, limit=5))
        bench.emit(bench=BENCH, kind="check", name=f"{name}_histories_verify", ok=ok)
        engine.close()
    params = {"cases": a.cases, "rounds": a.rounds, "tx_per_instance": 1 + len(bench.PEER_STEPS)}
    for name, samples in rates.items():
        bench.emit_stat(f"approval3_driver_{name}", "throughput", "inst/s", samples, "higher", params, bench=BENCH)
    for name, samples in rates.items():
        if name != "as_is":
            ratios = [x / base for x, base in zip(samples, rates["as_is"], strict=True)]
            bench.emit(bench=BENCH, kind="ratio", workload=f"approval3_driver_{name}_vs_as_is",
                       system=bench.SYSTEM, metric="ratio", unit="x", median=statistics.median(ratios),
                       min=min(ratios), max=max(ratios), repeats=len(ratios), better="higher", params=params)


if __name__ == "__main__":
    main()
