"""The engine's public surface: what embedding backends import from `engine`."""

from __future__ import annotations

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
