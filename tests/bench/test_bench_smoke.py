"""The benchmarks the docs cite still run and still print the peer harness's JSON lines (at toy sizes: these
tests check the scripts, never their figures)."""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from storage.tx import listed_clocks

REPO = Path(__file__).resolve().parents[2]
MEASUREMENT_KEYS = {"bench", "kind", "workload", "system", "metric", "unit", "median", "min", "max", "repeats",
                    "better", "params"}

SMALL_RUNS = {
    # with its database of many waiting cases (20,000 under --quick), built by bulk inserts that must keep to
    # the schema's rules
    "engine_bench": (["--quick", "--no-pg", "--batch", "5", "--repeats", "1", "--live", "50"],
                     {"approval3_durable_sqlite_wal_normal", "approval3_durable_sqlite_wal_full",
                      "approval3_sql_only_sqlite_wal_normal", "stored_bytes_per_instance",
                      "gx_data_request_whole_case_durable_sqlite_wal_normal", "worker_rss_20000_instances",
                      "timer_poll_sweep_20000", "timer_fire_20000", "timer_claim_sweep_2000_of_20000"}),
    "floor_variants": (["--cases", "5", "--rounds", "2"],
                       {"approval3_sql_only_as_run", "approval3_sql_only_read_in_write_tx",
                        "approval3_sql_only_task_clock_on_instance",
                        "approval3_sql_only_no_clock_rows", "approval3_sql_only_page_2048",
                        "approval3_sql_only_page_8192"}),
    "driver_share": (["--cases", "5", "--rounds", "1"], {"approval3_durable_sqlite_wal_normal"}),
    "driver_variants": (["--cases", "5", "--rounds", "2"],
                        {"approval3_driver_as_is", "approval3_driver_begin_first", "approval3_driver_begin_immediate",
                         "approval3_driver_checkpoint_in_background", "approval3_driver_no_checkpoints"}),
    "command_latency": (["--cases", "5", "--rounds", "1"], set()),
    "clock_share": (["--cases", "5", "--rounds", "2"],
                    {"approval3_clocks_as_shipped", "approval3_clocks_no_deadlines", "approval3_clocks_no_next_index"}),
    "least_python": (["--cases", "5", "--rounds", "2"],
                     {"approval3_least_python_sqlite_wal_normal", "approval3_engine_beside_least_python"}),
    "calendar_bench": (["--repeats", "1", "--scale", "0.01"], {"add_working_days", "working_days_between"}),
    "instructions": (["--cases", "2", "--top", "1"],
                     {"approval3_instructions_engine", "approval3_instructions_replay"}),
    "definitions_bench": (["--quick", "--repeats", "1"], set()),
    # the tree itself as the other tree: the script is checked, not a comparison
    "trees_in_turn": ([str(REPO), "--cases", "5", "--rounds", "2"],
                      {"approval3_base_tree", "approval3_this_tree", "approval3_this_tree_vs_base"}),
}


#: what a script needs besides Python, as the tests that need PostgreSQL: skipped without it, except under CI
NEEDS = {"instructions": "valgrind"}


@functools.cache
def run_bench(name: str, args: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """The script's JSON lines; run once per arguments, as two tests read the same small engine run."""
    tool = NEEDS.get(name)
    if tool is not None and shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed: .ci/run installs it")
        pytest.skip(f"bench/{name}.py needs {tool} (apt-get install {tool})")
    out = subprocess.run([sys.executable, str(REPO / "bench" / f"{name}.py"), *args], cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return tuple(json.loads(line) for line in out.stdout.splitlines() if line.strip())


@pytest.mark.parametrize("name", sorted(SMALL_RUNS))
def test_bench_prints_peer_json_lines(name: str) -> None:
    """Each line is the harness's JSON, named after its script; measurements are complete and finite, every
    check line says ok, and the workloads the docs quote are there."""
    args, wanted = SMALL_RUNS[name]
    lines = run_bench(name, tuple(args))
    assert lines
    assert {line["bench"] for line in lines} == {name}
    measurements = [line for line in lines if line["kind"] == "measurement"]
    assert measurements
    for m in measurements:
        assert m.keys() >= MEASUREMENT_KEYS, m
        assert isinstance(m["median"], int | float) and math.isfinite(m["median"]) and m["median"] > 0, m
    assert wanted <= {m["workload"] for m in measurements}
    checks = [line for line in lines if line["kind"] == "check"]
    assert all(check["ok"] for check in checks), checks


def test_the_approval_lines_run_the_peers_case_and_the_whole_case_runs_apart() -> None:
    """`approval3_*` commits as often as SpiffWorkflow's case (start and its three user tasks: 4); the whole
    procedure, with the consumer's subscription, is a line of its own (5). Every case timed and warmed up ends
    where it should: at the subscription, or granted."""
    lines = {m["workload"]: m for m in run_bench("engine_bench", tuple(SMALL_RUNS["engine_bench"][0]))
             if m["kind"] == "measurement"}
    peers = lines["approval3_durable_sqlite_wal_normal"]["params"]
    whole = lines["gx_data_request_whole_case_durable_sqlite_wal_normal"]["params"]
    assert (peers["tx_per_instance"], peers["steps"]) == (4, "start+pass+approve+push")
    assert (whole["tx_per_instance"], whole["steps"]) == (5, "start+pass+approve+push+subscribe")
    timed = peers["batch"] * lines["approval3_durable_sqlite_wal_normal"]["repeats"]
    assert peers["cases_done"] == whole["cases_done"] == max(1, peers["batch"] // 10) + timed  # warm-up + timed


def test_a_replayed_case_writes_what_the_engine_wrote(tmp_path: Path) -> None:
    """The SQL-only replay (the floor the docs quote) renames the instance, its key, its number and its clocks:
    each replayed case stops its own clocks and its row lists them, and its steps are keyed by its own number, as
    the engine's cases do, rather than missing them or colliding."""
    sys.path.insert(0, str(REPO / "bench"))
    import engine_bench

    from storage.sql import SqlInstanceStore

    commands, names = engine_bench.record_case(str(tmp_path / "record.db"))
    store = SqlInstanceStore(str(tmp_path / "replay.db"))
    raw = store.engine.raw_connection()
    for _ in range(3):
        engine_bench.replay_case(raw, commands, names)
    raw.close()
    store.close()
    engine = engine_bench.make_engine(str(tmp_path / "engine.db"))
    for _ in range(3):
        engine_bench.approval(engine)
    engine.close()

    def written(db: str) -> tuple[list[tuple[str, int]], list[tuple[int, ...]], list[tuple[int, int, int]]]:
        conn = sqlite3.connect(tmp_path / db)
        statuses = conn.execute("SELECT status, count(*) FROM sla_clock GROUP BY status ORDER BY status").fetchall()
        lists = conn.execute("SELECT clock_ids FROM instance").fetchall()
        # per instance: its number, its steps, and how many of them its number's range of keys holds
        steps = conn.execute("SELECT i.ordinal, i.history_seq, (SELECT count(*) FROM history h WHERE h.hid "
                             "BETWEEN i.ordinal * 1048576 AND i.ordinal * 1048576 + 1048575 "
                             "AND h.instance_id = i.id) FROM instance i ORDER BY i.ordinal").fetchall()
        conn.close()
        return statuses, sorted(tuple(listed_clocks(text)) for (text,) in lists), steps

    assert written("replay.db") == written("engine.db")
    assert written("replay.db")[1] == [(1, 2, 3), (4, 5, 6), (7, 8, 9)]
    assert written("replay.db")[2] == [(1, 6, 6), (2, 6, 6), (3, 6, 6)]
