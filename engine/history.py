"""The tamper-evident chain of an instance's history: each step's hash covers the step and the one before."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.store import HistoryEntry

GENESIS = "0" * 64


def step_hash(
    prev_hash: str, instance_id: str, seq: int, at: datetime, actor: str, event: str,
    from_state: str | None, to_state: str, payload: Mapping[str, Any],
) -> str:
    """SHA-256 over the canonical JSON of the step and the previous step's hash."""
    body = json.dumps(
        [prev_hash, instance_id, seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, event,
         from_state, to_state, payload],
        ensure_ascii=False, separators=(",", ":"), sort_keys=True,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def make_entry(
    prev_hash: str, instance_id: str, seq: int, at: datetime, actor: str, event: str,
    from_state: str | None, to_state: str, payload: Mapping[str, Any],
) -> HistoryEntry:
    digest = step_hash(prev_hash, instance_id, seq, at, actor, event, from_state, to_state, payload)
    return HistoryEntry(instance_id, seq, at, actor, event, from_state, to_state, dict(payload), prev_hash, digest)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of checking a history chain: `ok`, or the first broken step and why."""

    instance_id: str
    steps: int
    ok: bool
    broken_seq: int | None = None
    problem: str = ""


def verify_chain(instance_id: str, entries: Sequence[HistoryEntry], last_hash: str | None = None) -> ChainReport:
    """Recompute every hash; an edited, inserted, removed or reordered step breaks the chain at that step."""
    prev = GENESIS
    for expected_seq, e in enumerate(entries, start=1):
        if e.seq != expected_seq:
            return ChainReport(instance_id, len(entries), False, e.seq, f"step {expected_seq} is missing")
        if e.prev_hash != prev:
            return ChainReport(instance_id, len(entries), False, e.seq, "does not follow the step before it")
        digest = step_hash(prev, e.instance_id, e.seq, e.at, e.actor, e.event, e.from_state, e.to_state, e.payload)
        if digest != e.hash:
            return ChainReport(instance_id, len(entries), False, e.seq, "its content was changed after it was written")
        prev = e.hash
    if last_hash is not None and last_hash != prev:
        return ChainReport(instance_id, len(entries), False, len(entries), "the instance's last step is missing")
    return ChainReport(instance_id, len(entries), True)
