#!/usr/bin/env python3
"""Instructions per durable case, counted by valgrind's callgrind: a figure this machine's noise does not move.

    python bench/instructions.py [--cases 200] [--top 25]
    python run_all.py --only spiff_approval --extra /work/main/bench/instructions.py

Wall-clock rates here swing by a third between rounds, which hides changes of a few per cent. Instructions
executed in user space (Python, the driver, SQLite, libc) do not swing: the same tree gives the same count to
within a tenth of a per cent. Runs the peers' case (bench/engine_bench.py `approval`) in a child process under
`valgrind --tool=callgrind`, collecting only while the measured cases run (after a warm-up), and prints the
count per case as the peers' JSON lines (`approval3_instructions_engine`), with its split by shared object in
`params`; the functions with most instructions of their own go to stderr. Also counts the same case's
statements replayed without the engine (`engine_bench.replay_case`, `approval3_instructions_replay`), the
floor under it.

It does not see the kernel (system calls, page writes) or waiting: it shows the CPU work a change adds or
removes, not the rate. Needs `valgrind` and `callgrind_annotate` on the PATH.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import engine_bench as bench  # noqa: E402

CHILD = r"""
import os, subprocess, sys, tempfile
sys.path[:0] = [{repo!r}, {bench!r}]
import engine_bench as b
from storage.sql import SqlInstanceStore

folder = tempfile.mkdtemp()
side, cases = sys.argv[1], int(sys.argv[2])
if side == "engine":
    engine = b.make_engine(folder + "/x.db")
    run = lambda: b.approval(engine)
else:
    commands, names = b.record_case(folder + "/record.db")
    store = SqlInstanceStore(folder + "/replay.db")
    raw = store.engine.raw_connection()
    run = lambda: b.replay_case(raw, commands, names)
for _ in range(300):
    run()
subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=True)
for _ in range(cases):
    run()
subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True, check=True)
"""

_TOOL_PATH = re.compile(r"/tmp/python-build[^ ]*?/Python-[0-9.]+/")


def count(side: str, cases: int, out: Path) -> Path:
    """Run `cases` cases of `side` ("engine" or "replay") under callgrind; the profile's path."""
    script = out / f"{side}.py"
    script.write_text(CHILD.format(repo=str(REPO), bench=str(BENCH)), encoding="utf-8")
    profile = out / f"{side}.callgrind"
    subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={profile}",
                    sys.executable, str(script), side, str(cases)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return profile


def self_costs(profile: Path) -> list[tuple[int, str]]:
    """(instructions, function [object]) of each function's own instructions, most first."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", str(profile)], check=True,
                          capture_output=True, text=True).stdout
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), _TOOL_PATH.sub("", m.group(2))))
    return rows


def by_object(rows: list[tuple[int, str]]) -> collections.Counter[str]:
    objects: collections.Counter[str] = collections.Counter()
    for n, name in rows:
        m = re.search(r"\[([^\]]*)\]\s*$", name)
        objects[Path(m.group(1)).name if m else "(the interpreter's inlined code)"] += n
    return objects


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=200, help="measured cases per side (after 300 unmeasured)")
    p.add_argument("--top", type=int, default=25, help="functions of the engine's listed on stderr")
    p.add_argument("--keep", action="store_true", help="keep the callgrind profiles and say where they are")
    a = p.parse_args()
    for tool in ("valgrind", "callgrind_annotate", "callgrind_control"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: install valgrind")
    out = Path(tempfile.mkdtemp(prefix="shixian-instructions-"))
    totals = {}
    for side in ("engine", "replay"):
        rows = self_costs(count(side, a.cases, out))
        total = sum(n for n, _ in rows)
        totals[side] = total / a.cases
        objects = {name: round(n / a.cases) for name, n in by_object(rows).most_common(8)}
        bench.emit_stat(f"approval3_instructions_{side}", "instructions", "instr/case", [total / a.cases], "lower",
                        {"cases": a.cases, "by_object": objects,
                         "what": "user-space instructions of the peers' case under callgrind" if side == "engine"
                         else "the same case's statements replayed without the engine"}, bench="instructions")
        if side == "engine":
            print("the engine's functions with most instructions of their own (a case):", file=sys.stderr)
            for n, name in rows[:a.top]:
                print(f"  {n / a.cases:>12,.0f}  {100 * n / total:5.1f}%  {name[:110]}", file=sys.stderr)
    bench.emit(bench="instructions", kind="ratio", workload="approval3_instructions_engine_vs_replay",
               system=bench.SYSTEM, metric="ratio", unit="x", median=totals["engine"] / totals["replay"], min=None,
               max=None, repeats=None, better=None,
               params={"note": "engine instructions a case / the same case's statements replayed"})
    if a.keep:
        print(f"profiles in {out}", file=sys.stderr)
    else:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
