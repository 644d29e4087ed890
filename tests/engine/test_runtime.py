"""Commands of the engine on SQLite and PostgreSQL: start, fire, get, history, listing, typed errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import (
    DuplicateBusinessKey,
    Engine,
    InstanceNotRunning,
    ManualClock,
    PayloadInvalid,
    PermissionDenied,
    TransitionNotAllowed,
    UnknownInstance,
)
from tests.engine.conftest import (
    AUDITOR,
    CONSUMER_ADMIN,
    OTHER_AUDITOR,
    PROVIDER,
    REVIEWER,
    SUPERVISOR,
    flow_vars,
)

WF = "common.test_flow"


def test_start_settles_the_decision_and_waits_at_the_task(engine: Engine) -> None:
    """start records the start and the decision, and stops at the first task with row version 1."""
    inst = engine.start(WF, "K-1", flow_vars(), CONSUMER_ADMIN)
    assert (inst.state, inst.status, inst.row_version) == ("review", "running", 1)
    steps = [(h.event, h.from_state, h.to_state) for h in engine.history(inst.id)]
    assert steps == [("start", None, "route"), ("_decide", "route", "review")]
    assert engine.get(inst.id) == inst


def test_a_decision_can_end_the_instance_at_once(engine: Engine) -> None:
    """A true branch straight to an end state completes the instance inside start."""
    inst = engine.start(WF, "K-fast", flow_vars(fast=True), CONSUMER_ADMIN)
    assert (inst.state, inst.status, inst.outcome) == ("done", "completed", "done")


def test_fire_moves_through_hook_and_decision_to_the_timer_wait(engine: Engine) -> None:
    """approve runs the hook, takes the decision's default and arms the publicity timer, all in one command;
    the task clock stops with no next moment and the procedure clock keeps its due time as its next one."""
    inst = engine.start(WF, "K-2", flow_vars(), CONSUMER_ADMIN)
    after = engine.fire(inst.id, "approve", AUDITOR)
    assert (after.state, after.row_version, after.variables["users"]) == ("publicity", 2, 0)
    clocks = {c.scope: c for c in engine.clocks(inst.id)}
    assert (clocks["task"].status, clocks["task"].next_fire_at) == ("met", None)
    assert (clocks["procedure"].next_kind, clocks["procedure"].next_fire_at) == ("due", clocks["procedure"].due_at)
    pending = [(t.kind, t.state) for t in engine.timers(inst.id) if t.status == "pending"]
    assert pending == [("timer", "publicity")]
    ahead = [(m.scope, m.kind, m.level) for m in engine.schedule(inst.id) if m.pending]
    assert ahead == [("procedure", "due", 0), ("procedure", "escalate", 1)]


def test_fire_saves_payload_fields(engine: Engine) -> None:
    """Fields named in `save` land in the variables; the payload is kept in the history row."""
    inst = engine.start(WF, "K-3", flow_vars(), CONSUMER_ADMIN)
    after = engine.fire(inst.id, "refuse", AUDITOR, {"reason": "依法不予共享"})
    assert (after.status, after.outcome, after.variables["reason"]) == ("completed", "refused", "依法不予共享")
    assert engine.history(inst.id)[-1].payload == {"reason": "依法不予共享"}


def test_a_step_that_changes_no_variable_keeps_them_as_stored(engine: Engine) -> None:
    """A step with nothing to save writes the variables back as they were, the hook's updates included."""
    inst = engine.start(WF, "K-keep", flow_vars(), CONSUMER_ADMIN)
    hooked = engine.fire(inst.id, "approve", AUDITOR)
    objected = engine.fire(inst.id, "object", CONSUMER_ADMIN)
    stored = engine.get(inst.id)
    assert (objected.state, objected.row_version) == ("meeting", hooked.row_version + 1)
    assert stored.variables == objected.variables == hooked.variables and "users" in stored.variables
    assert engine.verify_history(inst.id).ok


def test_event_not_allowed_lists_the_allowed_ones(engine: Engine) -> None:
    """An event that does not leave the state is refused with the events that do."""
    inst = engine.start(WF, "K-4", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(TransitionNotAllowed) as err:
        engine.fire(inst.id, "settle", REVIEWER)
    assert set(err.value.allowed_events) == {"approve", "refuse"}
    assert engine.get(inst.id).row_version == 1


def test_an_auditor_of_another_department_may_not_act(engine: Engine) -> None:
    """The role's department must be the instance's: an auditor of another department is refused, says who may."""
    inst = engine.start(WF, "K-5", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(PermissionDenied) as err:
        engine.fire(inst.id, "approve", OTHER_AUDITOR)
    assert PROVIDER in err.value.allowed[0]
    assert "department" in err.value.reason


def test_a_role_the_actor_lacks_is_refused(engine: Engine) -> None:
    """The consumer's admin may not approve for the provider."""
    inst = engine.start(WF, "K-6", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(PermissionDenied):
        engine.fire(inst.id, "approve", CONSUMER_ADMIN)
    assert engine.get(inst.id).state == "review"


def test_payload_is_validated(engine: Engine) -> None:
    """A required payload field missing, or an undeclared one, is PayloadInvalid naming the field."""
    inst = engine.start(WF, "K-7", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(PayloadInvalid) as missing:
        engine.fire(inst.id, "refuse", AUDITOR, {})
    with pytest.raises(PayloadInvalid) as unknown:
        engine.fire(inst.id, "refuse", AUDITOR, {"reason": "x", "extra": 1})
    assert (missing.value.field, unknown.value.field) == ("reason", "extra")


def test_start_validates_variables(engine: Engine) -> None:
    """A bad department code in the start variables is refused before anything is written."""
    with pytest.raises(PayloadInvalid) as err:
        engine.start(WF, "K-8", flow_vars(provider_dept="123"), CONSUMER_ADMIN)
    assert err.value.field == "provider_dept"
    assert engine.list_instances(workflow_id=WF) == []


def test_business_key_is_unique_per_workflow(engine: Engine) -> None:
    """A second start with the same business key names the instance that has it."""
    first = engine.start(WF, "K-9", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(DuplicateBusinessKey) as err:
        engine.start(WF, "K-9", flow_vars(), CONSUMER_ADMIN)
    assert err.value.instance_id == first.id


def test_unknown_instance(engine: Engine) -> None:
    """get and fire on an id that does not exist raise UnknownInstance."""
    with pytest.raises(UnknownInstance):
        engine.get("nope")
    with pytest.raises(UnknownInstance):
        engine.fire("nope", "approve", AUDITOR)


def test_a_huge_id_or_event_is_named_in_short(engine: Engine) -> None:
    """A megabyte sent as an id or an event comes back in an error of a line, which says how long it was."""
    huge = "x" * 1_000_000
    with pytest.raises(UnknownInstance) as unknown:
        engine.get(huge)
    inst = engine.start(WF, "K-huge", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(TransitionNotAllowed) as refused:
        engine.fire(inst.id, huge, AUDITOR)
    for err in (unknown.value, refused.value):
        assert len(str(err)) < 300 and "1,000,002 characters" in str(err)
    assert refused.value.event == huge and "approve" in str(refused.value)


def test_cancel_suspend_resume(engine: Engine) -> None:
    """A suspended instance refuses events until resumed; a cancelled one refuses them for good."""
    inst = engine.start(WF, "K-10", flow_vars(), CONSUMER_ADMIN)
    engine.suspend(inst.id, SUPERVISOR, "核查")
    with pytest.raises(InstanceNotRunning):
        engine.fire(inst.id, "approve", AUDITOR)
    engine.resume(inst.id, SUPERVISOR)
    engine.cancel(inst.id, SUPERVISOR, "撤销")
    with pytest.raises(InstanceNotRunning) as err:
        engine.fire(inst.id, "approve", AUDITOR)
    assert err.value.status == "cancelled"
    assert [h.event for h in engine.history(inst.id)][-3:] == ["_suspend", "_resume", "_cancel"]
    assert all(c.stopped_at is not None for c in engine.clocks(inst.id))
    # a step left unfinished was not met on time: it is neither on time nor late in the figures
    assert {c.status for c in engine.clocks(inst.id)} == {"cancelled"}


def test_a_step_late_before_its_instance_is_cancelled_stays_breached(engine: Engine, clock: ManualClock) -> None:
    """Cancelling does not wipe out a breach: the late task clock ends breached, the others cancelled."""
    inst = engine.start(WF, "K-10b", flow_vars(), CONSUMER_ADMIN)
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    clock.set(task.due_at + timedelta(hours=1))
    engine.tick()
    engine.cancel(inst.id, SUPERVISOR, "撤销")
    assert {c.scope: c.status for c in engine.clocks(inst.id)} == {"task": "breached", "procedure": "cancelled"}


def test_only_supervisors_and_the_bureau_cancel(engine: Engine) -> None:
    """An auditor may not cancel an instance."""
    inst = engine.start(WF, "K-11", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(PermissionDenied):
        engine.cancel(inst.id, AUDITOR)
    assert engine.get(inst.id).status == "running"


def test_listing_and_search(engine: Engine) -> None:
    """Instances are listed by workflow, state and status, and found by a variable's value."""
    a = engine.start(WF, "L-1", flow_vars(), CONSUMER_ADMIN)
    b = engine.start(WF, "L-2", flow_vars(fast=True), CONSUMER_ADMIN)
    assert [i.id for i in engine.list_instances(workflow_id=WF, status="running")] == [a.id]
    assert [i.id for i in engine.list_instances(state="done")] == [b.id]
    assert {i.id for i in engine.search(provider_dept=PROVIDER)} == {a.id, b.id}
    assert engine.find(WF, "L-2").id == b.id
    assert engine.allowed_events(a.id, AUDITOR) == ("approve", "refuse")
    assert engine.allowed_events(a.id, REVIEWER) == ()


def test_bad_arguments_are_typed_errors(engine: Engine) -> None:
    """A naive moment for tick and an unknown listing filter are PayloadInvalid naming the argument."""
    from datetime import datetime

    with pytest.raises(PayloadInvalid) as naive:
        engine.tick(datetime(2026, 3, 2, 10, 0))
    with pytest.raises(PayloadInvalid) as unknown:
        engine.list_instances(colour="red")
    assert (naive.value.field, unknown.value.field) == ("now", "colour")


def test_a_clock_answering_naive_moments_is_named(engine: Engine) -> None:
    """A backend clock that returns a naive datetime gets PayloadInvalid naming the engine's clock, on start, and
    nothing is written."""
    from datetime import datetime

    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2026, 3, 2, 10, 0)

    engine.clock = NaiveClock()
    with pytest.raises(PayloadInvalid) as naive:
        engine.start(WF, "K-naive", flow_vars(), CONSUMER_ADMIN)
    assert "the engine's clock" in str(naive.value)
    assert engine.list_instances(workflow_id=WF) == []


def test_a_clock_set_back_never_records_a_step_before_the_last_one(engine: Engine, clock: ManualClock) -> None:
    """With the clock set back two days, a step is recorded at the previous step's time: the history of an
    instance never runs backwards, its chain verifies, and its task clock stops at that time, not before it."""
    inst = engine.start(WF, "K-back", flow_vars(), CONSUMER_ADMIN)
    started = clock.now()
    clock.set(started - timedelta(days=2))
    after = engine.fire(inst.id, "approve", AUDITOR)
    times = [h.at for h in engine.history(inst.id)]
    task = next(c for c in engine.clocks(inst.id) if c.scope == "task")
    assert times == sorted(times) and times[-1] == started
    assert after.updated_at == started and task.stopped_at == started
    assert engine.verify_history(inst.id).ok
