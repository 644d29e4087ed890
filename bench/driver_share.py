#!/usr/bin/env python3
"""How a durable case's time splits between SQLite (the driver's calls) and the engine's own Python.

    python bench/driver_share.py [--cases 600] [--rounds 5]

Runs the peers' case of the durable approval (four commands, WAL, synchronous=NORMAL) with the store's DBAPI connection
wrapped so that every `execute`, `executemany`, `fetch*` and `commit` is timed. Prints the peers' JSON lines over
the rounds: milliseconds per case in all, inside the driver, and outside it (the engine, the store's Python, the
wrapper's own calls, about 25 a case), and the driver's share in each round. The wrapper adds well under a
microsecond a call.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench as bench

_clock = time.perf_counter


class Stopwatch:
    """Seconds spent in the driver so far."""

    def __init__(self) -> None:
        self.seconds = 0.0


class TimedCursor:
    """A DBAPI cursor whose calls into SQLite are timed."""

    def __init__(self, cursor: Any, watch: Stopwatch) -> None:
        self._c, self._w = cursor, watch

    def _timed(self, call: Any, *args: Any) -> Any:
        t = _clock()
        try:
            return call(*args)
        finally:
            self._w.seconds += _clock() - t

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._timed(self._c.execute, sql, params)

    def executemany(self, sql: str, params: Any) -> Any:
        return self._timed(self._c.executemany, sql, params)

    def fetchone(self) -> Any:
        return self._timed(self._c.fetchone)

    def fetchall(self) -> Any:
        return self._timed(self._c.fetchall)

    def __getattr__(self, name: str) -> Any:  # rowcount, lastrowid, description, close
        return getattr(self._c, name)


class TimedConnection:
    """The driver's connection, handing out timed cursors and timing its commits."""

    def __init__(self, conn: Any, watch: Stopwatch) -> None:
        self._c, self._w = conn, watch

    def cursor(self) -> TimedCursor:
        return TimedCursor(self._c.cursor(), self._w)

    def commit(self) -> None:
        t = _clock()
        try:
            self._c.commit()
        finally:
            self._w.seconds += _clock() - t

    def __getattr__(self, name: str) -> Any:  # in_transaction, rollback, close
        return getattr(self._c, name)


class TimedPoolConnection:
    """The pool's connection record the store keeps between commands, with the driver's connection timed."""

    def __init__(self, raw: Any, watch: Stopwatch) -> None:
        self._raw = raw
        self.dbapi_connection = TimedConnection(raw.dbapi_connection, watch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def main() -> None:
    a = bench.rounds_args(__doc__, 600, 5, "cases per round")
    engine = bench.make_engine(str(Path(tempfile.mkdtemp(prefix="shixian-share-")) / "share.db"))
    for _ in range(100):
        bench.approval(engine)
    store: Any = engine.store
    watch = Stopwatch()
    store._spare[:] = [TimedPoolConnection(raw, watch) for raw in store._spare]  # the connection kept for commands
    found: dict[str, list[float]] = {"ms_per_case": [], "ms_in_driver": [], "ms_outside_driver": []}
    for _ in range(a.rounds):
        watch.seconds = 0.0
        t0 = _clock()
        for _ in range(a.cases):
            bench.approval(engine)
        total = (_clock() - t0) / a.cases * 1000
        driver = watch.seconds / a.cases * 1000
        found["ms_per_case"].append(total)
        found["ms_in_driver"].append(driver)
        found["ms_outside_driver"].append(total - driver)
    shares = [d / t for d, t in zip(found["ms_in_driver"], found["ms_per_case"], strict=True)]
    for metric, samples in found.items():
        bench.emit_stat("approval3_durable_sqlite_wal_normal", metric, "ms", samples, "lower",
                        {"cases": a.cases, "driver_share_by_round": [round(x, 3) for x in shares]},
                        bench="driver_share")
    engine.close()


if __name__ == "__main__":
    main()
