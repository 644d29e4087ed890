"""Hostile or malformed input at the engine's API gets a typed error naming the field, never a raw Python or
driver error: lone surrogates, values JSON cannot hold, filters on names that are no variable's, huge limits."""

from __future__ import annotations

import pytest

from engine import Engine, ManualClock, PayloadInvalid, UnknownInstance
from tests.engine.conftest import CONSUMER_ADMIN, SUPERVISOR, flow_vars

WF = "common.test_flow"
LONE = "a\ud800b"  # what a JSON body's "a\\ud800b" decodes to


def test_a_lone_surrogate_in_a_variable_is_refused(engine: Engine) -> None:
    """A text variable holding a lone surrogate is PayloadInvalid naming it; nothing is started."""
    with pytest.raises(PayloadInvalid) as err:
        engine.start(WF, "H-1", flow_vars(reason=LONE), CONSUMER_ADMIN)
    assert err.value.field == "reason"
    assert engine.list_instances(workflow_id=WF) == []


@pytest.mark.parametrize("key", ["business_key", "idempotency_key"])
def test_a_lone_surrogate_in_a_key_is_refused(engine: Engine, key: str) -> None:
    """Business keys and idempotency keys with a lone surrogate are PayloadInvalid naming the key."""
    kwargs = {"idempotency_key": "K\udc80"} if key == "idempotency_key" else {}
    business_key = "K\ud800" if key == "business_key" else "H-2"
    with pytest.raises(PayloadInvalid) as err:
        engine.start(WF, business_key, flow_vars(), CONSUMER_ADMIN, **kwargs)
    assert err.value.field == key


def test_a_lone_surrogate_as_an_instance_id_is_unknown(engine: Engine) -> None:
    """get, history and fire answer UnknownInstance for an id no instance can have."""
    for call in (lambda: engine.get("\ud800"), lambda: engine.history("\ud800"),
                 lambda: engine.fire("\ud800", "approve", CONSUMER_ADMIN)):
        with pytest.raises(UnknownInstance):
            call()


def test_an_admin_reason_must_be_a_bounded_text(engine: Engine) -> None:
    """A reason that is not text, holds a lone surrogate or runs to megabytes is refused, and the instance stays
    running with no step recorded."""
    inst = engine.start(WF, "H-3", flow_vars(), CONSUMER_ADMIN)
    for reason in ({"a": 1}, LONE, "x" * 10_000_000):
        with pytest.raises(PayloadInvalid) as err:
            engine.suspend(inst.id, SUPERVISOR, reason)  # type: ignore[arg-type]
        assert err.value.field == "reason"
    assert engine.get(inst.id).status == "running"
    assert [h.event for h in engine.history(inst.id)] == ["start", "_decide"]


def test_a_value_json_cannot_hold_is_named(engine: Engine) -> None:
    """bytes as a variable's value is 'a value JSON can hold', naming the field, not a size complaint."""
    with pytest.raises(PayloadInvalid) as err:
        engine.start(WF, "H-4", flow_vars(reason=b"abc"), CONSUMER_ADMIN)
    assert err.value.field == "reason"
    assert "JSON can hold" in str(err.value)


def test_search_compares_typed_values(engine: Engine) -> None:
    """search(fast=False) finds the instance whose fast is false; the text "false" and the number 0 do not."""
    inst = engine.start(WF, "H-5", flow_vars(users=0), CONSUMER_ADMIN)
    assert [i.id for i in engine.search(fast=False)] == [inst.id]
    assert engine.search(fast="false") == []
    assert engine.search(fast=0) == []
    assert engine.search(fast=True) == []


def test_search_refuses_names_that_are_no_variable(engine: Engine) -> None:
    """A name with JSON-path characters is PayloadInvalid (not a database outage); with workflow_id, a name the
    workflow does not declare is refused with the closest declared name; without, one no loaded workflow
    declares."""
    with pytest.raises(PayloadInvalid) as path:
        engine.search(**{'purpose"[0': "x"})
    with pytest.raises(PayloadInvalid) as undeclared:
        engine.search(workflow_id=WF, provider_department="x")
    with pytest.raises(PayloadInvalid) as anywhere:
        engine.search(colour="red")
    assert path.value.field == "variable name 'purpose\"[0'"
    assert "did you mean 'provider_dept'?" in str(undeclared.value)
    assert anywhere.value.field == "variable name 'colour'"


def test_a_limit_beyond_any_page_is_refused(engine: Engine) -> None:
    """limit=10**30 is PayloadInvalid, not an OverflowError from the driver."""
    with pytest.raises(PayloadInvalid) as err:
        engine.list_instances(limit=10**30)
    assert err.value.field == "limit"


@pytest.mark.parametrize(("actor_id", "roles"), [("nobody", {"system"}), ("system", {"bureau_reviewer"}),
                                                 ("system", set())])
def test_no_caller_can_claim_the_engines_identity(actor_id: str, roles: set[str]) -> None:
    """The role and the id `system` belong to Actor.system() alone: a person claiming either is refused."""
    from engine import Actor

    with pytest.raises(PayloadInvalid) as err:
        Actor(actor_id, frozenset(roles))
    assert err.value.field == "actor"
    assert Actor.system().roles == frozenset({"system"})


def test_idempotency_keys_belong_to_their_actor(engine: Engine) -> None:
    """Two departments' data administrators may both use the key `req-123`: each gets its own instance, and a
    retry by each answers its own first result; the same actor reusing the key for another command conflicts."""
    from engine import Actor, IdempotencyConflict
    from tests.engine.conftest import OTHER

    other_admin = Actor("carol", frozenset({"data_admin"}), OTHER)
    mine = engine.start(WF, "I-1", flow_vars(), CONSUMER_ADMIN, idempotency_key="req-123")
    theirs = engine.start(WF, "I-2", flow_vars(consumer_dept=OTHER), other_admin, idempotency_key="req-123")
    assert mine.id != theirs.id
    again = engine.start(WF, "I-2", flow_vars(consumer_dept=OTHER), other_admin, idempotency_key="req-123")
    assert again.id == theirs.id
    with pytest.raises(IdempotencyConflict) as err:
        engine.start(WF, "I-3", flow_vars(), CONSUMER_ADMIN, idempotency_key="req-123")
    assert "req-123" in str(err.value)


def test_overdue_of_one_workflow_is_not_crowded_out_by_others(engine: Engine, clock: ManualClock) -> None:
    """Three cases of another workflow, more overdue, do not take the places of `overdue(limit=1, workflow_id=...)`:
    the one late case of the workflow asked for is found."""
    from datetime import timedelta

    from tests.engine.conftest import FLOW

    engine.add_definition(FLOW.replace("common.test_flow", "common.other_flow"), "other_flow.yaml")
    for n in range(3):
        engine.start("common.other_flow", f"O-{n}", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=1))
    mine = engine.start(WF, "O-mine", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=60))
    found = engine.overdue(limit=1, workflow_id=WF)
    assert [item.instance.id for item in found] == [mine.id]
