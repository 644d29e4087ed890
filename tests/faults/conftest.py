"""Fixtures of the fault tests: an engine on the fault flow (SQLite and PostgreSQL), a dump of every table,
and a meter of the memory and CPU time a refused command costs."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from engine import Engine, ManualClock
from tests.faults.harness.flow import START, build_engine

#: Generous bounds for refusing one hostile input: far above what a refusal needs, far below a blow-up.
MAX_PEAK_BYTES = 64 * 1024 * 1024
MAX_CPU_SECONDS = 5.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def engine(db_url: str, clock: ManualClock) -> Iterator[Engine]:
    """An engine running the fault flow on a fresh database (once on SQLite, once on PostgreSQL)."""
    e = build_engine(db_url, clock)
    yield e
    e.close()


def dump(engine: Engine | Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: two dumps are equal when the database did not change.

    Takes an Engine or a store (anything with the SQLAlchemy engine at `.engine` or `.store.engine`).
    """
    db: sa.Engine = getattr(engine, "store", engine).engine
    meta = sa.MetaData()
    meta.reflect(db)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            out[name] = sorted((tuple(r) for r in conn.execute(sa.select(table))), key=repr)
    return out


@dataclass(frozen=True, slots=True)
class Cost:
    """What one call raised, and the peak of memory it allocated and the CPU time it used."""

    error: BaseException | None
    peak_bytes: int
    cpu_seconds: float

    def bounded(self) -> bool:
        return self.peak_bytes < MAX_PEAK_BYTES and self.cpu_seconds < MAX_CPU_SECONDS


def measure(fn: Callable[[], object]) -> Cost:
    """Run `fn`, catching what it raises, under tracemalloc and the process CPU clock (no wall clock)."""
    tracemalloc.start()
    cpu = time.process_time()
    error: BaseException | None = None
    try:
        fn()
    except Exception as err:
        error = err
    finally:
        used = time.process_time() - cpu
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return Cost(error, peak, used)
