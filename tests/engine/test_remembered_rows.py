"""A command on an instance this process committed last takes the row it remembers instead of reading it
(storage.remembered), and never acts on one another writer moved on: on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine import Engine, InstanceNotRunning, RowOutOfDate
from storage import open_store
from storage.tx import SqlStoreTx
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, SUPERVISOR, MakeEngine, flow_vars

WF = "common.test_flow"


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the instance rows the commands read from the database, from now on."""
    read, seen = SqlStoreTx._instance, []

    def counted(self: SqlStoreTx, r: Any) -> Any:
        seen.append(r[0])
        return read(self, r)

    monkeypatch.setattr(SqlStoreTx, "_instance", counted)
    return seen


def _counting_hook(engine: Engine, updates: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Register count_users on `engine`, answering `updates` ({"users": 0} unless given); the variables of each
    call."""
    calls: list[dict[str, Any]] = []

    def hook(variables: dict[str, Any]) -> dict[str, Any]:
        calls.append(dict(variables))
        return {"users": 0} if updates is None else updates

    engine.register_hook("count_users", hook)
    return calls


def test_a_command_on_the_row_this_process_committed_does_not_read_it(
        make_engine: MakeEngine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a start, the next commands take the row the store remembers; a store opened with remember=0 reads
    it every time. Both end in the same state, with the same steps, each history intact."""
    remembering = make_engine()
    reading = make_engine()
    reading.store.close()
    reading.store = open_store(db_url, remember=0)
    seen = _reads(monkeypatch)
    ends, reads = [], []
    for engine, key in ((remembering, "R-1"), (reading, "R-2")):
        seen.clear()
        inst = engine.start(WF, key, flow_vars(), CONSUMER_ADMIN)
        engine.fire(inst.id, "approve", AUDITOR)  # on through the hook to the publicity
        moved = engine.fire(inst.id, "object", CONSUMER_ADMIN)
        reads.append(len(seen))
        ends.append((moved.state, moved.row_version, moved.history_seq, [s.event for s in engine.history(inst.id)],
                     engine.verify_history(inst.id).ok))
    assert ends[0] == ends[1] and ends[0][0] == "meeting" and ends[0][4]
    assert reads == [0, 2]  # the two commands after the start: each read its row only without memory
    assert reading.store.remembered is None  # type: ignore[attr-defined]


def test_an_event_only_the_stored_row_allows_is_taken_on_it(make_engine: MakeEngine) -> None:
    """Another process moves the instance on to the publicity; this one remembers it at the review, where
    `object` is not allowed. The refusal is checked against the stored row, which allows it, and the command
    runs again on that row: the objection is taken."""
    here, there = make_engine(), make_engine()
    iid = here.start(WF, "R-3", flow_vars(), CONSUMER_ADMIN).id
    assert there.fire(iid, "approve", AUDITOR).state == "publicity"
    moved = here.fire(iid, "object", CONSUMER_ADMIN)
    steps = here.history(iid)
    assert moved.state == "meeting" and steps[-1].event == "object" and steps[-1].from_state == "publicity"
    assert moved.history_seq == len(steps) and here.verify_history(iid).ok


def test_an_event_only_the_remembered_row_allows_is_refused_as_stored_and_calls_no_hook(
        make_engine: MakeEngine) -> None:
    """Another process refused the request; this one remembers it at the review, where `approve` leads to an
    automatic step with a hook. The hook is not called on the remembered row (it is checked first), and the
    command, run again on the stored row, is refused for the instance that has ended. Nothing is written."""
    here, there = make_engine(), make_engine()
    calls = _counting_hook(here)
    iid = here.start(WF, "R-4", flow_vars(), CONSUMER_ADMIN).id
    refused = there.fire(iid, "refuse", AUDITOR, {"reason": "不予共享"})
    with pytest.raises(InstanceNotRunning):
        here.fire(iid, "approve", AUDITOR)
    assert calls == []
    after = here.get(iid)
    assert (after.state, after.row_version, after.history_seq) == (refused.state, refused.row_version,
                                                                    refused.history_seq)


def test_a_hook_is_called_once_on_the_stored_row(make_engine: MakeEngine) -> None:
    """Another process suspends and resumes the instance (its state is the same, its row two versions on); the
    approval here calls the automatic step's hook once, on the run that read the stored row."""
    here, there = make_engine(), make_engine()
    calls = _counting_hook(here)
    iid = here.start(WF, "R-5", flow_vars(), CONSUMER_ADMIN).id
    there.suspend(iid, SUPERVISOR, "等待材料")
    there.resume(iid, SUPERVISOR)
    moved = here.fire(iid, "approve", AUDITOR)
    assert len(calls) == 1 and moved.state == "publicity"
    events = [s.event for s in here.history(iid)]
    assert events.index("_resume") < events.index("approve") and here.verify_history(iid).ok


def test_a_record_the_caller_changed_is_not_what_the_next_command_sees(make_engine: MakeEngine) -> None:
    """The record a command hands back is the caller's: changing its variables changes nothing the store keeps.
    `users` set on the returned record would route the approval to the meeting; stored, it is unset."""
    engine = make_engine()
    _counting_hook(engine, updates={})
    inst = engine.start(WF, "R-6", flow_vars(), CONSUMER_ADMIN)
    inst.variables["users"] = 5
    assert engine.fire(inst.id, "approve", AUDITOR).state == "publicity"


def _put_key_on(engine: Engine, iid: str, key: str) -> Callable[[], None]:
    def command() -> None:
        with engine.store.transaction() as tx:
            assert tx.get_instance(iid) is not None
            tx.put_idempotency(key, "digest", iid, "{}", engine.clock.now())
    return command


def test_a_command_that_does_not_write_the_row_it_took_commits_only_on_the_stored_row(
        make_engine: MakeEngine) -> None:
    """A transaction that takes a remembered row and writes other rows only (as a timer with nothing left to do
    does) commits when the row is still the stored one, and when another process moved it on, is undone with
    RowOutOfDate."""
    here, there = make_engine(), make_engine()
    iid = here.start(WF, "R-7", flow_vars(), CONSUMER_ADMIN).id
    _put_key_on(here, iid, "current")()
    here.fire(iid, "approve", AUDITOR)  # remembered again
    there.suspend(iid, SUPERVISOR, "等待材料")
    with pytest.raises(RowOutOfDate):
        _put_key_on(here, iid, "stale")()
    with here.store.transaction() as tx:
        assert tx.get_idempotency("current") is not None and tx.get_idempotency("stale") is None
