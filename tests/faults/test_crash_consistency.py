"""Crash consistency: a worker running commands and ticks on a SQLite file is killed with SIGKILL at random
moments, restarted each time, and at the end every invariant of tests/faults/harness/invariants.py holds.

`SHIXIAN_CRASH_KILLS` sets the number of kills (default 30), `SHIXIAN_CRASH_STEPS` the schedule's length,
`SHIXIAN_CRASH_SEED` the seed (default: fixed, so a failure can be rerun exactly).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from engine import ManualClock
from storage import open_store
from tests.faults.harness.crash_worker import read_log
from tests.faults.harness.flow import CountingReceiver, build_engine
from tests.faults.harness.invariants import check_all

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("SHIXIAN_CRASH_KILLS", "30"))
STEPS = int(os.environ.get("SHIXIAN_CRASH_STEPS", str(max(1200, KILLS * 10))))
SEED = int(os.environ.get("SHIXIAN_CRASH_SEED", "20261001"))
WAIT = 60.0  # seconds a worker may take to make the progress a kill waits for


def _spawn(db: Path, work: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.harness.crash_worker", str(db), str(work), "--seed", str(SEED),
         "--steps", str(STEPS)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _lines(work: Path) -> int:
    path = work / "steps.log"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _wait_for(proc: subprocess.Popen[bytes], work: Path, target: int) -> None:
    """Poll (bounded) until the worker has logged `target` steps or has exited."""
    deadline = time.monotonic() + WAIT
    while _lines(work) < target and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the worker made no progress to step {target} in {WAIT:.0f} s")
        time.sleep(0.001)


def run_with_kills(db: Path, work: Path, kills: int, rng: random.Random) -> tuple[int, int]:
    """Run the schedule to its end, killing the worker `kills` times; answer (kills done, restarts)."""
    done = starts = 0
    while True:
        proc = _spawn(db, work)
        starts += 1
        if done < kills:
            # mostly a few steps on (inside a command or tick), sometimes while it is still starting up
            target = _lines(work) + (0 if rng.random() < 0.15 else rng.randint(1, 12))
            _wait_for(proc, work, target)
            for _ in range(rng.randint(0, 400)):  # a few microseconds to milliseconds more: anywhere in a step
                if proc.poll() is not None:
                    break
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                done += 1
                continue
        proc.wait(300)
        _, err = proc.communicate()
        assert proc.returncode == 0, f"the worker failed: {err.decode(errors='replace')[-2000:]}"
        if (work / "steps.log").exists() and read_log(work / "steps.log")[-1].startswith("done"):
            return done, starts


def test_worker_killed_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    """Killed many times mid-run, the worker's database still replays, fires and delivers everything once."""
    db, work = tmp_path / "crash.db", tmp_path / "run"
    work.mkdir()
    kills, starts = run_with_kills(db, work, KILLS, random.Random(SEED))
    lines = read_log(work / "steps.log")
    final = datetime.fromisoformat(lines[-1].split(" ", 1)[1])
    store = open_store(str(db))
    engine = build_engine(str(db), ManualClock(final))
    try:
        found = check_all(store, lines, CountingReceiver(work / "deliveries.log").keys(), final, engine)
    finally:
        engine.close()
        store.close()
    print(f"\ncrash consistency: survived {kills} SIGKILLs over {starts} starts, {len(lines) - 1} steps; "
          + ", ".join(f"{k} {v}" for k, v in found.figures.items()))
    assert kills == KILLS
    assert found.problems == []
    assert found.figures["escalations"] > 0 and found.figures["acknowledged_commands"] > 0
