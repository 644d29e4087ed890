"""An audit of every history chain in a database: one instance's chain checked at a time, as the store pages
through them, and each finding handed on as it is made, so that a database of a million instances is checked in
the memory of one page."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from engine.history import ChainReport, verify_chain
from engine.history_keys import keys_in_use_since
from engine.store import HistoryEntry, InstanceHistory

#: Instances read from the database at a time.
DEFAULT_BATCH = 500


class HistoryPages(Protocol):
    """What the audit needs of the store (engine.store.InstanceStore)."""

    def histories(self, workflow_id: str | None = None, batch: int = 200) -> Iterator[InstanceHistory]: ...


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """An instance whose chain is broken or not checked, or holds unsealed steps since keys came into use (`kind`).

    `step` is the stored step the chain breaks at (for a removed last step, the last one left; None when the
    instance has no step at all)."""

    instance_id: str
    workflow_id: str
    business_key: str
    report: ChainReport
    step: HistoryEntry | None = None

    @property
    def kind(self) -> str:
        """`not_checked` (a step's key was not given), `altered` (broken at a step) or `unsealed_since_keys`
        (intact, with the warning)."""
        if self.report.missing_key is not None:
            return "not_checked"
        return "altered" if not self.report.ok else "unsealed_since_keys"


@dataclass
class AuditReport:
    """What the audit checked and how many instances it found something in (the findings themselves go to the
    caller one by one: a database whose chains are all sealed, audited without the keyring, has one per instance)."""

    instances: int = 0
    steps: int = 0
    sealed: int = 0  # steps checked with a history key
    altered: int = 0  # chains broken at a step: edited, inserted, removed, reordered, written again without the key
    not_checked: int = 0  # chains checked only up to a step sealed with a key not given
    unsealed_since_keys: int = 0  # chains holding unsealed steps dated after keys came into use (a warning)
    missing_keys: set[str] = field(default_factory=set)  # the ids of the keys not given

    @property
    def intact(self) -> int:
        """Instances whose whole chain verified."""
        return self.instances - self.altered - self.not_checked

    @property
    def ok(self) -> bool:
        return not self.altered and not self.not_checked


def audit_histories(store: HistoryPages, keys: Mapping[str, bytes] | None = None,
                    keys_since: datetime | None = None, *, workflow_id: str | None = None,
                    batch: int = DEFAULT_BATCH, found: Callable[[AuditFinding], None] | None = None,
                    progress: Callable[[AuditReport], None] | None = None,
                    progress_every: int = 10_000) -> AuditReport:
    """Check the chain of every instance (of `workflow_id`) as `Engine.verify_history` does, with the keyring's
    `keys` and `keys_since` (see `keys_in_use_since`). Each finding is given to `found` as it is made, in
    instance id order; `progress` is given the counts so far every `progress_every` instances."""
    report = AuditReport()
    for history in store.histories(workflow_id, batch):
        finding = _check(report, history, keys, keys_since)
        if finding is not None and found is not None:
            found(finding)
        if progress is not None and report.instances % progress_every == 0:
            progress(report)
    return report


def _check(report: AuditReport, history: InstanceHistory, keys: Mapping[str, bytes] | None,
           keys_since: datetime | None) -> AuditFinding | None:
    """Verify one instance's chain and count it; the finding, if there is one."""
    chain = verify_chain(history.instance_id, history.steps, history.last_hash, keys, keys_since)
    report.instances += 1
    report.steps += chain.steps
    report.sealed += chain.sealed
    report.unsealed_since_keys += chain.unsealed_since_keys > 0
    if chain.missing_key is not None:
        report.not_checked += 1
        report.missing_keys.add(chain.missing_key)
    elif not chain.ok:
        report.altered += 1
    if chain.ok and not chain.unsealed_since_keys:
        return None
    return AuditFinding(history.instance_id, history.workflow_id, history.business_key, chain,
                        _step(history.steps, chain.broken_seq))


def _step(steps: Iterable[HistoryEntry], seq: int | None) -> HistoryEntry | None:
    """The stored step numbered `seq`, if there is one."""
    return next((s for s in steps if s.seq == seq), None) if seq is not None else None


__all__ = ["DEFAULT_BATCH", "AuditFinding", "AuditReport", "HistoryPages", "audit_histories", "keys_in_use_since"]
