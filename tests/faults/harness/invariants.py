"""What must hold of a database after any number of crashes: each check answers the problems it found.

The checks read the tables directly (not through the engine under test) and compare them with the
step log of the crash worker and the receiver's delivery log.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from engine import Engine
from engine.history import verify_chain
from engine.store import HistoryEntry
from storage import SqlInstanceStore
from storage.tables import clock_t, history_t, instance_t, outbox_t, sla_event_t, timer_t
from tests.faults.harness.flow import OUTCOMES


@dataclass
class Findings:
    """Problems found (empty when every invariant holds) and the figures of the run."""

    problems: list[str] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)

    def fail(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)


def _utc(value: Any) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _rows(store: SqlInstanceStore, table: Any) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(table)))


def check_history(store: SqlInstanceStore, found: Findings) -> dict[str, str]:
    """Every instance's state, status and outcome are the replay of its history; the chain is intact.

    Answers instance id -> business key.
    """
    by_instance: dict[str, list[HistoryEntry]] = defaultdict(list)
    for r in sorted(_rows(store, history_t), key=lambda r: (r.instance_id, r.seq)):
        by_instance[r.instance_id].append(HistoryEntry(
            r.instance_id, r.seq, _utc(r.at), r.actor, r.event, r.from_state, r.to_state, json.loads(r.payload),
            r.prev_hash, r.hash, r.actor_role, r.actor_department))
    keys: dict[str, str] = {}
    for inst in _rows(store, instance_t):
        keys[inst.id] = inst.business_key
        steps = by_instance.pop(inst.id, [])
        where = f"instance {inst.business_key}"
        if [s.seq for s in steps] != list(range(1, len(steps) + 1)):
            found.fail(f"{where}: history seqs {[s.seq for s in steps]} are not 1..{len(steps)}")
            continue
        if not steps or steps[0].event != "start" or steps[0].from_state is not None:
            found.fail(f"{where}: history does not begin with its start")
            continue
        state = steps[0].to_state
        for s in steps[1:]:
            if s.from_state != state:
                found.fail(f"{where}: step {s.seq} leaves {s.from_state!r} but the instance was in {state!r}")
            state = s.to_state
        if state != inst.state:
            found.fail(f"{where}: state {inst.state!r} but its history replays to {state!r}")
        if inst.history_seq != len(steps):
            found.fail(f"{where}: history_seq {inst.history_seq} but {len(steps)} steps")
        expected_status = "completed" if state in OUTCOMES else inst.status
        if inst.status != expected_status or (state in OUTCOMES and inst.outcome != OUTCOMES[state]):
            found.fail(f"{where}: status {inst.status}/{inst.outcome} does not fit end state {state!r}")
        report = verify_chain(inst.id, steps, inst.history_hash)
        if not report.ok:
            found.fail(f"{where}: history chain broken at step {report.broken_seq}: {report.problem}")
    for orphan in by_instance:
        found.fail(f"history rows of instance {orphan} that does not exist")
    found.figures["instances"] = len(keys)
    found.figures["history_rows"] = sum(1 for _ in _rows(store, history_t))
    return keys


def check_steps(store: SqlInstanceStore, log_lines: list[str], found: Findings) -> None:
    """Each acknowledged start or fire is in the history exactly once; no history row of a refused step."""
    acknowledged: set[str] = set()
    refused: set[str] = set()
    for line in log_lines:
        if line.startswith("done"):
            continue
        n, kind, _key, _event, outcome = line.split(" ")
        if kind in ("start", "fire"):
            (acknowledged if outcome == "ok" else refused).add(f"s{n}")
    user_rows = Counter(r.actor for r in _rows(store, history_t) if r.actor.startswith("s") and r.actor[1:].isdigit())
    for who in sorted(acknowledged):
        if user_rows.get(who, 0) != 1:
            found.fail(f"acknowledged step {who} has {user_rows.get(who, 0)} history rows, not 1")
    for who in sorted(set(user_rows) - acknowledged):
        found.fail(f"history holds a row of step {who}, which was {'refused' if who in refused else 'never run'}")
    found.figures["acknowledged_commands"] = len(acknowledged)
    found.figures["refused_commands"] = len(refused)


def check_timers(store: SqlInstanceStore, final: datetime, found: Findings, engine: Engine | None = None) -> None:
    """No due timer is left; each timer transition happened once per fired timer; each SLA event once; with
    an engine, every due time and escalation level an open clock has passed is recorded."""
    timers = _rows(store, timer_t)
    for t in timers:
        if t.status == "pending" and _utc(t.fire_at) <= final:
            found.fail(f"timer {t.id} ({t.kind}) was due at {t.fire_at} and never fired")
        if t.status == "fired" and (t.fired_at is None or _utc(t.fired_at) < _utc(t.fire_at)):
            found.fail(f"timer {t.id} ({t.kind}) fired at {t.fired_at}, before its time {t.fire_at}")
    fired_waits = Counter(t.instance_id for t in timers if t.kind == "timer" and t.status == "fired")
    moves = Counter(r.instance_id for r in _rows(store, history_t) if r.event == "_timer")
    if fired_waits != moves:
        found.fail(f"timer transitions {dict(moves)} differ from fired timer waits {dict(fired_waits)}")
    events = Counter((e.clock_id, e.kind, e.level) for e in _rows(store, sla_event_t))
    for key, count in events.items():
        if count != 1:
            found.fail(f"SLA event {key} happened {count} times")
    clocks = {c.id: c for c in _rows(store, clock_t)}
    for c in clocks.values():
        open_and_late = c.stopped_at is None and c.paused_since is None and _utc(c.due_at) <= final
        if (c.breached or open_and_late) and (c.id, "breach", 0) not in events:
            found.fail(f"clock {c.id} is past its due time but has no breach event")
        if open_and_late and not c.breached:
            found.fail(f"clock {c.id} is open past its due time and not marked breached")
    for c in clocks.values():
        nxt = getattr(c, "next_fire_at", None)  # the clock's next SLA moment, where the store keeps one
        if c.stopped_at is None and c.paused_since is None and nxt is not None and _utc(nxt) <= final:
            found.fail(f"clock {c.id}: its SLA moment at {nxt} ({getattr(c, 'next_kind', '?')}) was never handled")
    if engine is not None:
        for instance_id in {c.instance_id for c in clocks.values()}:
            for m in engine.schedule(instance_id):
                c = clocks[m.clock_id]
                if c.stopped_at is not None or c.paused_since is not None or _utc(m.at) > final:
                    continue
                wanted = {"due": ("breach", 0), "escalate": ("escalation", m.level)}.get(m.kind)
                if wanted is not None and (c.id, *wanted) not in events:
                    found.fail(f"clock {c.id}: {m.kind} {m.level} at {m.at} passed, but no {wanted[0]} is recorded")
    found.figures["timers_fired"] = sum(1 for t in timers if t.status == "fired")
    found.figures["sla_events"] = sum(events.values())
    found.figures["escalations"] = sum(1 for k in events if k[1] == "escalation")


def check_outbox(store: SqlInstanceStore, delivered: list[str], found: Findings) -> None:
    """Every escalation has its outbox message once; every message was sent and received (doubles counted)."""
    messages = _rows(store, outbox_t)
    keys = Counter(m.dedupe_key for m in messages)
    for key, count in keys.items():
        if count != 1:
            found.fail(f"outbox holds {count} messages with dedupe key {key}")
    per_level = Counter(m.dedupe_key.rsplit(":", 2)[0] for m in messages if m.kind == "escalation")
    for e in _rows(store, sla_event_t):
        if e.kind == "escalation" and per_level.get(f"sla:{e.clock_id}:escalation:{e.level}", 0) != 1:
            found.fail(f"escalation level {e.level} of clock {e.clock_id} has "
                       f"{per_level.get(f'sla:{e.clock_id}:escalation:{e.level}', 0)} outbox messages, not 1")
    for m in messages:
        if m.status != "sent":
            found.fail(f"outbox message {m.dedupe_key} is {m.status}, not sent")
    received = Counter(delivered)
    missing = set(keys) - set(received)
    unknown = set(received) - set(keys)
    for key in sorted(missing)[:10]:
        found.fail(f"outbox message {key} never reached the receiver")
    for key in sorted(unknown)[:10]:
        found.fail(f"the receiver got {key}, which is not in the outbox")
    found.figures["outbox_messages"] = len(messages)
    found.figures["deliveries"] = len(delivered)
    found.figures["doubled_deliveries"] = sum(c - 1 for c in received.values())


def check_all(store: SqlInstanceStore, log_lines: list[str], delivered: list[str], final: datetime,
              engine: Engine | None = None) -> Findings:
    found = Findings()
    check_history(store, found)
    check_steps(store, log_lines, found)
    check_timers(store, final, found, engine)
    check_outbox(store, delivered, found)
    return found
