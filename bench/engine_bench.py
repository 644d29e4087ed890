#!/usr/bin/env python3
"""shixian engine benchmarks, printed as JSON lines in the format of the peer baselines (bench-peers/README.md).

    python bench/engine_bench.py                 # full sizes (1,000,000 rows: a few minutes)
    python bench/engine_bench.py --quick         # small sizes for a smoke run
    python run_all.py --only spiff_approval --extra /work/main/bench/engine_bench.py --baseline SpiffWorkflow

Workloads: durable steps of the Guangxi data-request approval, each its own transaction, on SQLite (WAL, NORMAL
and FULL) and PostgreSQL. Each command takes its instance from the rows the store remembers of its own commits,
its row version checked at the write (storage.remembered), as a backend's process runs a case; the
`_reload_each_step` line reads it from the database every command (`remember=0`), as SpiffWorkflow's line of that
name deserializes its workflow every step. The `approval3_*` lines run the
peers' case: start and the three user tasks of their model (normative review, provider approval, the push of
the reply), four transactions, as SpiffWorkflow commits four; the case then waits for the consumer's
subscription, a fourth user task the peers' model does not have. `gx_data_request_whole_case_*` runs the whole
procedure to its end: the subscription too, five transactions. Then the same case's own statements replayed
without the engine (the storage floor, docs/performance.md); the cost of a timer poll with N waiting instances;
the claim sweep of 100,000 due SLA clocks among 1,000,000 armed (each clock stores only its next moment); the
fire rate of breaches; the worker's memory on databases of 10,000 and 1,000,000 instances; bytes stored per
instance.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine import Actor, Engine, ManualClock  # noqa: E402
from engine.clock import SHANGHAI  # noqa: E402
from engine.definitions import DefinitionSet  # noqa: E402
from engine.fields import make_credit_code  # noqa: E402
from storage.sql import REMEMBER  # noqa: E402
from storage.tables import STEP_BITS, history_key  # noqa: E402
from storage.tx import clock_list, listed_clocks  # noqa: E402

BENCH = "engine_bench"
SYSTEM = "shixian 0.1.0"
WORKFLOW = "gx.data_request"
START = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a plain working Monday
C, P = make_credit_code(1), make_credit_code(2)
ADMIN = Actor("consumer-admin", frozenset({"data_admin"}), C)
REVIEWER = Actor("bureau-reviewer", frozenset({"bureau_reviewer"}))
AUDITOR = Actor("provider-auditor", frozenset({"data_auditor"}), P)
FORM = {  # the 7-field request form of the peers' workload
    "consumer_dept": C, "provider_dept": P, "resource_id": "GX-RES-000123", "resource_name": "人口基础信息",
    "purpose": "用于新生儿出生医学证明办理核验", "sharing_type": "conditional", "control_params": True,
}
STEPS = [("pass", REVIEWER, {}), ("approve", AUDITOR, {"conditions": "限于出生医学证明核验"}),
         ("push", REVIEWER, {}), ("subscribe", ADMIN, {})]
#: The peers' three user tasks (spiff_approval.STEPS: normative review, provider approval, subscription push)
PEER_STEPS = STEPS[:3]
#: Where the peers' case ends in this procedure: the reply pushed and granted, the consumer yet to subscribe
PEER_END = "subscription"


def emit(*, bench: str = BENCH, **kw: Any) -> None:
    """One JSON line; `bench` names the script that prints it (the other bench scripts print through here)."""
    print(json.dumps({"bench": bench, **kw}, ensure_ascii=False), flush=True)


def emit_stat(workload: str, metric: str, unit: str, samples: list[float], better: str,
              params: dict[str, Any] | None = None, *, bench: str = BENCH) -> None:
    emit(bench=bench, kind="measurement", workload=workload, system=SYSTEM, metric=metric, unit=unit,
         median=statistics.median(samples), min=min(samples), max=max(samples), repeats=len(samples),
         better=better, params=params or {})


def rates(batch: Callable[[int], None], n: int, repeats: int) -> list[float]:
    """Run batch(n) `repeats` times after a warm-up; ops/s per repeat (the peers' method)."""
    batch(max(1, n // 10))
    out = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        batch(n)
        out.append(n / (time.perf_counter() - t0))
    return out


def rounds_args(doc: str | None, cases: int, rounds: int, cases_help: str) -> argparse.Namespace:
    """`--cases` and `--rounds` of the scripts that run cases in rounds (their defaults differ), with the engine's
    notices quiet: the benches run without a directory on purpose."""
    logging.getLogger("engine.notify").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=cases, help=cases_help)
    ap.add_argument("--rounds", type=int, default=rounds)
    return ap.parse_args()


def rss_bytes(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def make_engine(target: str, synchronous: str = "NORMAL", clock: ManualClock | None = None,
                remember: int = REMEMBER) -> Engine:
    """The engine on the Guangxi data-request workflow; `remember=0` reads every instance from the database (else
    the rows its commands committed last are kept, storage.remembered)."""
    from storage.sql import SqlInstanceStore

    defs = DefinitionSet.load([REPO / "workflows" / "gx" / "data_request.yaml"])
    return Engine(SqlInstanceStore(target, synchronous=synchronous, remember=remember), defs,
                  clock=clock or ManualClock(START))


def approval(engine: Engine) -> str:
    """The peers' case: start, then their three user tasks, each in its own transaction; the request is granted
    and waits for the consumer's subscription."""
    inst = engine.start(WORKFLOW, uuid.uuid4().hex, FORM, ADMIN)
    for event, actor, payload in PEER_STEPS:
        inst = engine.fire(inst.id, event, actor, payload)
    assert inst.state == PEER_END and inst.status == "running", inst
    return inst.id


def approval_rate(engine: Engine, cases: int) -> float:
    """Cases per second of wall time over `cases` runs of the peers' case (the scripts that run in rounds)."""
    t0 = time.perf_counter()
    for _ in range(cases):
        approval(engine)
    return cases / (time.perf_counter() - t0)


def whole_case(engine: Engine) -> str:
    """The whole procedure: the peers' case, then the consumer's subscription (five transactions)."""
    iid = approval(engine)
    event, actor, payload = STEPS[3]
    inst = engine.fire(iid, event, actor, payload)
    assert inst.status == "completed" and inst.outcome == "granted", inst
    return iid


def cases_done(engine: Engine, state: str) -> int:
    """The cases of the workflow in `state`, counted a page at a time (a listing returns at most 10,000)."""
    total, page = 0, 10_000
    while True:
        got = len(engine.list_instances(workflow_id=WORKFLOW, state=state, limit=page, offset=total))
        total += got
        if got < page:
            return total


def durable(target: str, label: str, n: int, repeats: int, synchronous: str = "NORMAL",
            extra: dict[str, Any] | None = None, whole: bool = False, reload: bool = False) -> float:
    """`n` cases a repeat: the peers' case (four commands), or with `whole` the whole procedure (five). Each
    command takes its instance from the rows the store remembers of its own commits, checked by the row version
    at its write, or with `reload` reads it from the database."""
    engine = make_engine(target, synchronous, remember=0 if reload else REMEMBER)
    case = whole_case if whole else approval
    r = rates(lambda k: [case(engine) for _ in range(k)], n, repeats)
    done = cases_done(engine, "granted" if whole else PEER_END)
    checks = [engine.verify_history(i.id).ok for i in engine.list_instances(workflow_id=WORKFLOW, limit=20)]
    emit(kind="check", name=f"{label}_histories_verify", ok=all(checks))
    steps = ["start", *(event for event, _, _ in (STEPS if whole else PEER_STEPS))]
    emit_stat(label, "throughput", "inst/s", r, "higher",
              {"batch": n, "tx_per_instance": len(steps), "steps": "+".join(steps), "reload_each_step": reload,
               "synchronous": synchronous, "cases_done": done, **(extra or {})})
    engine.close()
    return statistics.median(r)


class _RecordingCursor:
    """A DBAPI cursor that notes every statement a command runs (for the SQL-only replay), and the ids its clock
    inserts got."""

    def __init__(self, cursor: Any, log: list[tuple[str, str, Any]], clocks: list[int]) -> None:
        self._cursor, self._log, self._clocks = cursor, log, clocks

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._log.append(("execute", sql, params))
        done = self._cursor.execute(sql, params)
        if sql.startswith(CLOCK_INSERT):
            self._clocks.append(self._cursor.lastrowid)
        return done

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self._log.append(("executemany", sql, rows))
        return self._cursor.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


CLOCK_INSERT = "INSERT INTO sla_clock"
INSTANCE_INSERT = "INSERT INTO instance"
HISTORY_INSERT = "INSERT INTO history"
# an instance row's list of clock ids, or the part of it a command appends (storage.tx.clock_list)
_CLOCK_LIST = re.compile(r"(?:\d+,)+")
# the marks of a clock statement that name clocks by id: `WHERE id = ?` or `WHERE id IN (?, ?, ...)`
_BY_CLOCK_ID = re.compile(r"WHERE id (?:= \?|IN \(\?(?:, \?)*\))")


@functools.cache
def _clock_marks(sql: str) -> range:
    """The positions of the parameters by which a statement names clocks (none for any other statement)."""
    found = _BY_CLOCK_ID.search(sql) if "sla_clock" in sql else None
    if found is None:
        return range(0)
    first = sql.count("?", 0, found.start())
    return range(first, first + found.group().count("?"))


class Renamer:
    """A recorded case's parameters under a new instance id, business key, ordinal and clock ids, for one replay.

    The replay's instance gets a number of its own from its insert (whose returned row `inserted` takes), and its
    history keys move with it. Its clocks get ids of their own: once its first clock insert has run, every clock
    id moves by the same distance, in the marks by which a clock statement names clocks and in the instance row's
    list. Clock ids among an insert's values (pauses, SLA events) are not renamed: the recorded case has none."""

    def __init__(self, iid: str, key: str, first_clock: int | None, ordinal: int) -> None:
        self.iid, self.key, self.first_clock, self.ordinal = iid, key, first_clock, ordinal
        self.new_id, self.new_key = iid, key
        self.shift: int | None = None  # fixed by the case's first clock insert
        self.key_shift = 0  # the distance of the history keys, fixed by the instance insert

    def fresh(self) -> Renamer:
        """A renamer of the same recorded case for another replay (each database numbers its clocks alone)."""
        return Renamer(self.iid, self.key, self.first_clock, self.ordinal)

    def next_case(self) -> None:
        from engine.ids import new_instance_id

        self.new_id, self.new_key, self.shift, self.key_shift = new_instance_id(), uuid.uuid4().hex, None, 0

    def inserted(self, sql: str, cursor: Any) -> None:
        """Note a statement just run: the instance insert (its returned row taken here) fixes the history keys'
        distance, the case's first clock insert the clock ids'."""
        if sql.startswith(INSTANCE_INSERT):
            self.key_shift = (cursor.fetchone()[0] - self.ordinal) << STEP_BITS
        elif self.shift is None and self.first_clock is not None and sql.startswith(CLOCK_INSERT):
            self.shift = cursor.lastrowid - self.first_clock

    def params(self, sql: str, params: Any) -> tuple[Any, ...]:
        """`sql`'s recorded parameters as this replay's case has them."""
        row = [self._value(v) for v in params]
        if self.shift:
            for at in _clock_marks(sql):
                row[at] += self.shift
        if sql.startswith(HISTORY_INSERT):
            row[0] += self.key_shift  # the step's key: (ordinal << STEP_BITS) | seq
        return tuple(row)

    def _value(self, v: Any) -> Any:
        if v == self.iid:
            return self.new_id
        if v == self.key:
            return self.new_key
        if self.shift and type(v) is str and v.endswith(",") and _CLOCK_LIST.fullmatch(v):
            return clock_list([clock_id + self.shift for clock_id in listed_clocks(v)])
        return v


def record_case(target: str) -> tuple[list[list[tuple[str, str, Any]]], Renamer]:
    """The statements of one case, command by command, as the engine ran them, and the renamer that replays them
    under new ids."""
    from storage import tx as tx_module

    engine = make_engine(target)
    commands: list[list[tuple[str, str, Any]]] = []
    clocks: list[int] = []
    real_init = tx_module.SqlStoreTx.__init__

    def recording_init(self: Any, cursor: Any, *args: Any, **kwargs: Any) -> None:
        commands.append([])
        real_init(self, _RecordingCursor(cursor, commands[-1], clocks), *args, **kwargs)

    tx_module.SqlStoreTx.__init__ = recording_init  # type: ignore[method-assign]
    try:
        iid = approval(engine)
    finally:
        tx_module.SqlStoreTx.__init__ = real_init  # type: ignore[method-assign]
    key = engine.get(iid).business_key
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        ordinal = conn.exec_driver_sql("SELECT ordinal FROM instance WHERE id = ?", (iid,)).scalar_one()
    engine.close()
    return commands, Renamer(iid, key, clocks[0] if clocks else None, ordinal)


def replay_case(raw: Any, commands: list[list[tuple[str, str, Any]]], names: Renamer, *, begin: bool = False) -> None:
    """One case's recorded statements (record_case) run again on the DBAPI connection `raw`, each command's in one
    transaction, under a new instance id, business key and clock ids: the engine's SQL without the engine. With
    `begin`, each command opens its transaction before its first statement, a read."""
    names.next_case()
    for statements in commands:
        cur = raw.cursor()
        if begin:
            cur.execute("BEGIN")
        for how, sql, params in statements:
            if how == "execute":
                cur.execute(sql, names.params(sql, params))
                names.inserted(sql, cur)
                if cur.description is not None:
                    cur.fetchall()
            else:
                cur.executemany(sql, [names.params(sql, p) for p in params])
        raw.commit()
        cur.close()


def sql_only(tmp: Path, n: int, repeats: int) -> float:
    """The floor under the engine: one case's own statements replayed on the same schema, connection and pragmas,
    each command's statements in one transaction, with no engine work between them."""
    from storage.sql import SqlInstanceStore

    commands, names = record_case(str(tmp / "record.db"))
    store = SqlInstanceStore(str(tmp / "sql_only.db"))
    raw = store.engine.raw_connection()

    def batch(k: int) -> None:
        for _ in range(k):
            replay_case(raw, commands, names)

    r = rates(batch, n, repeats)
    emit_stat("approval3_sql_only_sqlite_wal_normal", "throughput", "inst/s", r, "higher",
              {"batch": n, "tx_per_instance": len(commands),
               "statements_per_instance": sum(len(c) for c in commands),
               "what": "the engine's own statements of one case replayed without the engine: the storage floor"})
    raw.close()
    store.close()
    return statistics.median(r)


def instance_rows_json(engine: Engine, instance_id: str) -> int:
    """Bytes of the JSON of every row stored for one instance (instance, history, clocks, timers, outbox)."""
    import sqlalchemy as sa

    from storage.tables import clock_t, history_t, instance_t, outbox_t, timer_t

    total = 0
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        for table, col in ((instance_t, "id"), (history_t, "instance_id"), (clock_t, "instance_id"),
                           (timer_t, "instance_id"), (outbox_t, "instance_id")):
            for row in conn.execute(sa.select(table).where(table.c[col] == instance_id)):
                total += len(json.dumps(dict(row._mapping), ensure_ascii=False, default=str).encode())
    return total


def sizes(tmp: Path) -> None:
    engine = make_engine(str(tmp / "size.db"))
    waiting = engine.start(WORKFLOW, "SIZE-W", FORM, ADMIN)
    done = whole_case(engine)
    for state, iid in (("waiting_at_review", waiting.id), ("completed", done)):
        emit_stat("serialized_instance_size", "json_bytes", "bytes", [instance_rows_json(engine, iid)], "lower",
                  {"state": state, "what": "JSON of all rows stored for the case: instance, history, clocks, timers"})
    engine.close()
    # file growth per completed case, indexes included
    path = tmp / "growth.db"
    engine = make_engine(str(path))
    whole_case(engine)
    engine.store.engine.dispose()  # type: ignore[attr-defined]
    before = _vacuumed_size(path)
    n = 500
    for _ in range(n):
        whole_case(engine)
    engine.close()
    emit_stat("stored_bytes_per_instance", "db_bytes", "bytes/inst", [(_vacuumed_size(path) - before) / n],
              "lower", {"state": "completed", "instances": n, "what": "SQLite file growth after VACUUM / cases"})


def _vacuumed_size(path: Path) -> int:
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("VACUUM")
    con.close()
    return path.stat().st_size


# ---------------------------------------------------------------- a database of many waiting cases
def build_big(path: Path, instances: int, due: int) -> int:
    """`instances` cases waiting at normative review, each with its SLA clock armed at its next moment, `due` of
    them already due: clones of one real case, written with bulk inserts. Answers the armed clocks per case."""
    engine = make_engine(str(path))
    engine.start(WORKFLOW, "TEMPLATE", FORM, ADMIN)
    engine.close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    tables = {}
    for name in ("instance", "history", "sla_clock", "timer"):
        cur = con.execute(f"SELECT * FROM {name}")
        rows = cur.fetchall()
        if rows:  # a case waiting at a task has no timer rows: its SLA moments live on the clock row
            tables[name] = ([d[0] for d in cur.description], rows)
    clock_base = con.execute("SELECT max(id) FROM sla_clock").fetchone()[0]
    # next moments due after START (the poll ticks there find nothing due) and before the sweep's moment, START +
    # 40 days, or after it; every clone due later still, so that each clock's next moment is at or before its
    # due time (ck_sla_clock_next_by_due)
    past, future = "2026-03-20 00:00:00.000000", "2026-12-14 00:00:00.000000"
    due_at, last_day = "2026-12-15 16:00:00.000000", "2026-12-16"
    chunk = 50_000
    for lo in range(1, instances, chunk):
        hi = min(instances, lo + chunk)
        con.execute("BEGIN")
        for name, (cols, rows) in tables.items():
            use = [c for c in cols if not (c == "id" and name in ("history", "timer"))]  # those ids are generated
            batch = []
            for i in range(lo, hi):
                iid = f"{i:032x}"
                for row in rows:
                    r = dict(zip(cols, row, strict=True))
                    if name == "instance":
                        # the template is number 1; its one clock is cloned below with the id listed here
                        r.update(id=iid, business_key=f"BIG-{i}", ordinal=i + 1, clock_ids=f"{clock_base + i},")
                    else:
                        r["instance_id"] = iid
                    if name == "history":
                        r["hid"] = history_key(i + 1, r["seq"])
                    if name == "sla_clock":
                        r.update(id=clock_base + i, next_fire_at=past if i <= due else future, due_at=due_at,
                                 base_due_at=due_at, last_day=last_day)
                    if name == "timer":
                        r.update(clock_id=clock_base + i, fire_at=past if i <= due else future)
                    batch.append(tuple(r[c] for c in use))
            con.executemany(f"INSERT INTO {name} ({', '.join(use)}) VALUES ({', '.join('?' for _ in use)})", batch)
        con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return len(tables["sla_clock"][1])


def worker_child(db: str, fire: int) -> None:
    """A fresh worker process: open the engine on `db`, tick until `fire` due clocks have fired, report RSS."""
    now = START + timedelta(days=40)
    engine = make_engine(db, clock=ManualClock(now))
    engine.tick(START)  # warm: nothing is due yet
    gc.collect()
    rss_open = rss_bytes()
    t0 = time.perf_counter()
    poll = []
    for _ in range(5):
        p0 = time.perf_counter()
        engine.tick(START)
        poll.append((time.perf_counter() - p0) * 1000)
    fired, t0 = 0, time.perf_counter()
    while fired < fire:
        report = engine.tick(now, batch=200, max_batches=1)
        if report.fired + report.skipped == 0:
            break
        fired += report.fired + report.skipped
    seconds = time.perf_counter() - t0
    gc.collect()
    print(json.dumps({"rss_open": rss_open, "rss_after": rss_bytes(), "hwm": rss_bytes("VmHWM"), "fired": fired,
                      "seconds": seconds, "poll_ms": poll}), flush=True)
    os._exit(0)


def live_child(db: str, n: int) -> None:
    """A fresh process holding `n` started cases: the engine keeps none of them in memory."""
    engine = make_engine(db)
    engine.start(WORKFLOW, "WARM", FORM, ADMIN)
    gc.collect()
    rss0, hwm0 = rss_bytes(), rss_bytes("VmHWM")
    for i in range(n):
        engine.start(WORKFLOW, f"LIVE-{i}", FORM, ADMIN)
    gc.collect()
    print(json.dumps({"rss_delta": rss_bytes() - rss0, "hwm_delta": rss_bytes("VmHWM") - hwm0}), flush=True)
    os._exit(0)


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def claim_sweep(db: str) -> tuple[int, float]:
    """Claim every due clock in batches of 1,000 (the worker's first half of a sweep); (claimed, seconds)."""
    from storage.sql import SqlInstanceStore

    store = SqlInstanceStore(db)
    now = START + timedelta(days=40)
    claimed, t0 = 0, time.perf_counter()
    while batch := store.claim_clocks(now, "bench", 600, 1000):
        claimed += len(batch)
    seconds = time.perf_counter() - t0
    store.close()
    return claimed, seconds


def big_database(tmp: Path, instances: int, due: int, fire: int) -> None:
    for n, d in ((max(1, instances // 100), max(1, due // 100)), (instances, due)):
        path = tmp / f"big_{n}.db"
        t0 = time.perf_counter()
        per = build_big(path, n, d)
        built = time.perf_counter() - t0
        w = child("--_worker-child", str(path), str(min(fire, d // 2)))  # the rest is for the claim sweep
        mib = 1024 * 1024
        p = {"instances": n, "due_instances": d, "due_clocks": d * per, "armed_clocks": n * per,
             "db_bytes": path.stat().st_size, "build_seconds": round(built, 1)}
        emit_stat(f"worker_rss_{n}_instances", "rss", "MiB", [w["rss_after"] / mib], "lower",
                  {**p, "fired_in_child": w["fired"], "rss_after_open_mib": round(w["rss_open"] / mib, 1)})
        emit_stat(f"worker_rss_{n}_instances", "peak_rss", "MiB", [w["hwm"] / mib], "lower", p)
        emit_stat(f"timer_poll_sweep_{n}", "refresh_timers_all", "ms", w["poll_ms"], "lower",
                  {**p, "note": "one tick with nothing due: the indexed claim queries over armed clocks and "
                                     "timers, and the tick's record of its worker (one small write)"})
        if w["fired"]:
            emit_stat(f"timer_fire_{n}", "throughput", "timers/s", [w["fired"] / w["seconds"]], "higher",
                      {**p, "fired": w["fired"], "note": "each a clock's breach with its escalation levels, one tx"})
        claimed, seconds = claim_sweep(str(path))
        if claimed:
            emit_stat(f"timer_claim_sweep_{d}_of_{n}", "throughput", "timers/s", [claimed / seconds], "higher",
                      {**p, "claimed": claimed, "seconds": round(seconds, 2), "batch": 1000, "what": "SLA clocks"})
        path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def postgres_url(a: argparse.Namespace) -> tuple[str | None, Any]:
    url = a.pg_url or os.environ.get("SHIXIAN_BENCH_PG_URL") or os.environ.get("SHIXIAN_TEST_PG_URL")
    if url or a.no_pg:
        return url, None
    from tests.conftest import ThrowAwayServer, find_pg_bin

    pg_bin = find_pg_bin()
    if pg_bin is None:
        return None, None
    server = ThrowAwayServer(pg_bin)
    try:
        return server.start(), server
    except (RuntimeError, OSError) as err:
        emit(kind="note", text=f"no PostgreSQL: {err}")
        server.stop()
        return None, None


def main() -> None:
    logging.getLogger("engine.notify").setLevel(logging.ERROR)  # the bench runs without a directory on purpose
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=150, help="cases per timed repeat (the peers use 150)")
    ap.add_argument("--live", type=int, default=10_000, help="waiting cases held by one process")
    ap.add_argument("--instances", type=int, default=1_000_000, help="cases in the big database")
    ap.add_argument("--due", type=int, default=100_000, help="due SLA clocks among them")
    ap.add_argument("--fire", type=int, default=2_000, help="due clocks the worker child fires")
    ap.add_argument("--pg-url", help="PostgreSQL URL (default: $SHIXIAN_BENCH_PG_URL, else a throw-away server)")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--skip-big", action="store_true", help="leave out the 1,000,000-row database")
    ap.add_argument("--dir", help="where the database files go (default: a temporary directory)")
    ap.add_argument("--_worker-child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--_live-child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._worker_child:
        worker_child(a._worker_child[0], int(a._worker_child[1]))
    if a._live_child:
        live_child(a._live_child[0], int(a._live_child[1]))
    if a.quick:
        a.repeats, a.batch, a.live = 3, 40, 1_000
        a.instances, a.due, a.fire = 20_000, 2_000, 300

    tmp = Path(tempfile.mkdtemp(prefix="shixian-bench-", dir=a.dir))
    try:
        normal = durable(str(tmp / "normal.db"), "approval3_durable_sqlite_wal_normal", a.batch, a.repeats)
        durable(str(tmp / "reload.db"), "approval3_durable_sqlite_wal_normal_reload_each_step", a.batch, a.repeats,
                reload=True, extra={"note": "every command reads the instance from the database (remember=0)"})
        durable(str(tmp / "full.db"), "approval3_durable_sqlite_wal_full", a.batch, a.repeats, "FULL")
        durable(str(tmp / "whole.db"), "gx_data_request_whole_case_durable_sqlite_wal_normal", a.batch, a.repeats,
                whole=True, extra={"note": "the whole procedure: the peers' case and the consumer's subscription"})
        sql_only(tmp, a.batch, a.repeats)
        url, server = postgres_url(a)
        if url:
            try:
                from tests.conftest import _drop_pg_schema, _fresh_pg_schema

                schema, scoped = _fresh_pg_schema(url)
                durable(scoped, "approval3_durable_postgresql", a.batch, a.repeats,
                        extra={"server": "local, fsync=off" if server else "given"})
                _drop_pg_schema(url, schema)
            finally:
                if server is not None:
                    server.stop()
        sizes(tmp)
        live = child("--_live-child", str(tmp / "live.db"), str(a.live))
        p = {"live_instances": a.live, "state": "waiting at normative review, SLA clock armed (in the db)"}
        emit_stat(f"live_waiting_{a.live}", "rss_delta", "MiB", [live["rss_delta"] / 1048576], "lower", p)
        emit_stat(f"live_waiting_{a.live}", "rss_per_instance", "bytes/inst", [live["rss_delta"] / a.live],
                  "lower", p)
        if not a.skip_big:
            big_database(tmp, a.instances, a.due, a.fire)
        emit(kind="note", text=f"approval3 durable NORMAL median {normal:.0f} inst/s with "
                                f"{1 + len(PEER_STEPS)} transactions per case, as the peers")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
