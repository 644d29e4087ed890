"""The tamper-evident chain of an instance's history: each step's hash covers the step and the one before."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from engine.canonical import canonical_json
from engine.store import HistoryEntry

GENESIS = "0" * 64


_text = encode_basestring  # a JSON string literal exactly as the canonical encoder writes it
_last_at: tuple[datetime | None, str] = (None, "")  # a command stamps each of its steps with one `now`


def _utc_text(at: datetime) -> str:
    global _last_at
    last = _last_at
    if last[0] is at:
        return last[1]
    text = at.astimezone(UTC).isoformat(timespec="microseconds")
    _last_at = (at, text)
    return text


def step_hash(
    prev_hash: str, instance_id: str, seq: int, at: datetime, actor: str, event: str,
    from_state: str | None, to_state: str, payload: Mapping[str, Any],
    actor_role: str | None = None, actor_department: str | None = None, key: bytes | None = None,
) -> str:
    """SHA-256 over the canonical JSON of the step and the previous step's hash; with a `key` (see
    engine.history_keys), HMAC-SHA256 under it over the same text.

    The JSON is `[prev_hash, instance_id, seq, at (UTC ISO, microseconds), actor, event, from, to, payload]`,
    compact, keys sorted, not ASCII-escaped; a step that records the capacity its actor acted in (every step
    written since; see `HistoryEntry.actor_role`) appends `actor_role, actor_department` to the list. A step
    with neither keeps the nine-element form the chain was first written with, so histories written before
    still verify, while blanking both on a later step changes its hash. The usual field types are written
    directly, the same characters the encoder writes; anything else goes through the encoder as a whole.
    """
    stamp = _utc_text(at)
    context = actor_role is not None or actor_department is not None
    if (type(prev_hash) is str and type(instance_id) is str and type(seq) is int and type(actor) is str
            and type(event) is str and (from_state is None or type(from_state) is str) and type(to_state) is str
            and (actor_role is None or type(actor_role) is str)
            and (actor_department is None or type(actor_department) is str)):
        end = "]" if not context else "".join((
            ",", "null" if actor_role is None else _text(actor_role), ",",
            "null" if actor_department is None else _text(actor_department), "]"))
        body = "".join((
            "[", _text(prev_hash), ",", _text(instance_id), ",", int.__repr__(seq), ",", _text(stamp), ",",
            _text(actor), ",", _text(event), ",", "null" if from_state is None else _text(from_state), ",",
            _text(to_state), ",", "{}" if type(payload) is dict and not payload else canonical_json(payload), end))
    else:
        fields = [prev_hash, instance_id, seq, stamp, actor, event, from_state, to_state, payload]
        body = canonical_json([*fields, actor_role, actor_department] if context else fields)
    if key is not None:
        return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of checking a history chain: `ok`, or the first broken step and why.

    `sealed` counts the steps whose hash is an HMAC under a history key (engine.history_keys): they cannot have
    been rewritten by anyone without the key. `missing_key` names the key of a sealed step this engine was not
    given; the chain is then not checked from that step on (`ok` False, `broken_seq` that step).
    `unsealed_since_keys` counts unsealed steps dated after the database's first sealed step: a process without
    the keyring wrote them in the seconds before it learnt of the keys, or the whole chain was written again
    without the key. The chain itself holds either way, so this is a warning, not a break.
    """

    instance_id: str
    steps: int
    ok: bool
    broken_seq: int | None = None
    problem: str = ""
    sealed: int = 0
    missing_key: str | None = None
    unsealed_since_keys: int = 0


def verify_chain(instance_id: str, entries: Sequence[HistoryEntry], last_hash: str | None = None,
                 keys: Mapping[str, bytes] | None = None, keys_since: datetime | None = None) -> ChainReport:
    """Recompute every hash; an edited, inserted, removed or reordered step breaks the chain at that step, and so
    does a changed, added or blanked `actor_role` or `actor_department` (both are in the hash).

    A sealed step is checked with the key it names, from `keys`. An unsealed step after a sealed one breaks the
    chain: the engine never stops sealing once it has begun, so it was written again without the key.
    `keys_since`: when the database's first step was sealed (see `ChainReport.unsealed_since_keys`).
    """
    prev = GENESIS
    sealed = 0
    steps = len(entries)
    late = sum(1 for e in entries if e.key_id is None and e.at > keys_since) if keys_since is not None else 0

    def broken(seq: int, problem: str, missing_key: str | None = None) -> ChainReport:
        return ChainReport(instance_id, steps, False, seq, problem, sealed, missing_key, late)

    for expected_seq, e in enumerate(entries, start=1):
        if e.seq != expected_seq:
            return broken(e.seq, f"step {expected_seq} is missing")
        if e.prev_hash != prev:
            return broken(e.seq, "does not follow the step before it")
        key = None
        if e.key_id is not None:
            key = (keys or {}).get(e.key_id)
            if key is None:
                return broken(e.seq, f"it is sealed with history key {e.key_id}, which was not given here: check it "
                                     "with the keyring (--history-keys, $SHIXIAN_HISTORY_KEYS)", e.key_id)
        elif sealed:
            return broken(e.seq, "it is not sealed, yet the steps before it are: it was written again without the key")
        digest = step_hash(prev, e.instance_id, e.seq, e.at, e.actor, e.event, e.from_state, e.to_state, e.payload,
                           e.actor_role, e.actor_department, key)
        if not hmac.compare_digest(digest, e.hash):
            return broken(e.seq, "its content was changed after it was written")
        sealed += key is not None
        prev = e.hash
    if last_hash is not None and last_hash != prev:
        return broken(steps, "the instance's last step is missing")
    return ChainReport(instance_id, steps, True, sealed=sealed, unsealed_since_keys=late)
