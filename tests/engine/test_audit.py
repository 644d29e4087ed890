"""The audit of every history chain in a database, on shipped workflows, SQLite and PostgreSQL: each instance is
checked once however the walk is paged, and a changed, removed, reordered or doubled step is found in its
instance alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine import Engine, HistoryKeyring, ManualClock
from engine.audit import AuditFinding, AuditReport, audit_histories, keys_in_use_since
from engine.history_keys import key_id
from storage.sql import SqlInstanceStore
from tests.engine.conftest import OpenEngine
from tests.engine.test_history_keys import _rewrite_unkeyed
from tests.workflows.conftest import CONSUMER, PROVIDER, STAFF

REQUEST, QUALITY = "gx.data_request", "gx.data_quality"
KEY = bytes(range(7, 39))


def request_cases(engine: Engine, count: int, prefix: str = "GX-REQ") -> list[str]:
    """`count` data requests, each passed by the bureau (3 steps); every other one approved too (4 or more)."""
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    ids = []
    for n in range(count):
        clock.advance(timedelta(minutes=7))
        inst = engine.start(REQUEST, f"{prefix}-{n}", {
            "consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": f"GX-RES-{n:04}",
            "resource_name": "企业登记信息", "purpose": "企业开办一网通办", "sharing_type": "conditional"},
            STAFF["consumer_admin"].actor)
        engine.fire(inst.id, "pass", STAFF["bureau"].actor)
        if n % 2:
            engine.fire(inst.id, "approve", STAFF["provider_auditor"].actor, {"conditions": "仅限本部门使用"})
        ids.append(inst.id)
    return ids


def quality_cases(engine: Engine, count: int) -> list[str]:
    """`count` data-quality objections, just received (their start steps only)."""
    receipt = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "GX-RES-0001",
               "data_received": "2026-10-08"}
    return [engine.start(QUALITY, f"GX-DQ-{n}", receipt, STAFF["consumer_admin"].actor).id for n in range(count)]


def all_steps(engine: Engine, ids: list[str]) -> int:
    return sum(len(engine.history(i)) for i in ids)


def run_sql(engine: Engine, statement: str, **params: object) -> None:
    store = engine.store
    assert isinstance(store, SqlInstanceStore)
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def audit(engine: Engine, keyring: HistoryKeyring | None = None,
          **options: object) -> tuple[AuditReport, list[AuditFinding]]:
    """The audit's counts and its findings, in the order it made them."""
    keys = keyring.keys if keyring is not None else None
    findings: list[AuditFinding] = []
    report = audit_histories(engine.store, keys, keys_in_use_since(engine.store),  # type: ignore[arg-type]
                             found=findings.append, **options)  # type: ignore[arg-type]
    return report, findings


def of_kind(findings: list[AuditFinding], kind: str) -> list[AuditFinding]:
    return [f for f in findings if f.kind == kind]


@pytest.mark.parametrize("batch", [1, 2, 3, 4, 500])
def test_every_instance_is_checked_once_however_the_walk_is_paged(open_engine: OpenEngine, batch: int) -> None:
    """Pages of `batch` instances give every instance exactly once, in id order, with all its steps in order;
    the audit counts them all and finds nothing in intact chains."""
    engine = open_engine()
    ids = request_cases(engine, 4) + quality_cases(engine, 2)
    walked = list(engine.store.histories(batch=batch))
    report, findings = audit(engine, batch=batch)
    assert [h.instance_id for h in walked] == sorted(ids)
    assert all(list(h.steps) == engine.history(h.instance_id) for h in walked)
    assert all(h.last_hash == engine.get(h.instance_id).history_hash for h in walked)
    assert (report.instances, report.steps, report.intact) == (6, all_steps(engine, ids), 6)
    assert findings == [] and (report.sealed, report.altered, report.ok) == (0, 0, True)


def test_progress_is_reported_as_the_walk_goes(open_engine: OpenEngine) -> None:
    """The progress callback sees the counts grow every `progress_every` instances."""
    engine = open_engine()
    request_cases(engine, 5)
    seen: list[int] = []
    audit(engine, batch=2, progress=lambda r: seen.append(r.instances), progress_every=2)
    assert seen == [2, 4]


def test_steps_written_while_the_walk_goes_on_break_no_chain(open_engine: OpenEngine) -> None:
    """Commands that write steps between the pages, to instances read already and to instances not yet read, make
    no chain look broken, and every instance is still checked once."""
    engine = open_engine()
    ids = request_cases(engine, 6)
    waiting = [i for i in sorted(ids) if engine.get(i).state == "provider_approval"]  # passed, not approved
    approver = STAFF["provider_auditor"].actor

    def approve_one(_report: AuditReport) -> None:
        if waiting:
            engine.fire(waiting.pop(), "approve", approver, {"conditions": "仅限本部门使用"})

    report, findings = audit(engine, batch=2, progress=approve_one, progress_every=1)
    assert waiting == [] and findings == []
    assert (report.instances, report.intact) == (6, 6)


def test_an_edited_step_is_found_in_its_instance_alone(open_engine: OpenEngine) -> None:
    """A payload changed by hand in one instance: that instance alone is named, at that step, with its workflow
    and business key; the others are counted intact."""
    engine = open_engine()
    ids = request_cases(engine, 5)
    target = ids[3]
    run_sql(engine, "UPDATE history SET payload = :p WHERE instance_id = :i AND seq = 4",
            p='{"conditions": "不限用途"}', i=target)
    report, findings = audit(engine, batch=2)
    [found] = findings
    assert (found.instance_id, found.workflow_id, found.business_key) == (target, REQUEST, "GX-REQ-3")
    assert (found.report.broken_seq, found.report.problem) == (4, "its content was changed after it was written")
    assert found.step is not None and found.step.seq == 4 and found.step.payload == {"conditions": "不限用途"}
    assert found.kind == "altered"
    assert (report.instances, report.intact, report.altered, report.not_checked) == (5, 4, 1, 0)


#: Ways to break a chain of 3 steps or more, with the step it breaks at and why.
TAMPERING = {
    "removed": (["DELETE FROM history WHERE instance_id = :i AND seq = 2"], 3, "step 2 is missing"),
    "last removed": (["DELETE FROM history WHERE instance_id = :i AND seq = 3"], 2,
                     "the instance's last step is missing"),
    # steps 2 and 3 trade places: their keys and their step numbers
    "reordered": (["UPDATE history SET seq = -1, hid = -hid WHERE instance_id = :i AND seq = 2",
                   "UPDATE history SET seq = 2, hid = hid - 1 WHERE instance_id = :i AND seq = 3",
                   "UPDATE history SET seq = 3, hid = 1 - hid WHERE instance_id = :i AND seq = -1"], 2,
                  "does not follow the step before it"),
    # their step numbers only: read in the order of their keys, the second step carries number 3
    "renumbered": (["UPDATE history SET seq = -1 WHERE instance_id = :i AND seq = 2",
                    "UPDATE history SET seq = 2 WHERE instance_id = :i AND seq = 3",
                    "UPDATE history SET seq = 3 WHERE instance_id = :i AND seq = -1"], 3, "step 2 is missing"),
    "doubled": (["INSERT INTO history (hid, instance_id, seq, at, actor, event, from_state, to_state, payload, "
                 "prev_hash, hash, actor_role, actor_department, key_id) SELECT hid + 1, instance_id, 4, at, actor, "
                 "event, from_state, to_state, payload, prev_hash, hash, actor_role, actor_department, key_id "
                 "FROM history WHERE instance_id = :i AND seq = 3"], 4, "does not follow the step before it"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_a_removed_reordered_or_doubled_step_is_found(open_engine: OpenEngine, kind: str) -> None:
    """Each is named in the instance it was done to, at the step where the chain breaks."""
    engine = open_engine()
    ids = request_cases(engine, 4)
    target = ids[2]  # passed, not approved: 3 steps
    statements, seq, problem = TAMPERING[kind]
    for statement in statements:
        run_sql(engine, statement, i=target)
    report, findings = audit(engine, batch=3)
    assert [(f.kind, f.instance_id, f.report.broken_seq, f.report.problem) for f in findings] == [
        ("altered", target, seq, problem)]
    assert (report.instances, report.altered) == (4, 1)


def test_a_number_given_again_after_every_step_was_removed_reads_no_step_twice(open_engine: OpenEngine) -> None:
    """Every step of the newest instance removed: its number (one past the highest in the history's keys) goes
    to the next instance. The keys then hold the new instance's steps in the range of both numbers, yet each
    history reads its own: the emptied one none, which the audit reports, the new one its own, intact."""
    engine = open_engine()
    [emptied] = request_cases(engine, 1)
    run_sql(engine, "DELETE FROM history WHERE instance_id = :i", i=emptied)
    [new] = request_cases(engine, 1, prefix="GX-NEXT")
    report, findings = audit(engine)
    assert engine.history(emptied) == [] and [s.seq for s in engine.history(new)] == [1, 2, 3]
    assert [(f.instance_id, f.report.problem) for f in findings] == [(emptied, "the instance's last step is missing")]
    assert (report.instances, report.intact, report.altered) == (2, 1, 1)


def test_the_workflow_filter_walks_that_workflows_instances_only(open_engine: OpenEngine) -> None:
    """Only the workflow's instances are counted, and a broken chain of another workflow is not its finding."""
    engine = open_engine()
    requests = request_cases(engine, 3)
    quality = quality_cases(engine, 4)
    run_sql(engine, "UPDATE history SET actor = 'mallory' WHERE instance_id = :i AND seq = 1", i=requests[0])
    only_quality, quality_findings = audit(engine, workflow_id=QUALITY, batch=3)
    only_requests, request_findings = audit(engine, workflow_id=REQUEST, batch=3)
    assert (only_quality.instances, only_quality.steps, quality_findings) == (4, all_steps(engine, quality), [])
    assert only_requests.instances == 3 and [f.instance_id for f in request_findings] == [requests[0]]


def test_sealed_histories_with_and_without_the_keyring(open_engine: OpenEngine) -> None:
    """Chains sealed with a key verify with the keyring; without it each is reported not checked from its first
    sealed step, naming the key, and none is called altered. Chains written before the keys stay plain and
    intact."""
    plain = request_cases(open_engine(), 2, "PLAIN")
    keyring = HistoryKeyring.of(KEY)
    keyed = open_engine(keyring)
    sealed = request_cases(keyed, 3, "SEALED")
    with_keys, none_found = audit(keyed, keyring)
    without, not_checked = audit(keyed)
    assert (with_keys.instances, with_keys.intact, none_found) == (5, 5, [])
    assert with_keys.sealed == all_steps(keyed, sealed) and with_keys.steps == all_steps(keyed, plain + sealed)
    assert (without.altered, without.not_checked, without.intact, without.missing_keys) == (0, 3, 2, {key_id(KEY)})
    assert sorted((f.kind, f.instance_id, f.report.broken_seq, f.report.missing_key) for f in not_checked) == sorted(
        ("not_checked", i, 1, key_id(KEY)) for i in sealed)


def test_a_sealed_chain_rewritten_without_the_key(open_engine: OpenEngine) -> None:
    """Rewritten from step 2 keeping the key id: altered at 2. Rewritten whole and unsealed: intact, but its
    unsealed steps dated after the keys came into use are counted as a warning."""
    keyring = HistoryKeyring.of(KEY)
    engine = open_engine(keyring)
    ids = request_cases(engine, 3)
    _rewrite_unkeyed(engine, ids[0], drop_key=False, step=2)
    _rewrite_unkeyed(engine, ids[1], drop_key=True, step=1)
    report, findings = audit(engine, keyring)
    assert [(f.instance_id, f.report.broken_seq) for f in of_kind(findings, "altered")] == [(ids[0], 2)]
    assert [(f.instance_id, f.report.unsealed_since_keys) for f in of_kind(findings, "unsealed_since_keys")] == [
        (ids[1], len(engine.history(ids[1])))]
    assert (report.intact, report.altered, report.unsealed_since_keys) == (2, 1, 1)
