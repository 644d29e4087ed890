#!/usr/bin/env python3
"""How fast could a durable case be on this schema: the engine's own statements plus the least Python a command
needs, beside the engine itself, in turn.

    python bench/least_python.py [--cases 500] [--rounds 6]
    python run_all.py --only spiff_approval --extra /work/main/bench/least_python.py --baseline SpiffWorkflow

Replays the statements the engine ran for one case of the durable approval (bench/engine_bench.py records them)
and, around them, does only what no engine can skip: decode the instance's variables from a row it read (the
engine reads none after its own commit: storage.remembered), look up the role and the transition in dicts, stamp
the time, and hash each history step over its canonical JSON. No payload checks, no SLA arithmetic, no records,
no events. Prints the peers' JSON lines: the bound (`approval3_least_python_sqlite_wal_normal`), the engine on
the same workload run in turn with it (`approval3_engine_beside_least_python`), and their ratio per round
(median): how much of the gap to the bound is the engine's Python.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench as bench

from storage.sql import SqlInstanceStore

_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_ROLES = {("review", "pass"): ("bureau_reviewer", None), ("audit", "approve"): ("data_auditor", "provider_dept")}
_NEXT = {("review", "pass"): "audit", ("audit", "approve"): "push"}


class LeastPython:
    """One case's recorded statements on their own database, with the least work a command needs between them."""

    def __init__(self, folder: Path) -> None:
        self.commands, self.names = bench.record_case(str(folder / "record.db"))
        self.store = SqlInstanceStore(str(folder / "least.db"))
        self.raw: Any = self.store.engine.raw_connection()

    @staticmethod
    def _hash(row: tuple[Any, ...], stamp: str) -> str:
        body = "".join(("[", json.dumps(row[1]), ",", str(row[2]), ",", json.dumps(stamp), ",",
                        _CANONICAL.encode({"conditions": "限于出生医学证明核验"}), "]"))
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def run(self, cases: int) -> float:
        """Cases per second over `cases` cases."""
        raw, names = self.raw, self.names
        t0 = time.perf_counter()
        for _ in range(cases):
            names.next_case()
            for statements in self.commands:
                cur = raw.cursor()
                stamp = datetime.now(UTC).isoformat(timespec="microseconds")
                for how, sql, params in statements:
                    if how == "executemany":
                        rows = [names.params(sql, p) for p in params]
                        for row in rows:
                            self._hash(row, stamp)
                        cur.executemany(sql, rows)
                        continue
                    row = names.params(sql, params)
                    cur.execute(sql, row)
                    names.inserted(sql, cur)
                    if cur.description is not None:
                        found = cur.fetchone()
                        if found is not None and isinstance(found[5], str):  # the instance: decode, authorise, decide
                            variables = json.loads(found[5])
                            role, bound = _ROLES[("audit", "approve")]
                            _ = role in {"data_auditor"} and variables.get(bound or "") is not None
                            _ = _NEXT[("audit", "approve")]
                    elif sql.startswith("INSERT INTO history"):
                        self._hash(row, stamp)
                raw.commit()
                cur.close()
        return cases / (time.perf_counter() - t0)

    def close(self) -> None:
        self.raw.close()
        self.store.close()


def main() -> None:
    a = bench.rounds_args(__doc__, 500, 6, "cases per round and side")
    folder = Path(tempfile.mkdtemp(prefix="shixian-least-"))
    least = LeastPython(folder)
    engine = bench.make_engine(str(folder / "engine.db"))

    least.run(a.cases // 5)  # warm-up: both databases past their first pages
    bench.approval_rate(engine, a.cases // 5)
    bound: list[float] = []
    real: list[float] = []
    for r in range(a.rounds):
        for side in ("least", "engine") if r % 2 == 0 else ("engine", "least"):
            if side == "least":
                bound.append(least.run(a.cases))
            else:
                real.append(bench.approval_rate(engine, a.cases))
    ratio = statistics.median(e / b for e, b in zip(real, bound, strict=True))
    bench.emit_stat("approval3_least_python_sqlite_wal_normal", "throughput", "inst/s", bound, "higher",
                    {"cases": a.cases, "what": "the engine's statements of a case plus the least Python a command "
                     "needs: a bound on this schema"}, bench="least_python")
    # a name of its own: under the peers' name, run_all would pool these rounds with engine_bench's
    bench.emit_stat("approval3_engine_beside_least_python", "throughput", "inst/s", real, "higher",
                    {"cases": a.cases, "engine_to_bound": round(ratio, 3),
                     "what": "the engine, run in turn with the bound"}, bench="least_python")
    least.close()
    engine.close()


if __name__ == "__main__":
    main()
