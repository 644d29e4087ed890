"""The engine's public surface: what embedding backends import from `engine`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import engine


def test_every_public_name_is_importable() -> None:
    """Each name in `engine.__all__` exists, and the list is sorted without repeats."""
    missing = [name for name in engine.__all__ if not hasattr(engine, name)]
    assert missing == []
    assert list(engine.__all__) == sorted(set(engine.__all__))


def test_the_surface_holds_what_backends_need() -> None:
    """Engine, Actor, both clocks, the error tree and the view records are exported."""
    wanted = {"Engine", "Actor", "ManualClock", "SystemClock", "WorkflowError", "ConcurrentUpdate",
              "PermissionDenied", "PayloadInvalid", "TransitionNotAllowed", "UnknownInstance", "CalendarYearMissing",
              "StorageUnavailable", "IdempotencyConflict", "InstanceView", "HistoryEntry", "ClockView",
              "OverdueItem", "TickReport", "ChainReport", "EngineEvent", "HistoryKeyring", "HistoryKeysRequired"}
    assert wanted <= set(engine.__all__)


def test_importing_the_engine_loads_no_storage_module() -> None:
    """The engine depends on the store's protocol, not on the storage layer: a backend with its own store (or
    a tool that only validates definitions) imports no SQL machinery with it."""
    done = subprocess.run([sys.executable, "-c", "import sys, engine; "
                           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('storage', 'sqlmodel')))"],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "[]"
