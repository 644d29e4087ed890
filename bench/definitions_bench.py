#!/usr/bin/env python3
"""Definitions benchmark: load + validate + compile of the shipped workflows, and one compiled machine shared by
all instances against a machine per instance. Prints JSON lines in the peers' format (bench-peers README).

Example:  python bench/definitions_bench.py            (about 20 s on 2 cores)
          python bench/definitions_bench.py --quick    (smaller batches)
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.compiler import CompiledWorkflow  # noqa: E402 - the repo root goes on sys.path first
from engine.definitions import DefinitionSet, definition_files  # noqa: E402
from engine.fields import make_credit_code, validate_variables  # noqa: E402
from engine.loader import load_file, parse_text  # noqa: E402

BENCH = "definitions_bench"
SYSTEM = "shixian 0.1.0"
ONE_FILE = REPO / "workflows" / "gx" / "data_request.yaml"
#: The instance workloads run on the test fixture, whose events this script knows.
FIXTURE = REPO / "tests" / "fixtures" / "valid" / "gx_data_request.yaml"
EVENTS = ("pass", "approve", "push")  # normative review -> provider approval -> reply push (-> decision)


class Live:
    """An instance held in memory: its state and the compiled workflow it runs on."""

    __slots__ = ("compiled", "state")

    def __init__(self, state: str, compiled: CompiledWorkflow) -> None:
        self.state = state
        self.compiled = compiled


def emit(**kw: Any) -> None:
    print(json.dumps({"bench": BENCH, **kw}, ensure_ascii=False), flush=True)


def emit_stat(workload: str, metric: str, unit: str, samples: list[float], better: str,
              params: dict[str, Any]) -> None:
    emit(kind="measurement", workload=workload, system=SYSTEM, metric=metric, unit=unit,
         median=statistics.median(samples), min=min(samples), max=max(samples), repeats=len(samples),
         better=better, params=params)


def emit_ratio(workload: str, num: float, den: float, note: str) -> None:
    emit(kind="ratio", workload=workload, system=SYSTEM, metric="ratio", unit="x", median=num / den, min=None,
         max=None, repeats=None, better=None, params={"note": note})


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Seconds per call: one warm-up, then `repeats` timed runs after a collection."""
    fn()
    out = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def start_vars(compiled: CompiledWorkflow) -> dict[str, Any]:
    return validate_variables(compiled.spec, {
        "consumer_dept": make_credit_code(1), "provider_dept": make_credit_code(2), "resource_code": "450000-001",
        "sharing_type": "conditional",
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smaller batches for a smoke run")
    ap.add_argument("--workflows", default=str(REPO / "workflows"))
    a = ap.parse_args()
    scale = 0.2 if a.quick else 1.0
    one = ONE_FILE if ONE_FILE.exists() else FIXTURE
    files = definition_files([a.workflows])
    raw = one.read_bytes()

    # one file: parse only, and load (parse + validate), then compile
    emit_stat("bpmn_spec_load", "parse_load_time", "ms", [s * 1e3 for s in timed(lambda: load_file(one), a.repeats)],
              "lower", {"file": str(one.relative_to(REPO)), "call": "load_file", "bytes": len(raw),
                        "note": "YAML parse with positions + validation"})
    emit_stat("definition_parse", "parse_time", "ms",
              [s * 1e3 for s in timed(lambda: parse_text(raw, str(one)), a.repeats)], "lower",
              {"file": str(one.relative_to(REPO)), "call": "parse_text"})
    spec = load_file(one)
    emit_stat("definition_compile", "compile_time", "ms",
              [s * 1e3 for s in timed(lambda: CompiledWorkflow(spec), a.repeats)], "lower",
              {"file": str(one.relative_to(REPO)), "states": len(spec.states), "transitions": len(spec.transitions),
               "note": "one transitions.Machine, uncached"})
    # all shipped workflows
    t = timed(lambda: DefinitionSet.load([a.workflows]), a.repeats)
    emit_stat("definitions_load_all", "load_validate_compile_time", "ms", [s * 1e3 for s in t], "lower",
              {"files": len(files), "note": "DefinitionSet.load: parse + validate + compile (compile cache warm "
                                            "after the warm-up run)"})

    def load_all_cold() -> None:
        for f in files:
            CompiledWorkflow(load_file(f))

    t = timed(load_all_cold, a.repeats)
    emit_stat("definitions_load_all", "load_validate_compile_time", "ms", [s * 1e3 for s in t], "lower",
              {"files": len(files), "style": "uncached", "note": "every file parsed, validated and compiled anew"})

    # shared machine vs a machine per instance
    spec = load_file(FIXTURE)
    shared = CompiledWorkflow(spec)
    variables = start_vars(shared)

    def life_shared(n: int) -> None:
        for i in range(n):
            state = shared.settle(i, spec.initial, variables)[-1][2]
            for ev in EVENTS:
                state = shared.step(i, state, ev, variables)
            assert state == "outcome"

    def life_per_instance(n: int) -> None:
        for i in range(n):
            own = CompiledWorkflow(spec)
            state = own.settle(i, spec.initial, variables)[-1][2]
            for ev in EVENTS:
                state = own.step(i, state, ev, variables)
            assert state == "outcome"

    n_shared, n_per = max(1, int(5000 * scale)), max(1, int(300 * scale))
    s_shared = [n_shared / s for s in timed(lambda: life_shared(n_shared), a.repeats)]
    s_per = [n_per / s for s in timed(lambda: life_per_instance(n_per), a.repeats)]
    common = {"states": len(spec.states), "transitions": len(spec.transitions), "events_per_instance": 4,
              "note": "create + decision + 3 events, guards evaluated in the sandbox"}
    emit_stat("approval3_fsm_lifecycle", "throughput", "inst/s", s_shared, "higher",
              {**common, "style": "shared_unbound", "batch": n_shared})
    emit_stat("approval3_fsm_lifecycle", "throughput", "inst/s", s_per, "higher",
              {**common, "style": "per_instance", "batch": n_per})
    emit_ratio("definitions_lifecycle_shared_vs_per_instance", statistics.median(s_shared),
               statistics.median(s_per), "inst/s ratio, shared compiled machine / machine per instance")

    n_ev = max(1, int(20000 * scale))

    def events_only() -> None:
        for i in range(n_ev):
            shared.step(i, "normative_review", "pass", variables)

    s_ev = [n_ev / s for s in timed(events_only, a.repeats)]
    emit_stat("approval3_fsm_events", "throughput", "events/s", s_ev, "higher",
              {"style": "shared_unbound", "batch": n_ev, "note": "compiled.step, no guard"})

    def guarded() -> None:
        for i in range(n_ev):
            shared.step(i, "provider_approval", "refuse", variables)

    s_g = [n_ev / s for s in timed(guarded, a.repeats)]
    emit_stat("approval3_fsm_events", "throughput", "events/s", s_g, "higher",
              {"style": "shared_unbound", "batch": n_ev, "call": "guarded", "note": "compiled.step with a guard"})

    # memory: a live instance is its state plus a reference to the compiled machine (shared or its own)
    n_live = max(1, int(1000 * scale))

    def live_bytes(make: Callable[[], CompiledWorkflow]) -> float:
        gc.collect()
        tracemalloc.start()
        live = [Live("normative_review", make()) for _ in range(n_live)]
        used = tracemalloc.get_traced_memory()[0] / n_live
        tracemalloc.stop()
        assert len(live) == n_live
        return used

    per_instance_bytes = live_bytes(lambda: CompiledWorkflow(spec))
    shared_bytes = live_bytes(lambda: shared)
    emit_stat("fsm_live_1000", "tracemalloc_per_instance", "bytes/inst", [per_instance_bytes], "lower",
              {"style": "per_instance", "live_instances": n_live})
    emit_stat("fsm_live_1000", "tracemalloc_per_instance", "bytes/inst", [shared_bytes], "lower",
              {"style": "shared_unbound", "live_instances": n_live})
    emit_ratio("definitions_memory_per_instance_vs_shared", per_instance_bytes, shared_bytes,
               "tracemalloc bytes ratio")
    emit(kind="check", name="shared_machine_has_no_models", ok=shared.machine.models == [])


if __name__ == "__main__":
    main()
