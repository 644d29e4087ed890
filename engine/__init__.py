"""shixian's engine: the public surface for platform backends that embed it.

    from engine import Engine, Actor, ManualClock
    from storage import open_store
    engine = Engine(open_store("shixian.db"), DefinitionSet.load(["workflows"]), clock=ManualClock(...))
"""

from __future__ import annotations

from engine.backlog import BacklogProblem, Health
from engine.clock import Clock, ManualClock, SystemClock
from engine.errors import (
    CalendarDataInvalid,
    CalendarYearMissing,
    ConcurrentUpdate,
    DeadlinePolicyMismatch,
    DefinitionError,
    DefinitionProblem,
    DiskFull,
    DuplicateBusinessKey,
    ExpressionError,
    GuardRejected,
    HistoryKeysInvalid,
    HistoryKeysRequired,
    HookError,
    IdempotencyConflict,
    InstanceNotRunning,
    PayloadInvalid,
    PermissionDenied,
    RowOutOfDate,
    SchemaTooNew,
    StepLimitReached,
    StorageUnavailable,
    StoredVersionUnloadable,
    TransitionNotAllowed,
    UnknownInstance,
    UnknownWorkflow,
    WorkflowError,
)
from engine.events import EngineEvent
from engine.history import ChainReport
from engine.history_keys import HistoryKeyring
from engine.ports import Actor, Directory, Person
from engine.runtime import Engine
from engine.store import ClockView, HistoryEntry, InstanceQuery, InstanceStore, InstanceView, PauseEntry, TimerView
from engine.views import OverdueItem, TickReport

__all__ = [
    "Actor",
    "BacklogProblem",
    "CalendarDataInvalid",
    "CalendarYearMissing",
    "ChainReport",
    "Clock",
    "ClockView",
    "ConcurrentUpdate",
    "DeadlinePolicyMismatch",
    "DefinitionError",
    "DefinitionProblem",
    "Directory",
    "DiskFull",
    "DuplicateBusinessKey",
    "Engine",
    "EngineEvent",
    "ExpressionError",
    "GuardRejected",
    "Health",
    "HistoryEntry",
    "HistoryKeyring",
    "HistoryKeysInvalid",
    "HistoryKeysRequired",
    "HookError",
    "IdempotencyConflict",
    "InstanceNotRunning",
    "InstanceQuery",
    "InstanceStore",
    "InstanceView",
    "ManualClock",
    "OverdueItem",
    "PauseEntry",
    "PayloadInvalid",
    "PermissionDenied",
    "Person",
    "RowOutOfDate",
    "SchemaTooNew",
    "StepLimitReached",
    "StorageUnavailable",
    "StoredVersionUnloadable",
    "SystemClock",
    "TickReport",
    "TimerView",
    "TransitionNotAllowed",
    "UnknownInstance",
    "UnknownWorkflow",
    "WorkflowError",
]
