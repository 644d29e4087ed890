"""The names a listing may filter on: a workflow, state or status no instance could have is refused, since a typo
would match nothing and a supervisor's screen would read "none overdue"."""

from __future__ import annotations

from typing import Any

from engine.definitions import stored_spec
from engine.errors import PayloadInvalid, UnknownWorkflow, WorkflowError
from engine.validation.reader import did_you_mean

#: Every status an instance can have.
STATUSES = ("running", "completed", "cancelled", "suspended")


def known_states(definitions: Any, store: Any) -> dict[str, set[str]]:
    """Workflow id -> the states of every version the files or the database hold (the database keeps the
    versions of workflows whose files are gone, and their instances are listed still)."""
    states: dict[str, set[str]] = {m.spec.id: set(m.spec.states) for m in definitions}
    loaded = {(m.spec.id, m.spec.content_hash) for m in definitions}
    stored_definitions = getattr(store, "stored_definitions", None)  # the InstanceStore protocol need not keep them
    for stored in stored_definitions() if stored_definitions is not None else ():
        known = states.setdefault(stored.workflow_id, set())
        if (stored.workflow_id, stored.version) in loaded:
            continue  # the files' own version: its states are in already, without parsing it again
        try:
            known.update(stored_spec(stored)[0].states)
        except WorkflowError:  # a stored version that no longer loads: its id still counts
            continue
    return states


def check_filters(definitions: Any, store: Any, where: str, *, workflow_id: str | None = None,
                  state: str | None = None, status: str | None = None) -> None:
    """Refuse a status that is none of STATUSES, a workflow neither loaded nor kept in the database
    (UnknownWorkflow), and a state no version of that workflow (or of any, without one) has (PayloadInvalid)."""
    if status is not None and status not in STATUSES:
        raise PayloadInvalid("status", f"one of {', '.join(STATUSES)}{did_you_mean(status, STATUSES)}", status,
                             where=where)
    if state is None and (workflow_id is None or workflow_id in definitions):
        return  # nothing to look up: the common case reads no stored version
    states = known_states(definitions, store)
    if workflow_id is not None and workflow_id not in states:
        raise UnknownWorkflow(workflow_id, None, sorted(states))
    if state is not None:
        known = states[workflow_id] if workflow_id is not None else set().union(*states.values())
        whose = f"a state of {workflow_id}" if workflow_id is not None else "a state of some workflow"
        if state not in known:
            raise PayloadInvalid("state", whose + did_you_mean(state, known), state, where=where)


__all__ = ["STATUSES", "check_filters", "known_states"]
