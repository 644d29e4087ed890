"""Which role an actor acts in: the first of the allowed roles it holds, bound as the role is; `system` for the
engine; what `authorise`, `authorise_start` and `authorise_admin` answer besides refusing."""

from __future__ import annotations

import pytest

from engine import Actor
from engine.authz import acting_role, authorise, authorise_admin, authorise_start, may_act_in
from engine.errors import PermissionDenied
from engine.loader import load_text
from engine.spec import WorkflowSpec
from tests.engine.conftest import CONSUMER, FLOW, OTHER, PROVIDER, flow_vars

SPEC: WorkflowSpec = load_text(FLOW, "test_flow.yaml")
BOTH = ("consumer.data_admin", "provider.data_auditor")
ADMIN_BASES = ("bureau_reviewer", "data_supervisor")


@pytest.mark.parametrize(("actor", "roles", "expected"), [
    (Actor("a", frozenset({"data_admin", "data_auditor"}), PROVIDER), BOTH, "provider.data_auditor"),
    (Actor("b", frozenset({"data_admin", "data_auditor"}), CONSUMER), BOTH, "consumer.data_admin"),
    (Actor("c", frozenset({"data_admin", "data_auditor"}), OTHER), BOTH, None),
    (Actor("d", frozenset({"bureau_reviewer", "data_supervisor"})), ("bureau.data_supervisor", "bureau.reviewer"),
     "bureau.data_supervisor"),
    (Actor("e", frozenset({"bureau_reviewer", "data_supervisor"})), ("bureau.reviewer", "bureau.data_supervisor"),
     "bureau.reviewer"),
    (Actor("f", frozenset({"data_auditor"}), PROVIDER), ("no.such_role", "provider.data_auditor"),
     "provider.data_auditor"),
    (Actor.system(), BOTH, "system"),
    (Actor.system(), (), "system"),
], ids=["bound to the provider", "bound to the consumer", "another department", "listed first", "order kept",
        "undeclared role skipped", "the engine", "the engine, no role"])
def test_acting_role_is_the_first_allowed_role_the_actor_holds(actor: Actor, roles: tuple[str, ...],
                                                                expected: str | None) -> None:
    """The answer is the first listed role the actor holds in its bound department, and agrees with may_act_in."""
    found = acting_role(actor, SPEC, roles, flow_vars())
    assert found == expected
    assert may_act_in(actor, SPEC, roles, flow_vars()) is (expected is not None)


def test_authorise_answers_the_role_and_refuses_without_one() -> None:
    """authorise returns the acting role; an actor of another department gets PermissionDenied."""
    auditor = Actor("bob", frozenset({"data_auditor"}), PROVIDER)
    stranger = Actor("carol", frozenset({"data_auditor"}), OTHER)
    found = authorise(auditor, SPEC, BOTH, flow_vars(), "approve")
    with pytest.raises(PermissionDenied) as refused:
        authorise(stranger, SPEC, BOTH, flow_vars(), "approve")
    assert found == "provider.data_auditor"
    assert refused.value.actor == "carol"


def test_authorise_start_answers_the_start_role_or_system() -> None:
    """A consumer's data admin starts as consumer.data_admin; the engine as system."""
    admin = Actor("alice", frozenset({"data_admin"}), CONSUMER)
    assert authorise_start(SPEC, admin, flow_vars()) == "consumer.data_admin"
    assert authorise_start(SPEC, Actor.system(), flow_vars()) == "system"


def test_authorise_admin_answers_the_administering_role() -> None:
    """A supervisor administers as the workflow's bureau.data_supervisor; the engine as system."""
    supervisor = Actor("erin", frozenset({"data_supervisor"}), OTHER)
    assert authorise_admin(supervisor, SPEC, ADMIN_BASES, flow_vars(), "cancel") == "bureau.data_supervisor"
    assert authorise_admin(Actor.system(), SPEC, ADMIN_BASES, flow_vars(), "cancel") == "system"
