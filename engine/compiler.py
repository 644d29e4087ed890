"""Compiles a WorkflowSpec into one `transitions` machine per definition version (the only module importing
`transitions`). Instances are never bound to it: a step reads the machine's transitions for (state, event) and
evaluates their conditions in order, as the machine's own trigger does, without a model or callbacks.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from transitions import Machine, MachineError

from engine.errors import ExpressionError, GuardRejected, TransitionNotAllowed, WorkflowError
from engine.expressions import Guard, GuardSyntaxError, compile_guard, evaluate
from engine.fields import guard_context
from engine.spec import EVENT_AUTO_DONE, EVENT_DECIDE, EVENT_TIMER, StateKind, TransitionSpec, WorkflowSpec

_ENGINE_EVENTS = (EVENT_DECIDE, EVENT_AUTO_DONE, EVENT_TIMER)


#: The machine's candidates for one (state, event), in its order: (dest, ((condition, wanted result), ...)).
_Candidates = tuple[tuple[str, tuple[tuple[Any, bool], ...]], ...]


@dataclass(frozen=True, slots=True)
class _Condition:
    """A guard as a `transitions` condition: called with the guard context passed to `trigger`."""

    guard: Guard

    def __call__(self, context: Mapping[str, Any]) -> bool:
        return evaluate(self.guard, context)


def _guard(expr: str, workflow_id: str) -> _Condition:
    try:
        return _Condition(compile_guard(expr))
    except GuardSyntaxError as err:  # the validator refuses these; a spec built by hand may still carry one
        raise ExpressionError(expr, f"in workflow {workflow_id}: {err.detail}") from None


class CompiledWorkflow:
    """One definition version and its shared state machine; thread-safe, holds no instance state."""

    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.version = spec.content_hash
        #: The exact YAML text of this version when known (stored with it, so a restart can serve it again).
        self.source = ""
        states = list(spec.states)
        rows: list[dict[str, Any]] = []
        self._guards: dict[tuple[str, str], str] = {}
        for t in spec.transitions:
            row: dict[str, Any] = {"trigger": t.event, "source": t.source, "dest": t.dest}
            if t.guard:
                row["conditions"] = [_guard(t.guard, spec.id)]
                self._guards[(t.source, t.event)] = t.guard
            rows.append(row)
        for name, st in spec.states.items():
            if st.kind is StateKind.DECISION:
                for br in st.branches:  # ordered: transitions tries them in the order added; default last
                    rows.append({"trigger": EVENT_DECIDE, "source": name, "dest": br.to,
                                 "conditions": [_guard(br.when, spec.id)]})
                if st.default:
                    rows.append({"trigger": EVENT_DECIDE, "source": name, "dest": st.default})
            elif st.kind is StateKind.AUTO and st.next:
                rows.append({"trigger": EVENT_AUTO_DONE, "source": name, "dest": st.next})
            elif st.kind is StateKind.TIMER and st.next:
                rows.append({"trigger": EVENT_TIMER, "source": name, "dest": st.next})
        try:
            self.machine = Machine(model=None, states=states, initial=spec.initial, transitions=rows,
                                   auto_transitions=False, send_event=False, name=spec.id)
        except (MachineError, ValueError, KeyError, AttributeError, TypeError) as err:
            raise WorkflowError(f"workflow {spec.id} version {spec.version} does not compile: {err}") from None
        self._user_events: dict[str, tuple[str, ...]] = {
            name: tuple(dict.fromkeys(t.event for t in spec.events_from(name))) for name in states
        }
        self._lock = threading.Lock()
        self._table = self._decision_table()
        self._transitions: dict[tuple[str, str], TransitionSpec] = {}
        for t in spec.transitions:  # the first declared wins, as in WorkflowSpec.transition
            self._transitions.setdefault((t.source, t.event), t)

    def _decision_table(self) -> dict[tuple[str, str], _Candidates]:
        """The machine's transitions per (state, event), read once through its public `events` and kept as
        plain tuples: the machine has no callbacks, so a step is the first transition whose conditions hold."""
        table: dict[tuple[str, str], _Candidates] = {}
        for name, ev in self.machine.events.items():
            for source, transitions in ev.transitions.items():
                if source in self.spec.states:
                    table[(source, name)] = tuple(
                        (source if t.dest is None else t.dest, tuple((c.func, c.target) for c in t.conditions))
                        for t in transitions)
        return table

    def __repr__(self) -> str:
        return f"<CompiledWorkflow {self.spec.id} {self.spec.version}>"

    def transition(self, state: str, event: str) -> TransitionSpec | None:
        """The user transition `event` leaves `state` by (its roles, payload, save and set), or None."""
        return self._transitions.get((state, event))

    def allowed_events(self, state: str) -> tuple[str, ...]:
        """The user events leaving `state`, in definition order (guards not evaluated)."""
        return self._user_events.get(state, ())

    def step(self, instance_id: object, state: str, event: str, variables: Mapping[str, Any]) -> str:
        """The state `event` leads to from `state` for these variables.

        Raises TransitionNotAllowed (no such event here), GuardRejected (its guard is false) or
        ExpressionError (a guard failed to evaluate).
        """
        candidates = self._table.get((state, event))
        if candidates is None:
            raise TransitionNotAllowed(instance_id, state, event, self.allowed_events(state))
        context: dict[str, Any] | None = None
        for dest, conditions in candidates:
            if not conditions:
                return dest
            if context is None:
                context = guard_context(self.spec, variables)
            try:
                for check, wanted in conditions:
                    if check(context) != wanted:
                        break
                else:
                    return dest
            except ExpressionError:
                raise
            except Exception as err:  # a condition is data: nothing it trips on escapes unwrapped
                raise ExpressionError(event, f"{type(err).__name__}: {err}") from None
        raise GuardRejected(instance_id, state, event, self._guards.get((state, event), "(no branch holds)"))

    def settle(self, instance_id: object, state: str, variables: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """Follow decision states from `state` until a non-decision state: [(event, from, to), ...]."""
        moves: list[tuple[str, str, str]] = []
        current = state
        for _ in range(len(self.spec.states) + 1):
            st = self.spec.states.get(current)
            if st is None or st.kind is not StateKind.DECISION:
                return moves
            dest = self.step(instance_id, current, EVENT_DECIDE, variables)
            moves.append((EVENT_DECIDE, current, dest))
            current = dest
        raise ExpressionError(EVENT_DECIDE, f"decisions from {state!r} loop without reaching a task or end state")

    def is_end(self, state: str) -> bool:
        """True when `state` is an end state of this definition."""
        st = self.spec.states.get(state)
        return st is not None and st.kind is StateKind.END


_CACHE: dict[str, CompiledWorkflow] = {}
_CACHE_LOCK = threading.Lock()


def compile_workflow(spec: WorkflowSpec) -> CompiledWorkflow:
    """The compiled machine of `spec`, built once per content hash and then shared."""
    if not spec.content_hash:
        return CompiledWorkflow(spec)
    with _CACHE_LOCK:
        hit = _CACHE.get(spec.content_hash)
        if hit is not None and hit.spec.id == spec.id:
            return hit
    compiled = CompiledWorkflow(spec)
    with _CACHE_LOCK:
        return _CACHE.setdefault(spec.content_hash, compiled)


__all__ = ["CompiledWorkflow", "compile_workflow"]
