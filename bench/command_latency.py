#!/usr/bin/env python3
"""How long one durable command takes, with and without the store's background sync of the SQLite log.

    python bench/command_latency.py [--cases 1500] [--rounds 3]

Runs the durable approval (five commands a case, WAL, synchronous=NORMAL) on two databases in turn, one store
syncing its log in the background (the default) and one leaving the log to SQLite's checkpoints, and times every
command. Prints the peers' JSON lines: the median, 99th percentile, longest and mean command in µs, per round.
The longest command is the one that crosses a checkpoint: without the thread it syncs the whole log itself.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench as bench

from engine import Engine, ManualClock
from engine.definitions import DefinitionSet
from storage.sql import SqlInstanceStore


def make_engine(path: Path, sync_thread: bool) -> Engine:
    defs = DefinitionSet.load([bench.REPO / "workflows" / "gx" / "data_request.yaml"])
    store = SqlInstanceStore(str(path), wal_sync_thread=sync_thread)
    return Engine(store, defs, clock=ManualClock(bench.START))


def command_times(engine: Engine, cases: int) -> list[float]:
    """Seconds taken by each command of `cases` approvals."""
    times: list[float] = []
    for _ in range(cases):
        t0 = time.perf_counter()
        inst = engine.start(bench.WORKFLOW, uuid.uuid4().hex, bench.FORM, bench.ADMIN)
        times.append(time.perf_counter() - t0)
        for event, actor, payload in bench.STEPS:
            t0 = time.perf_counter()
            inst = engine.fire(inst.id, event, actor, payload)
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    a = bench.rounds_args(__doc__, 1500, 3, "cases per round and store")
    tmp = Path(tempfile.mkdtemp(prefix="shixian-latency-"))
    engines = {label: make_engine(tmp / f"{label}.db", thread)
               for label, thread in (("wal_sync_thread", True), ("sqlite_checkpoint_only", False))}
    for engine in engines.values():
        command_times(engine, 300)  # past the first checkpoints
    found: dict[str, dict[str, list[float]]] = {label: {} for label in engines}
    for _ in range(a.rounds):
        for label, engine in engines.items():
            t = sorted(command_times(engine, a.cases))
            n = len(t)
            for metric, value in (("median", t[n // 2]), ("p99", t[int(n * 0.99)]), ("max", t[-1]),
                                  ("mean", statistics.fmean(t))):
                found[label].setdefault(metric, []).append(value * 1e6)
    for label, metrics in found.items():
        for metric, samples in metrics.items():
            bench.emit_stat(f"approval3_command_latency_{label}", metric, "us", samples, "lower",
                            {"cases": a.cases, "commands_per_case": 1 + len(bench.STEPS), "synchronous": "NORMAL"},
                            bench="command_latency")
    for engine in engines.values():
        engine.close()


if __name__ == "__main__":
    main()
