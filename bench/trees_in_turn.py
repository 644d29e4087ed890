#!/usr/bin/env python3
"""Is this tree faster than another? The peers' case run by both trees in turn, each round in fresh processes.

    git worktree add /tmp/base <commit>
    python bench/trees_in_turn.py /tmp/base [--cases 1500] [--rounds 8]

Rates on this machine drift by more between minutes than a change of a few per cent moves them, so the two
trees run one after the other, in separate processes (each its own database, 300 cases of warm-up), the order
flipping every round. Prints the peers' JSON lines: cases/s of each tree, and the median of the per-round
ratios of this tree to the other (`approval3_this_tree_vs_base`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench as bench

BENCH = "trees_in_turn"
THIS = Path(__file__).resolve().parents[1]

CHILD = r"""
import logging, sys, tempfile
sys.path[:0] = [{repo!r}, {repo!r} + "/bench"]
logging.disable(logging.WARNING)
import engine_bench as b
engine = b.make_engine(tempfile.mkdtemp(prefix="shixian-turn-") + "/x.db")
for _ in range(300):
    b.approval(engine)
print(b.approval_rate(engine, {cases}))
"""


def rate(tree: Path, cases: int) -> float:
    """Cases per second of the peers' case, run by `tree`'s own code in a process of its own."""
    out = subprocess.run([sys.executable, "-c", CHILD.format(repo=str(tree), cases=cases)], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the run of {tree} failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", type=Path, help="the other tree (a checkout of the commit to compare with)")
    ap.add_argument("--cases", type=int, default=1500, help="cases per tree and round")
    ap.add_argument("--rounds", type=int, default=8)
    a = ap.parse_args()
    if not (a.base / "bench" / "engine_bench.py").is_file():
        raise SystemExit(f"{a.base} is not a checkout of this project (no bench/engine_bench.py)")
    base: list[float] = []
    this: list[float] = []
    for r in range(a.rounds):
        for tree in ((a.base, THIS) if r % 2 == 0 else (THIS, a.base)):
            (base if tree is a.base else this).append(rate(tree, a.cases))
    params = {"cases": a.cases, "rounds": a.rounds, "base": str(a.base)}
    bench.emit_stat("approval3_base_tree", "throughput", "inst/s", base, "higher", params, bench=BENCH)
    bench.emit_stat("approval3_this_tree", "throughput", "inst/s", this, "higher", params, bench=BENCH)
    ratios = [t / b for t, b in zip(this, base, strict=True)]
    bench.emit_stat("approval3_this_tree_vs_base", "ratio", "x", ratios, "higher", params, bench=BENCH)


if __name__ == "__main__":
    main()
