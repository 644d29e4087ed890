#!/usr/bin/env python3
"""Would another order or schema lower the storage floor? One case's statements replayed on variants.

    python bench/floor_variants.py [--cases 300] [--rounds 8]

Records the statements the engine runs for one case of the durable approval, then replays them, with no engine
code between them, on one database per variant, the variants in turn for `--rounds` rounds (the order flips
every round, since this machine drifts). Prints the peers' JSON lines: cases/s per variant, each variant's ratio
to the engine's own order (median of the per-round ratios), and the WAL frames each variant writes per commit.

- `as_run`: the statements as the engine runs them. The instance is read before the write transaction begins.
- `read_in_write_tx`: `BEGIN` first, so the read and the writes share one transaction and one round of locks.
- `task_clock_on_instance`: the open task clock kept in columns of the instance row, with partial indexes of
  its next moment (the worker's claim) and of its due time (overdue), and no clock rows: the storage redesign
  that `docs/performance.md` weighs. A stopped clock is not written anywhere, so this is a bound.
- `no_clock_rows`: the clock statements left out and nothing in their place: the floor of instance and history.
- `page_2048`, `page_8192`: the engine's statements on 2 KiB or 8 KiB pages instead of 4 KiB.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench as bench
import wal_pages

from storage.sql import SqlInstanceStore

TASK_CLOCK_COLUMNS = ("task_started_at DATETIME", "task_due_at DATETIME", "task_last_day VARCHAR(10)",
                      "task_next_at DATETIME", "task_next_kind VARCHAR(12)", "task_next_level INTEGER")
TASK_CLOCK_NAMES = ", ".join(c.split()[0] for c in TASK_CLOCK_COLUMNS)

Commands = list[list[tuple[str, str, Any]]]


class Replay:
    """One variant's database and connection, replaying the recorded case under new ids."""

    def __init__(self, path: Path, commands: Commands, names: bench.Renamer, *, begin_first: bool,
                 reshape: Callable[[sqlite3.Connection], None] | None = None, page_size: int = 0) -> None:
        if page_size:  # fixed before the first table is written
            con = sqlite3.connect(path)
            con.execute(f"PRAGMA page_size={page_size}")
            con.execute("PRAGMA journal_mode=WAL")
            con.close()
        SqlInstanceStore(str(path)).close()  # the engine's schema, migrated
        if reshape is not None:
            con = sqlite3.connect(path)
            reshape(con)
            con.commit()
            con.close()
        self.path = path
        self.store = SqlInstanceStore(str(path), wal_sync_thread=False)
        self.raw: Any = self.store.engine.raw_connection().dbapi_connection
        self.commands, self.names, self.begin_first = commands, names.fresh(), begin_first

    def run(self, cases: int) -> tuple[float, float]:
        """Replay `cases` cases; cases per second of wall time and per second of this process's CPU time."""
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(cases):
            bench.replay_case(self.raw, self.commands, self.names, begin=self.begin_first)
        return cases / (time.perf_counter() - t0), cases / (time.process_time() - c0)

    def frames_per_commit(self, cases: int) -> float:
        """WAL frames per commit over `cases` cases, with automatic checkpoints off while they run."""
        return wal_pages.frames_per_commit(self.raw.execute, lambda: self.run(cases), Path(f"{self.path}-wal"),
                                           self.raw.execute("PRAGMA page_size").fetchone()[0])


def task_clock_columns(con: sqlite3.Connection) -> None:
    for column in TASK_CLOCK_COLUMNS:
        con.execute(f"ALTER TABLE instance ADD COLUMN {column}")
    con.execute("CREATE INDEX ix_instance_task_next ON instance (task_next_at) WHERE task_next_at IS NOT NULL")
    con.execute("CREATE INDEX ix_instance_task_due ON instance (task_due_at) WHERE task_due_at IS NOT NULL")


def clock_on_instance(commands: Commands) -> Commands:
    """The case's commands with each clock insert folded into the command's instance write, clock stops dropped."""
    folded: Commands = []
    for statements in commands:
        opened = next((params for _, sql, params in statements if sql.startswith("INSERT INTO sla_clock")), None)
        # insert_clock's parameters: instance, scope, state, calendar, started, base due, due, last day, breached,
        # provisional, next moment, its kind, its level
        clock = (opened[4], opened[6], opened[7], opened[10], opened[11], opened[12]) if opened else (None,) * 6
        kept = []
        for how, sql, params in statements:
            if "sla_clock" in sql:
                continue
            if sql.startswith("INSERT INTO instance"):
                sql = sql.replace("(id,", f"({TASK_CLOCK_NAMES}, id,").replace("VALUES (", "VALUES (?, ?, ?, ?, ?, ?, ")
                params = (*clock, *params)
            elif sql.startswith("UPDATE instance SET"):
                sets = ", ".join(f"{name} = ?" for name in TASK_CLOCK_NAMES.split(", "))
                sql = sql.replace("UPDATE instance SET", f"UPDATE instance SET {sets},")
                params = (*clock, *params)
            kept.append((how, sql, params))
        folded.append(kept)
    return folded


def main() -> None:
    a = bench.rounds_args(__doc__, 300, 8, "cases per variant and round")
    tmp = Path(tempfile.mkdtemp(prefix="shixian-floor-"))
    commands, names = bench.record_case(str(tmp / "record.db"))
    variants = {
        "as_run": Replay(tmp / "as_run.db", commands, names, begin_first=False),
        "read_in_write_tx": Replay(tmp / "read_in_tx.db", commands, names, begin_first=True),
        "task_clock_on_instance": Replay(tmp / "clock_on_instance.db", clock_on_instance(commands), names,
                                         begin_first=False, reshape=task_clock_columns),
        "no_clock_rows": Replay(tmp / "no_clock_rows.db", [[s for s in c if "sla_clock" not in s[1]]
                                                           for c in commands], names, begin_first=False),
        "page_2048": Replay(tmp / "page_2048.db", commands, names, begin_first=False, page_size=2048),
        "page_8192": Replay(tmp / "page_8192.db", commands, names, begin_first=False, page_size=8192),
    }
    for v in variants.values():
        v.run(a.cases)  # warm-up: each database past its first pages
    frames = {name: v.frames_per_commit(50) for name, v in variants.items()}
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(a.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            w, c = variants[name].run(a.cases)
            wall[name].append(w)
            cpu[name].append(c)
    for name in names:
        # the CPU-time rate is the steadier one when other processes share the machine: the replay never waits
        for metric, rates in (("throughput", wall), ("throughput_per_cpu_second", cpu)):
            ratios = [x / base for x, base in zip(rates[name], rates["as_run"], strict=True)]
            bench.emit_stat(f"approval3_sql_only_{name}", metric, "inst/s", rates[name], "higher",
                            {"ratio_to_as_run": round(statistics.median(ratios), 3),
                             "wal_frames_per_commit": round(frames[name], 2), "cases": a.cases},
                            bench="floor_variants")
    for v in variants.values():
        v.raw.close()
        v.store.close()


if __name__ == "__main__":
    main()
