"""The process the crash test kills: runs the deterministic schedule from where its step log ends.

    python -m tests.faults.harness.crash_worker DB WORKDIR --seed S --steps N

Each step is logged to WORKDIR/steps.log after it returns (`n kind key event outcome`); a restarted
process continues after the last whole line. Commands carry the idempotency key `step-n`, so a step that
committed but was not logged before the kill is replayed, not applied twice. After the last step it ticks
until two ticks in a row find nothing to do, then logs `done`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine import ManualClock, WorkflowError
from tests.faults.harness.flow import WF, actor, build_engine, flow_vars, users_for
from tests.faults.harness.schedule import moment, plan


def read_log(path: Path) -> list[str]:
    """The whole lines of the step log; a line cut by a kill is removed from the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
    return data[:end].decode("utf-8").splitlines()


def append(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args(argv)
    log_path = args.workdir / "steps.log"
    lines = read_log(log_path)
    if lines and lines[-1].startswith("done"):
        return 0
    ops = plan(args.seed, args.steps)
    clock = ManualClock(moment(len(lines), args.steps))
    engine = build_engine(args.db, clock, args.workdir / "deliveries.log", seed=args.seed)
    idle = 0  # drain ticks in a row that found nothing to do
    for line in reversed(lines):
        if " drain " not in line or not line.endswith(" idle"):
            break
        idle += 1
    n = len(lines)
    while True:
        clock.set(moment(n, args.steps))
        op = ops[n] if n < args.steps else None
        try:
            if op is None or op.kind == "tick":
                r = engine.tick(clock.now())
                busy = r.fired + r.skipped + r.failed + r.lost + r.dispatched
                outcome = f"f{r.fired}/s{r.skipped}/x{r.failed}/l{r.lost}/d{r.dispatched}" if busy else "idle"
            elif op.kind == "start":
                engine.start(WF, op.business_key, flow_vars(users=users_for(op.business_key)),
                             actor(op.actor_kind, f"s{n}"), idempotency_key=f"step-{n}")
                outcome = "ok"
            else:
                inst = engine.find(WF, op.business_key)
                engine.fire(inst.id, op.event, actor(op.actor_kind, f"s{n}"), dict(op.payload),
                            idempotency_key=f"step-{n}")
                outcome = "ok"
        except WorkflowError as err:
            outcome = type(err).__name__
        kind = op.kind if op is not None else "drain"
        key, event = (op.business_key or "-", op.event or "-") if op is not None else ("-", "-")
        append(log_path, f"{n} {kind} {key} {event} {outcome}")
        n += 1
        if op is None:
            idle = idle + 1 if outcome == "idle" else 0
            if idle >= 2:
                append(log_path, f"done {clock.now().isoformat()}")
                engine.close()
                return 0


if __name__ == "__main__":
    sys.exit(main())
