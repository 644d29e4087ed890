"""Hostile input through the Python API: each is refused with a typed error, in bounded memory and CPU time,
and the database is left exactly as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import (
    Actor,
    Engine,
    InstanceNotRunning,
    PayloadInvalid,
    PermissionDenied,
    TransitionNotAllowed,
    UnknownInstance,
    UnknownWorkflow,
    WorkflowError,
)
from notifiers.rendering import TemplateRenderer
from storage.tables import outbox_t
from tests.faults.conftest import dump, measure
from tests.faults.harness.flow import PROVIDER, WF, actor, flow_vars

HYPOTHESIS = settings(max_examples=40, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)

#: Payloads for `approve` (which declares one optional one-line string `note` of at most 50 characters)
#: that no reading can accept: not a mapping, an undeclared field, a note of another type, or too long.
bad_payloads = st.one_of(
    st.lists(json_value, max_size=3),
    st.text(max_size=40),
    st.integers(),
    st.dictionaries(st.text(max_size=12).filter(lambda k: k != "note"), json_value, min_size=1, max_size=4),
    st.builds(lambda v: {"note": v}, json_value.filter(lambda v: not isinstance(v, str) and v is not None)),
    st.builds(lambda s: {"note": s}, st.text(min_size=51, max_size=300).filter(lambda s: len(s) > 50)),
    st.builds(lambda n: {"note": "x" * n}, st.integers(min_value=70_000, max_value=4_000_000)),
)

#: Variables for `start` that must be refused: missing required departments, a bad credit code, wrong types.
bad_variables = st.one_of(
    st.builds(lambda v: {k: v[k] for k in v if k != "provider_dept"}, st.just(flow_vars())),
    st.builds(lambda code: flow_vars(consumer_dept=code), st.text(max_size=20)),
    st.builds(lambda v: flow_vars(score=v), json_value.filter(
        lambda v: v is not None and (not isinstance(v, int) or isinstance(v, bool)))),
    st.builds(lambda v: flow_vars(users=v), st.text(min_size=1, max_size=10) | st.booleans() | st.floats()),
    st.builds(lambda k, v: flow_vars(**{k: v}), st.text(min_size=1, max_size=10).filter(
        lambda k: k not in ("consumer_dept", "provider_dept", "users", "score", "note", "reason")), json_value),
    st.builds(lambda n: flow_vars(reason="长" * n), st.integers(min_value=4001, max_value=100_000)),
)


def refused(engine: Engine, call: Any, expected: type[WorkflowError]) -> WorkflowError:
    """Run a call that must be refused: the typed error, bounded cost, and an unchanged database."""
    before = dump(engine)
    cost = measure(call)
    assert isinstance(cost.error, expected), f"expected {expected.__name__}, got {cost.error!r}"
    assert cost.bounded(), f"refusal cost {cost.peak_bytes} bytes, {cost.cpu_seconds:.2f} s CPU"
    assert str(cost.error) and "\n" not in str(cost.error)
    assert dump(engine) == before
    return cost.error


@HYPOTHESIS
@given(payload=bad_payloads)
def test_malformed_payloads_are_refused(engine: Engine, payload: Any) -> None:
    """Any payload that is not a mapping of declared, well-typed, small fields is PayloadInvalid."""
    inst = engine.find(WF, "H1") if engine.list_instances() else engine.start(WF, "H1", flow_vars(), actor("consumer"))
    err = refused(engine, lambda: engine.fire(inst.id, "approve", actor("auditor"), payload), PayloadInvalid)
    assert isinstance(err, PayloadInvalid) and err.where == "payload"


@HYPOTHESIS
@given(variables=bad_variables)
def test_malformed_variables_are_refused_at_start(engine: Engine, variables: Any) -> None:
    """Variables missing, undeclared, of the wrong type, too long or with a bad credit code start nothing."""
    refused(engine, lambda: engine.start(WF, "H2", variables, actor("consumer")), PayloadInvalid)


def test_deeply_nested_payload_is_refused(engine: Engine) -> None:
    """A payload nested a hundred thousand levels deep is PayloadInvalid, not a RecursionError."""
    inst = engine.start(WF, "H3", flow_vars(), actor("consumer"))
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    refused(engine, lambda: engine.fire(inst.id, "approve", actor("auditor"), {"note": deep}), PayloadInvalid)
    refused(engine, lambda: engine.fire(inst.id, "approve", actor("auditor"), {"undeclared": deep}), PayloadInvalid)
    refused(engine, lambda: engine.start(WF, "H3b", flow_vars(score=deep), actor("consumer")), PayloadInvalid)


@pytest.mark.parametrize("event", ["nope", "", "APPROVE", "_timer", "_auto", "approve\x00", "x" * 10_000, None, 7])
def test_unknown_events_are_refused(engine: Engine, event: Any) -> None:
    """Events the state does not have, the engine's own `_` events included, are TransitionNotAllowed."""
    inst = engine.start(WF, "H4", flow_vars(), actor("consumer"))
    err = refused(engine, lambda: engine.fire(inst.id, event, actor("auditor"), {}), TransitionNotAllowed)
    assert isinstance(err, TransitionNotAllowed) and "approve" in err.allowed_events


@pytest.mark.parametrize("instance_id", ["0" * 32, "", "' OR 1=1 --", "../../etc/passwd", "x" * 100_000, None])
def test_unknown_instances_are_refused(engine: Engine, instance_id: Any) -> None:
    """Ids of no instance, injection attempts and oversized ids included, are UnknownInstance."""
    engine.start(WF, "H5", flow_vars(), actor("consumer"))
    refused(engine, lambda: engine.fire(instance_id, "approve", actor("auditor"), {}), UnknownInstance)
    refused(engine, lambda: engine.get(instance_id), UnknownInstance)


@pytest.mark.parametrize("instance_id", ["ab\x00cd", 12, 3.5, b"bytes"])
def test_instance_ids_that_are_not_text_are_refused_as_input(engine: Engine, instance_id: Any) -> None:
    """An id with a NUL byte or of another type is refused as bad input on both databases, never a storage error."""
    engine.start(WF, "H6", flow_vars(), actor("consumer"))
    err = refused(engine, lambda: engine.fire(instance_id, "approve", actor("auditor"), {}), WorkflowError)
    assert isinstance(err, UnknownInstance | PayloadInvalid), f"{type(err).__name__}: {err}"


@pytest.mark.parametrize("business_key", ["k" * 201, "k" * 100_000, "key\x00", 5, None, ""])
def test_bad_business_keys_are_refused(engine: Engine, business_key: Any) -> None:
    """A business key that is empty, too long for its column, holds a NUL or is not text is PayloadInvalid."""
    refused(engine, lambda: engine.start(WF, business_key, flow_vars(), actor("consumer")), PayloadInvalid)


def test_oversized_actor_id_is_refused(engine: Engine) -> None:
    """An actor id longer than the history's column is refused as input on both databases."""
    inst = engine.start(WF, "H7", flow_vars(), actor("consumer"))
    long_actor = Actor("a" * 1000, frozenset({"data_auditor"}), PROVIDER)
    refused(engine, lambda: engine.fire(inst.id, "approve", long_actor, {}), PayloadInvalid)


@pytest.mark.parametrize(("who", "roles", "department"), [
    ("mallory", frozenset(), PROVIDER),                               # no role at all
    ("mallory", frozenset({"data_admin"}), PROVIDER),                 # another role of the right department
    ("mallory", frozenset({"data_auditor"}), "91350100M000100Y43"),   # the role, in another department
    ("mallory", frozenset({"data_auditor"}), None),                   # the role, no department
    ("mallory", frozenset({"Data_Auditor", "data_auditor "}), PROVIDER),  # near misses of the role's name
    ("mallory", frozenset({"data_supervisor", "bureau_reviewer"}), None),  # powerful, but not this task's role
])
def test_actors_without_the_role_or_from_another_department_are_refused(
    engine: Engine, who: str, roles: frozenset[str], department: str | None
) -> None:
    """Only the task's role in the instance's department may fire its event: the others get PermissionDenied."""
    inst = engine.start(WF, "H8", flow_vars(), actor("consumer"))
    refused(engine, lambda: engine.fire(inst.id, "approve", Actor(who, roles, department), {}), PermissionDenied)


def test_a_role_given_as_a_string_is_refused(engine: Engine) -> None:
    """Roles passed as one string (not a set) are refused: 'not_a_data_auditor' never grants data_auditor."""
    inst = engine.start(WF, "H9", flow_vars(), actor("consumer"))
    refused(engine, lambda: engine.fire(
        inst.id, "approve", Actor("mallory", "not_a_data_auditor", PROVIDER), {}), PayloadInvalid)  # type: ignore[arg-type]


def test_admin_commands_need_an_admin_role(engine: Engine) -> None:
    """Cancel, suspend and resume by an actor without an admin role are PermissionDenied."""
    inst = engine.start(WF, "H10", flow_vars(), actor("consumer"))
    for command in (engine.cancel, engine.suspend, engine.resume):
        refused(engine, lambda command=command: command(inst.id, actor("auditor")), PermissionDenied)


def test_commands_on_a_finished_instance_are_refused(engine: Engine) -> None:
    """After the instance ended, every event and admin command is refused and nothing is written."""
    inst = engine.start(WF, "H11", flow_vars(), actor("consumer"))
    engine.fire(inst.id, "refuse", actor("auditor"), {"reason": "不予共享"})
    refused(engine, lambda: engine.fire(inst.id, "approve", actor("auditor"), {}), InstanceNotRunning)
    refused(engine, lambda: engine.suspend(inst.id, actor("supervisor")), InstanceNotRunning)


def test_unknown_workflow_is_refused(engine: Engine) -> None:
    """Starting a workflow that is not loaded is UnknownWorkflow and names the loaded ones."""
    err = refused(engine, lambda: engine.start("gx.nope", "H12", flow_vars(), actor("consumer")), UnknownWorkflow)
    assert WF in str(err)


@pytest.mark.parametrize("text", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{% for x in range(10**9) %}x{% endfor %}",
    "{{ 7 * 7 }}", "<script>alert(1)</script>", "${jndi:ldap://x}", "'; DROP TABLE instance; --",
])
def test_crafted_variables_stay_data(engine: Engine, text: str) -> None:
    """Template and SQL syntax in a business key, variables and payloads is stored as text and rendered
    literally in the notifications, in bounded time."""
    inst = engine.start(WF, text, flow_vars(note=text[:50]), actor("consumer"))
    moved = engine.fire(inst.id, "refuse", actor("auditor"), {"reason": text})
    assert moved.variables["reason"] == text and moved.state == "refused" and moved.business_key == text
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(sa.select(outbox_t.c.template, outbox_t.c.data)).all()
    assert rows  # the assignment went out, with the business key in it
    renderer = TemplateRenderer()
    rendered: list[Any] = []
    cost = measure(lambda: rendered.extend(renderer.render(r.template, json.loads(r.data)) for r in rows))
    assert cost.error is None and cost.bounded()
    assert all(text in r.text for r in rendered)  # shown as written, not evaluated
    assert "<class" not in repr(dump(engine))


@pytest.mark.parametrize("filters", [
    {"limit": "many"}, {"limit": -1}, {"offset": -5}, {"limit": True}, {"status": 3}, {"state": ["review"]},
    {"workflow_id": "x\x00"}, {"business_key_prefix": {"a": 1}}, {"nonsense": 1},
])
def test_bad_listing_filters_are_refused(engine: Engine, filters: dict[str, Any]) -> None:
    """Listing filters of the wrong type or range are PayloadInvalid on both databases, never a storage error."""
    engine.start(WF, "H14", flow_vars(), actor("consumer"))
    refused(engine, lambda: engine.list_instances(**filters), PayloadInvalid)


@pytest.mark.parametrize("variables", [{"provider_dept": 5.5}, {"provider_dept": [1]}, {"x\x00": "y"},
                                       {"provider_dept": "a\x00"}])
def test_bad_search_values_are_refused(engine: Engine, variables: dict[str, Any]) -> None:
    """Searching variables by values that are not text, a whole number or true/false is PayloadInvalid on both
    databases."""
    engine.start(WF, "H15", flow_vars(), actor("consumer"))
    refused(engine, lambda: engine.search(**variables), PayloadInvalid)
