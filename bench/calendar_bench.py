#!/usr/bin/env python3
"""Working-day arithmetic: shixian's calendar against workalendar, chinese_calendar and holidays, in one run.

Prints JSON lines in the format of the peer baselines (bench-peers README, "JSON line format"):
  add_working_days      N=5 working days after d            calls/s
  working_days_between  working days in (d, d + 30 days]    calls/s
with d cycling over 2018-01-01..2023-12-01 (workalendar's China has data for 2018-2023 only). Every library is
called through its public API. A `check` line per workload says whether all of them gave the same answers.

  python bench/calendar_bench.py                 # standalone (adds the repo root to sys.path itself)
  python /work/shared/bench-peers/run_all.py --only calendar_cost --extra bench/calendar_bench.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import chinese_calendar
import holidays
from workalendar.asia import China

from calendars import get_calendar

BENCH = "calendar_bench"
ONE = dt.timedelta(days=1)
SPAN = dt.timedelta(days=30)
N = 5
FIRST, LAST_START = dt.date(2018, 1, 1), dt.date(2023, 12, 1)
warnings.filterwarnings("ignore", message="Support years")  # workalendar's China warns on every table build

Impl = tuple[str, Callable[[dt.date], object], int]


def emit(**fields: object) -> None:
    print(json.dumps({"bench": BENCH, **fields}, ensure_ascii=False, default=str), flush=True)


def implementations() -> tuple[dict[str, Impl], dict[str, Impl]]:
    ours = get_calendar("CN")
    wa = China()
    hl = holidays.China(years=range(2017, 2025))
    shixian = "shixian calendars (get_calendar('CN'), bisect index)"
    wa_name, cc_name, hl_name = (
        f"workalendar {version('workalendar')}",
        f"chinese_calendar {chinese_calendar.__version__}",
        f"holidays {version('holidays')}",
    )
    add: dict[str, Impl] = {
        "shixian": (shixian, lambda d: ours.add_working_days(d, N), 400_000),
        "workalendar": (wa_name, lambda d: wa.add_working_days(d, N), 4_000),
        "chinese_calendar.find_workday": (cc_name, lambda d: chinese_calendar.find_workday(N - 1, d + ONE), 1_500),
        "holidays": (hl_name, lambda d: hl.get_nth_working_day(d, N), 20_000),
    }
    between: dict[str, Impl] = {
        "shixian": (shixian, lambda d: ours.working_days_between(d, d + SPAN), 400_000),
        "workalendar": (wa_name, lambda d: wa.get_working_days_delta(d, d + SPAN), 400),
        "chinese_calendar.get_workdays": (
            cc_name,
            lambda d: len(chinese_calendar.get_workdays(d + ONE, d + SPAN)),
            300,
        ),
        "holidays": (hl_name, lambda d: hl.get_working_days_count(d + ONE, d + SPAN), 3_000),
    }
    return add, between


def measure(workload: str, impls: dict[str, Impl], dates: list[dt.date], repeats: int, scale: float) -> None:
    rates: dict[str, float] = {}
    nd = len(dates)
    for name, (system, call, batch) in impls.items():
        n = max(1, int(batch * scale))
        for i in range(min(n, 200)):  # warm-up: lazily built tables
            call(dates[i % nd])
        samples = []
        for r in range(repeats):
            gc.collect()
            off = r * 997
            t0 = time.perf_counter()
            for i in range(n):
                call(dates[(off + i) % nd])
            samples.append(n / (time.perf_counter() - t0))
        rates[name] = statistics.median(samples)
        emit(kind="measurement", workload=workload, system=system, metric="throughput", unit="calls/s",
             median=rates[name], min=min(samples), max=max(samples), repeats=repeats, better="higher",
             params={"impl": name, "N": N if workload == "add_working_days" else None, "batch": n,
                     "start_dates": f"{FIRST}..{LAST_START}",
                     **({"span_days": SPAN.days} if workload != "add_working_days" else {})})
    for name, (system, _, _) in impls.items():
        if name != "shixian":
            emit(kind="ratio", workload=f"{workload}_shixian_vs_{name}", system=impls["shixian"][0], metric="ratio",
                 unit="x", median=rates["shixian"] / rates[name], min=None, max=None, repeats=None, better=None,
                 params={"note": f"calls/s of shixian divided by calls/s of {system} (same run)"})


def agreement(workload: str, impls: dict[str, Impl], dates: list[dt.date]) -> None:
    sample = dates[::3]
    wrong: dict[str, int] = {}
    for name, (_, call, _) in impls.items():
        if name == "shixian":
            continue
        reference = impls["shixian"][1]
        wrong[name] = sum(1 for d in sample if call(d) != reference(d))
    # workalendar's China lacks the 2020 Spring Festival extension: its disagreements are expected and reported.
    ok = all(v == 0 for k, v in wrong.items() if k != "workalendar")
    emit(kind="check", name=f"{workload}_agreement", ok=ok,
         detail={"compared_per_impl": len(sample), "disagreements_with_shixian": wrong})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per implementation (default 5)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the batch sizes (default 1.0)")
    a = ap.parse_args()
    dates = [FIRST + dt.timedelta(days=i) for i in range((LAST_START - FIRST).days + 1)]
    add, between = implementations()
    measure("add_working_days", add, dates, a.repeats, a.scale)
    measure("working_days_between", between, dates, a.repeats, a.scale)
    agreement("add_working_days", add, dates)
    agreement("working_days_between", between, dates)


if __name__ == "__main__":
    main()
