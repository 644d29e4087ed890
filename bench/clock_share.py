#!/usr/bin/env python3
"""How much of a durable case do the SLA clocks take? The peers' case with its deadlines and without them.

    python bench/clock_share.py [--cases 300] [--rounds 16]

Runs the peers' case of the durable approval (bench/engine_bench.py `approval`: four commands, WAL,
synchronous=NORMAL) on two engines in this process, each on its own database, in turn for `--rounds` rounds (the
order turns every round, since this machine drifts):

- `as_shipped`: `workflows/gx/data_request.yaml` as it is. Each of the three tasks starts a clock when it is
  entered and stops it when it is left: a row and the one index a case on time writes (the next moments the
  worker claims by, which also hold the late clocks no tick has caught), and the working-day arithmetic of the
  due time and the warning. The breached and provisional clocks' indexes take no entry from a case on time.
- `no_deadlines`: the same file with every `sla:` block taken out, so no command starts or stops a clock.
- `no_next_index`: the shipped file on a database without the index of the next moments: what that index costs
  a command. Not a way to run: without it the worker's claim and the overdue listing scan the table.

Prints the peers' JSON lines: cases/s of each, the ratio of each to `as_shipped` (the median of the per-round
ratios), and the WAL frames each writes per commit (bench/wal_pages.py). The difference `no_deadlines` makes is
what the clocks cost: their statements, the pages those write, and their Python.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench as bench
import wal_pages
from driver_variants import batch, set_pragma

from engine import Engine, ManualClock
from engine.definitions import DefinitionSet
from storage.sql import SqlInstanceStore

BENCH = "clock_share"
SHIPPED = bench.REPO / "workflows" / "gx" / "data_request.yaml"


def without_deadlines(folder: Path) -> Path:
    """A copy of the shipped file with every state's `sla:` block removed."""
    spec: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for state in spec["states"].values():
        state.pop("sla", None)
    copy = folder / "data_request.yaml"
    copy.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return copy


def engine_on(path: Path, database: Path, drop: tuple[str, ...] = ()) -> Engine:
    """An engine on a new database, without the indexes named in `drop`."""
    store = SqlInstanceStore(str(database))
    for index in drop:
        set_pragma(store, f"DROP INDEX {index}")
    return Engine(store, DefinitionSet.load([path]), clock=ManualClock(bench.START))


def frames_per_commit(engine: Engine, cases: int) -> float:
    """WAL frames per commit over `cases` cases, with automatic checkpoints off while they run."""
    store: Any = engine.store
    return wal_pages.frames_per_commit(lambda pragma: set_pragma(store, pragma),
                                       lambda: [bench.approval(engine) for _ in range(cases)],
                                       Path(f"{store._path}-wal"), 4096)


def main() -> None:
    a = bench.rounds_args(__doc__, 300, 16, "cases a batch")
    tmp = Path(tempfile.mkdtemp(prefix="shixian-clocks-"))
    engines = {"as_shipped": engine_on(SHIPPED, tmp / "shipped.db"),
               "no_deadlines": engine_on(without_deadlines(tmp), tmp / "bare.db"),
               "no_next_index": engine_on(SHIPPED, tmp / "no_next.db", ("ix_sla_clock_next",))}
    for engine in engines.values():
        batch(engine, max(1, a.cases // 10))  # the peers' warm-up
    bare = engines["no_deadlines"]
    bench.emit(bench=BENCH, kind="check", name="no_deadlines_starts_no_clock",
               ok=not any(bare.clocks(i.id) for i in bare.list_instances(limit=5)))
    rates: dict[str, list[float]] = {name: [] for name in engines}
    names = list(engines)
    for n in range(a.rounds):
        for name in names if n % 2 == 0 else names[::-1]:
            rates[name].append(batch(engines[name], a.cases))
    params = {"cases": a.cases, "rounds": a.rounds, "tx_per_instance": 1 + len(bench.PEER_STEPS)}
    for name, engine in engines.items():
        frames = frames_per_commit(engine, 50)
        bench.emit_stat(f"approval3_clocks_{name}", "throughput", "inst/s", rates[name], "higher",
                        {**params, "wal_frames_per_commit": round(frames, 2)}, bench=BENCH)
        engine.close()
    for name in names[1:]:
        ratios = [x / shipped for x, shipped in zip(rates[name], rates["as_shipped"], strict=True)]
        bench.emit(bench=BENCH, kind="ratio", workload=f"approval3_clocks_{name}_vs_as_shipped",
                   system=bench.SYSTEM, metric="ratio", unit="x", median=statistics.median(ratios),
                   min=min(ratios), max=max(ratios), repeats=len(ratios), better="higher", params=params)


if __name__ == "__main__":
    main()
