"""The compiler: one shared transitions machine per version, unbound steps, guards, decisions, engine events."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from engine.compiler import CompiledWorkflow, compile_workflow
from engine.errors import ExpressionError, GuardRejected, TransitionNotAllowed
from engine.spec import EVENT_AUTO_DONE, EVENT_DECIDE, EVENT_TIMER, StateKind, StateSpec, frozen_map
from tests.definitions.conftest import GX_REQUEST


def test_one_machine_per_version(gx: CompiledWorkflow) -> None:
    """Compiling the same spec again answers the same compiled object and machine."""
    from engine.loader import load_file

    again = compile_workflow(load_file(GX_REQUEST))
    assert again is gx and again.machine is gx.machine


def test_machine_has_no_auto_transitions_and_no_models(gx: CompiledWorkflow) -> None:
    """No to_<state> events are generated and no model is ever registered."""
    assert not any(name.startswith("to_") for name in gx.machine.events)
    assert gx.machine.models == []


def test_allowed_events_are_the_user_events_of_a_state(gx: CompiledWorkflow) -> None:
    """allowed_events lists the user events leaving a state in definition order, never engine events."""
    assert gx.allowed_events("normative_review") == ("pass", "return", "withdraw")
    assert gx.allowed_events("route") == ()
    assert gx.allowed_events("granted") == ()


def test_the_happy_path_reaches_granted(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """A conditional request goes review -> approval -> push -> subscription -> granted."""
    moves = gx.settle("i1", gx.spec.initial, gx_vars)
    state = moves[-1][2]
    for event in ("pass", "approve", "push"):
        state = gx.step("i1", state, event, gx_vars)
    state = gx.settle("i1", state, gx_vars)[-1][2]
    state = gx.step("i1", state, "subscribe", gx_vars)
    assert moves == [(EVENT_DECIDE, "route", "normative_review")]
    assert state == "granted" and gx.is_end(state)


def test_first_true_branch_wins_and_default_is_last(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """Decisions try branches in order; the default is taken only when none holds."""
    unconditional = dict(gx_vars, sharing_type="unconditional")
    with_params = dict(unconditional, control_params=True)
    assert gx.settle("i", "route", unconditional) == [(EVENT_DECIDE, "route", "granted_directly")]
    assert gx.settle("i", "route", with_params) == [(EVENT_DECIDE, "route", "normative_review")]
    assert gx.settle("i", "route", dict(gx_vars, sharing_type="not_shared")) == [
        (EVENT_DECIDE, "route", "negotiation")]


def test_settle_does_nothing_outside_decisions(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """settle from a task state answers no moves."""
    assert gx.settle("i", "normative_review", gx_vars) == []


def test_wrong_event_is_not_allowed_and_lists_the_allowed(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """An event that does not leave the state raises TransitionNotAllowed with the allowed events."""
    with pytest.raises(TransitionNotAllowed) as err:
        gx.step("i", "normative_review", "approve", gx_vars)
    assert err.value.allowed_events == ("pass", "return", "withdraw")


def test_unknown_event_and_unknown_state_are_not_allowed(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """A made-up event or a state not in the definition is refused, not a KeyError."""
    with pytest.raises(TransitionNotAllowed):
        gx.step("i", "normative_review", "nonsense", gx_vars)
    with pytest.raises(TransitionNotAllowed):
        gx.step("i", "nowhere", "pass", gx_vars)


def test_false_guard_is_rejected_with_its_text(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """refuse is not allowed for unconditional data without control parameters."""
    unconditional = dict(gx_vars, sharing_type="unconditional")
    with pytest.raises(GuardRejected) as err:
        gx.step("i", "provider_approval", "refuse", unconditional)
    assert err.value.guard == "sharing_type != 'unconditional' or control_params"
    assert gx.step("i", "provider_approval", "refuse", gx_vars) == "reply_push"


def test_guard_failure_at_run_time_is_an_expression_error(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """A guard comparing incompatible values raises ExpressionError, not a transitions or jinja error."""
    spec = dataclasses.replace(gx.spec, content_hash="", transitions=tuple(
        dataclasses.replace(t, guard="resource_code > 3") if t.event == "refuse" else t for t in gx.spec.transitions))
    with pytest.raises(ExpressionError):
        compile_workflow(spec).step("i", "provider_approval", "refuse", gx_vars)


def test_auto_and_timer_states_leave_by_engine_events(gx: CompiledWorkflow) -> None:
    """auto steps compile to _auto and timers to _timer, each to its `next`."""
    states = dict(gx.spec.states)
    states["check"] = StateSpec("check", StateKind.AUTO, hook="h", next="wait")
    states["wait"] = StateSpec("wait", StateKind.TIMER, after=None, at_variable="d", next="granted")
    spec = dataclasses.replace(gx.spec, content_hash="", states=frozen_map(states))
    c = compile_workflow(spec)
    assert c.step("i", "check", EVENT_AUTO_DONE, {}) == "wait"
    assert c.step("i", "wait", EVENT_TIMER, {}) == "granted"
    with pytest.raises(TransitionNotAllowed):
        c.step("i", "check", EVENT_TIMER, {})


def test_many_instances_share_one_machine(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """Stepping thousands of instances leaves the machine without models and answers per-instance states."""
    states = ["normative_review"] * 2000
    states = [gx.step(i, s, "pass", gx_vars) for i, s in enumerate(states)]
    assert set(states) == {"provider_approval"} and gx.machine.models == []


def test_threads_share_the_machine_safely(gx: CompiledWorkflow, gx_vars: dict[str, Any]) -> None:
    """Four threads stepping the same compiled workflow all get the right destinations."""
    from concurrent.futures import ThreadPoolExecutor

    def run(worker: int) -> set[str]:
        out = set()
        for i in range(300):
            state = gx.step((worker, i), "normative_review", "pass", gx_vars)
            out.add(gx.step((worker, i), state, "refuse", gx_vars))
        return out

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    assert results == [{"reply_push"}] * 4


def _trigger_on_machine(compiled: CompiledWorkflow, state: str, event: str, context: dict[str, Any]) -> str | None:
    """What the transitions machine's own trigger answers on a throw-away model (None: no transition holds)."""
    from transitions import MachineError

    class Model:
        pass

    model = Model()
    model.state = state  # type: ignore[attr-defined]
    try:
        moved = compiled.machine.events[event].trigger(model, context)
    except MachineError:
        return None
    return model.state if moved else None  # type: ignore[attr-defined, no-any-return]


def test_step_answers_what_the_machine_trigger_answers() -> None:
    """For every shipped definition, state and event, step reaches the state the machine's trigger reaches."""
    from pathlib import Path

    from engine.fields import guard_context
    from engine.loader import load_file

    root = Path(__file__).resolve().parents[2] / "workflows"
    checked = 0
    for path in sorted(root.glob("*/*.yaml")):
        compiled = compile_workflow(load_file(path))
        spec = compiled.spec
        samples: list[dict[str, Any]] = [{}]
        for name, f in spec.variables.items():  # one variable set per enum value and per boolean value
            samples += [{name: v} for v in f.values] + ([{name: True}, {name: False}] if f.type.value == "bool" else [])
        for event in compiled.machine.events:
            for state in spec.states:
                for sample in samples:
                    variables = {n: f.default for n, f in spec.variables.items()} | sample
                    expected = _trigger_on_machine(compiled, state, event, guard_context(spec, variables))
                    try:
                        got: str | None = compiled.step("i", state, event, variables)
                    except (GuardRejected, TransitionNotAllowed):
                        got = None
                    except ExpressionError:
                        continue  # a guard over a variable left unset: the machine's trigger raises too
                    assert got == expected, (path.name, state, event, sample)
                    checked += 1
    assert checked > 1000


def test_transition_lookup_answers_what_the_spec_answers() -> None:
    """For every shipped definition, state and event, the compiled lookup is the spec's own first match."""
    from pathlib import Path

    from engine.loader import load_file

    root = Path(__file__).resolve().parents[2] / "workflows"
    for path in sorted(root.glob("*/*.yaml")):
        compiled = compile_workflow(load_file(path))
        spec = compiled.spec
        events = {t.event for t in spec.transitions} | {"no_such_event"}
        for state in [*spec.states, "no_such_state"]:
            for event in events:
                assert compiled.transition(state, event) is spec.transition(state, event), (path.name, state, event)
