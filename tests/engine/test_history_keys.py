"""History keys: steps sealed with an HMAC cannot be rewritten consistently by whoever can only write the tables."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import Engine, HistoryKeyring, HistoryKeysRequired, ManualClock
from engine.errors import HistoryKeysInvalid
from engine.history import step_hash
from engine.history_keys import add_new_key, key_id
from storage.tables import history_key_t, history_t, instance_t
from tests.engine.conftest import AUDITOR, CONSUMER_ADMIN, REVIEWER, MakeEngine, flow_vars

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))


def _case(engine: Engine, key: str) -> str:
    inst = engine.start("common.test_flow", key, flow_vars(), CONSUMER_ADMIN)
    engine.fire(inst.id, "refuse", AUDITOR, {"reason": "原始理由"})
    return inst.id


def _rewrite_unkeyed(engine: Engine, instance_id: str, *, drop_key: bool, step: int) -> None:
    """What a forger who can write the tables but has no key does: change a step's payload and recompute the chain
    from it with plain SHA-256 (the published algorithm), the instance's last hash included."""
    steps = engine.history(instance_id)
    prev = steps[step - 2].hash if step > 1 else "0" * 64
    with engine.store.engine.begin() as conn:  # type: ignore[attr-defined]
        for h in steps[step - 1:]:
            payload = {"reason": "改过的理由"} if h.seq == step else h.payload
            digest = step_hash(prev, h.instance_id, h.seq, h.at, h.actor, h.event, h.from_state, h.to_state, payload,
                               h.actor_role, h.actor_department)
            values: dict[str, object] = {"payload": json.dumps(payload, ensure_ascii=False), "prev_hash": prev,
                                         "hash": digest}
            if drop_key:
                values["key_id"] = None
            conn.execute(sa.update(history_t).where((history_t.c.instance_id == instance_id)
                                                    & (history_t.c.seq == h.seq)).values(**values))
            prev = digest
        conn.execute(sa.update(instance_t).where(instance_t.c.id == instance_id).values(history_hash=prev))


def test_a_keyed_engine_seals_every_step_and_lists_its_key(make_engine: MakeEngine) -> None:
    """Each step names the sealing key and its hash is the HMAC under it; the key's id is listed in the database."""
    keyring = HistoryKeyring.of(KEY_A)
    engine = make_engine(history_keys=keyring)
    iid = _case(engine, "K-1")
    steps = engine.history(iid)
    report = engine.verify_history(iid)
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        listed = [r.id for r in conn.execute(sa.select(history_key_t))]
    assert {h.key_id for h in steps} == {key_id(KEY_A)}
    first = steps[0]
    assert first.hash != step_hash(first.prev_hash, iid, 1, first.at, first.actor, first.event, first.from_state,
                                   first.to_state, first.payload, first.actor_role, first.actor_department)
    assert (report.ok, report.sealed, report.steps) == (True, len(steps), len(steps))
    assert listed == [key_id(KEY_A)]
    assert KEY_A.hex() not in repr(keyring) and str(KEY_A) not in repr(keyring)


@pytest.mark.parametrize("drop_key", [False, True], ids=["key id kept", "key id blanked"])
def test_a_sealed_chain_recomputed_without_the_key_is_detected(make_engine: MakeEngine, drop_key: bool) -> None:
    """A bare chain rewritten this way verifies; a sealed one breaks at the first rewritten step, whether the
    forger keeps the step's key id (the HMAC fails) or blanks it (an unsealed step after sealed ones)."""
    bare = make_engine()
    bare_id = _case(bare, "BARE")
    _rewrite_unkeyed(bare, bare_id, drop_key=False, step=2)
    assert bare.verify_history(bare_id).ok  # the very weakness the keys close

    keyed = make_engine(history_keys=HistoryKeyring.of(KEY_A))
    iid = _case(keyed, "SEALED")
    _rewrite_unkeyed(keyed, iid, drop_key=drop_key, step=2)
    report = keyed.verify_history(iid)
    assert (report.ok, report.broken_seq) == (False, 2)
    assert ("without the key" in report.problem) if drop_key else ("changed" in report.problem)


def test_a_whole_chain_rewritten_unsealed_is_flagged(make_engine: MakeEngine, clock: ManualClock) -> None:
    """Blanking every step's key and recomputing from the first leaves a chain that holds, but its steps are dated
    after keys came into use here: the report counts them."""
    keyed = make_engine(history_keys=HistoryKeyring.of(KEY_A))
    keyed.start("common.test_flow", "FIRST", flow_vars(), CONSUMER_ADMIN)  # the database's first sealed step
    clock.advance(timedelta(hours=1))
    iid = _case(keyed, "ALL")
    _rewrite_unkeyed(keyed, iid, drop_key=True, step=1)
    report = keyed.verify_history(iid)
    assert (report.ok, report.sealed, report.unsealed_since_keys) == (True, 0, report.steps)


def test_rotation_keeps_older_steps_checkable(make_engine: MakeEngine) -> None:
    """After a new key is put first, new steps are sealed with it and the old key still checks the steps it
    sealed; an engine holding only the new key cannot check the old steps and says which key it lacks."""
    old = make_engine(history_keys=HistoryKeyring.of(KEY_A))
    inst = old.start("common.test_flow", "ROT", flow_vars(), CONSUMER_ADMIN)
    rotated = make_engine(history_keys=HistoryKeyring.of(KEY_B, KEY_A))
    rotated.fire(inst.id, "refuse", AUDITOR, {"reason": "轮换之后"})
    steps = rotated.history(inst.id)
    report = rotated.verify_history(inst.id)
    only_new = make_engine(history_keys=HistoryKeyring.of(KEY_B)).verify_history(inst.id)
    assert [h.key_id for h in steps] == [key_id(KEY_A)] * (len(steps) - 1) + [key_id(KEY_B)]
    assert (report.ok, report.sealed) == (True, len(steps))
    assert (only_new.ok, only_new.missing_key, only_new.broken_seq) == (False, key_id(KEY_A), 1)


def test_history_written_before_the_keys_stays_valid_and_later_steps_are_sealed(make_engine: MakeEngine,
                                                                               clock: ManualClock) -> None:
    """An instance begun without keys goes on under a keyring a day later: its first steps stay plain and are not
    counted as written after the keys, the later step is sealed."""
    bare = make_engine()
    inst = bare.start("common.test_flow", "LATER", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=1))
    keyed = make_engine(history_keys=HistoryKeyring.of(KEY_A))
    keyed.fire(inst.id, "refuse", AUDITOR, {"reason": "有钥匙之后"})
    steps = keyed.history(inst.id)
    report = keyed.verify_history(inst.id)
    assert steps[0].key_id is None and steps[-1].key_id == key_id(KEY_A)
    assert (report.ok, report.sealed, report.unsealed_since_keys) == (True, 1, 0)


def test_an_engine_without_the_keyring_writes_nothing_where_keys_are_in_use(make_engine: MakeEngine) -> None:
    """Its unsealed steps would read as a rewrite: start, fire, cancel and tick are refused, typed, with no row
    written; reading works, and the check of a sealed chain names the key it lacks."""
    keyed = make_engine(history_keys=HistoryKeyring.of(KEY_A))
    iid = keyed.start("common.test_flow", "REF", flow_vars(), CONSUMER_ADMIN).id
    keyless = make_engine()
    before = keyless.history(iid)
    with pytest.raises(HistoryKeysRequired) as refused:
        keyless.fire(iid, "refuse", AUDITOR, {"reason": "无钥匙"})
    with pytest.raises(HistoryKeysRequired):
        keyless.start("common.test_flow", "REF-2", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(HistoryKeysRequired):
        keyless.cancel(iid, REVIEWER, "无钥匙")
    with pytest.raises(HistoryKeysRequired):
        keyless.tick()
    report = keyless.verify_history(iid)
    assert refused.value.key_ids == (key_id(KEY_A),)
    assert "--history-keys" in str(refused.value)
    assert keyless.history(iid) == before and keyless.get(iid).state == "review"
    assert keyless.list_instances(workflow_id="common.test_flow") == [keyless.get(iid)]
    assert (report.ok, report.missing_key) == (False, key_id(KEY_A))


def test_a_running_engine_learns_of_keys_given_to_the_others(make_engine: MakeEngine) -> None:
    """A long-running process without the keyring looks again after `recheck` seconds (its monotonic clock is
    injected): it writes until then, and refuses from then on."""
    keyless = make_engine()
    ticks = [0.0]
    keyless.seal_guard.monotonic = lambda: ticks[0]
    iid = keyless.start("common.test_flow", "LEARN", flow_vars(), CONSUMER_ADMIN).id  # no keys yet: allowed
    make_engine(history_keys=HistoryKeyring.of(KEY_A)).start("common.test_flow", "LEARN-K", flow_vars(),
                                                             CONSUMER_ADMIN)
    ticks[0] = keyless.seal_guard.recheck - 1
    keyless.fire(iid, "approve", AUDITOR)  # not looked again yet
    ticks[0] = keyless.seal_guard.recheck
    with pytest.raises(HistoryKeysRequired):
        keyless.start("common.test_flow", "LEARN-2", flow_vars(), CONSUMER_ADMIN)


def test_keyring_files_are_refused_with_what_to_do(tmp_path: Path) -> None:
    """Missing, readable by others, a line that is no key, a short key, no key at all: each names the file (and
    line) and says what to do."""
    def refusal(text: str | None, mode: int = 0o600) -> HistoryKeysInvalid:
        path = tmp_path / "keys"
        path.unlink(missing_ok=True)
        if text is not None:
            path.write_text(text, encoding="ascii")
            path.chmod(mode)
        with pytest.raises(HistoryKeysInvalid) as caught:
            HistoryKeyring.load(path)
        return caught.value

    good = KEY_A.hex()
    assert "history-keys new" in str(refusal(None))
    assert "chmod 600" in str(refusal(good + "\n", 0o640))
    bad_line = refusal(f"# keys\n{good}\nnot-hex\n")
    assert (bad_line.line, "hexadecimal" in bad_line.problem) == (3, True)
    assert "at least 32 bytes" in refusal("00" * 16 + "\n").problem
    assert "holds no key" in refusal("# only a comment\n").problem


def test_a_new_key_goes_first_and_the_file_stays_private(tmp_path: Path) -> None:
    """`add_new_key` makes an owner-only file, and a second call puts its key first, keeping the first to check."""
    path = tmp_path / "keys"
    first = add_new_key(path)
    second = add_new_key(path)
    keyring = HistoryKeyring.load(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert keyring.sealing_id == second and list(keyring.keys) == [second, first]
    assert key_id(keyring.keys[first]) == first
    assert first != second and len(first) == 16
    assert hashlib.sha256(keyring.sealing_key).hexdigest()[:16] != second  # the id is not the key's bare hash


def test_a_keyless_worker_stops_once_keys_are_in_use(make_engine: MakeEngine) -> None:
    """Every tick of a worker without the keyring would fail alike where keys are in use: the first one stops the
    worker and keeps the error for the command line to print (exit 2), instead of a traceback every few seconds."""
    from engine.scheduler import EngineScheduler

    make_engine(history_keys=HistoryKeyring.of(KEY_A)).start("common.test_flow", "STOP-K", flow_vars(),
                                                            CONSUMER_ADMIN)
    scheduler = EngineScheduler(make_engine(), interval=5)
    scheduler._tick()
    scheduler._tick()
    assert isinstance(scheduler.fatal, HistoryKeysRequired)
    assert (scheduler.ticks, scheduler.errors) == (0, 1)
