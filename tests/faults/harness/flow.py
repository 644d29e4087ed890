"""The procedure, actors, people and delivery receiver the fault tests run: every state kind, SLA ladders."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine import Actor, Engine, ManualClock, Person
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from notifiers.base import Outgoing
from notifiers.dispatcher import DigestPolicy, OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage import open_store

WF = "common.fault_flow"
CONSUMER = make_credit_code(411)
PROVIDER = make_credit_code(522)
OTHER = make_credit_code(633)
#: Monday 2 March 2026, 09:00 in Shanghai: a plain working week, well inside the published calendar years.
START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
CHANNEL = "probe"

#: A task with a warning and a two-level ladder, an automatic step, a decision, a meeting that pauses the
#: procedure clock, a timer wait, and two end states.
FLOW = """\
id: common.fault_flow
name: {zh: 故障测试流程, en: Fault test flow}
jurisdiction: common
calendar: CN
sources: [{document: 测试, articles: ["1"]}]
roles:
  consumer.data_admin:    {base: data_admin, department: consumer_dept, title: 使用部门数据管理员}
  provider.data_auditor:  {base: data_auditor, department: provider_dept, title: 提供部门数据审核员}
  bureau.reviewer:        {base: bureau_reviewer, title: 大数据发展局}
  bureau.data_supervisor: {base: data_supervisor, title: 数据监督员}
variables:
  consumer_dept: {type: department, required: true}
  provider_dept: {type: department, required: true}
  users: {type: int}
  score: {type: int, default: 0}
  note: {type: string, max_length: 50}
  reason: {type: text}
hooks:
  count_users: counts the users of the resource
templates: [task_assigned, procedure_completed]
start: {roles: [consumer.data_admin]}
initial: review
sla:
  due: 6 WD
  pause_in: [meeting]
  escalate:
    - {level: 1, after: 0 WD, notify: [bureau.data_supervisor]}
states:
  review:
    kind: task
    title: {zh: 审查, en: Review}
    assignee: provider.data_auditor
    sla:
      due: 2 WD
      warn_before: [1 WD]
      escalate:
        - {level: 1, after: 0 WD, notify: [provider.data_auditor]}
        - {level: 2, after: 1 WD, notify: [bureau.data_supervisor]}
    on_enter: [{template: task_assigned, to: [provider.data_auditor]}]
  check:
    kind: auto
    hook: count_users
    next: route
  route:
    kind: decision
    branches:
      - {when: "users and users > 0", to: meeting}
    default: publicity
  meeting:
    kind: task
    title: {zh: 协调会, en: Meeting}
    assignee: bureau.reviewer
  publicity:
    kind: timer
    title: {zh: 公示, en: Publicity}
    after: 2 WD
    next: done
  done:
    kind: end
    outcome: done
    on_enter: [{template: procedure_completed, to: [consumer.data_admin]}]
  refused:
    kind: end
    outcome: refused
transitions:
  - event: approve
    from: review
    to: check
    role: provider.data_auditor
    guard: "score >= 0"
    payload:
      note: {type: string, max_length: 50}
    save: [note]
  - event: refuse
    from: review
    to: refused
    role: provider.data_auditor
    payload:
      reason: {type: text, required: true}
    save: [reason]
  - {event: settle, from: meeting, to: publicity, role: bureau.reviewer}
  - {event: object, from: publicity, to: meeting, role: consumer.data_admin}
"""

#: The end states of the flow and their outcomes.
OUTCOMES = {"done": "done", "refused": "refused"}
#: Which role fires each user event.
EVENT_ROLE = {"approve": "auditor", "refuse": "auditor", "settle": "reviewer", "object": "consumer"}


def actor(kind: str, name: str = "") -> Actor:
    """An actor of one kind (consumer, auditor, other_auditor, reviewer, supervisor); `name` becomes its id."""
    roles, dept = {
        "consumer": ({"data_admin"}, CONSUMER),
        "auditor": ({"data_auditor"}, PROVIDER),
        "other_auditor": ({"data_auditor"}, OTHER),
        "reviewer": ({"bureau_reviewer"}, None),
        "supervisor": ({"data_supervisor"}, None),
    }[kind]
    return Actor(name or kind, frozenset(roles), dept)


def flow_vars(**extra: Any) -> dict[str, Any]:
    return {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, **extra}


def users_for(business_key: str) -> int:
    """What the automatic step answers for an instance: deterministic, so a repeated run decides alike."""
    return sum(business_key.encode()) % 2


class StaticDirectory:
    """One person per role, each reachable on the probe channel only."""

    def __init__(self, people: Sequence[Person]) -> None:
        self._people = tuple(people)

    def people(self, base_role: str, department: str | None) -> Sequence[Person]:
        return [p for p in self._people if base_role in p.roles and (department is None or p.department == department)]

    def department_name(self, code: str) -> str:
        return code


DIRECTORY = StaticDirectory([
    Person("alice", "Alice", frozenset({"data_admin"}), CONSUMER, {CHANNEL: "alice"}),
    Person("bob", "Bob", frozenset({"data_auditor"}), PROVIDER, {CHANNEL: "bob"}),
    Person("dave", "Dave", frozenset({"bureau_reviewer"}), None, {CHANNEL: "dave"}),
    Person("erin", "Erin", frozenset({"data_supervisor"}), None, {CHANNEL: "erin"}),
])


class CountingReceiver:
    """A channel whose receiver appends each delivered dedupe key to a file, one line per delivery.

    The write is a single O_APPEND write, so a killed sender leaves whole lines only; doubles are kept
    (at-least-once transport) and the checker dedupes by key.
    """

    name = CHANNEL

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: Outgoing) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{message.dedupe_key}\n".encode())
        finally:
            os.close(fd)

    def check_address(self, address: str) -> str | None:
        return None if address else "empty address"

    def close(self) -> None:
        """Nothing held between sends."""

    def keys(self) -> list[str]:
        """Every delivered key, doubles included, in delivery order."""
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text(encoding="utf-8").split("\n") if line]


def build_engine(db: str, clock: ManualClock, deliveries: Path | None = None, *, seed: int = 0,
                 worker_id: str = "fault-worker") -> Engine:
    """An engine on `db` running the fault flow; with `deliveries`, its tick dispatches to a CountingReceiver."""
    store = open_store(db)
    dispatcher = None
    if deliveries is not None:
        dispatcher = OutboxDispatcher(
            store.engine, {CHANNEL: CountingReceiver(deliveries)}, TemplateRenderer(), clock,
            digest=DigestPolicy(threshold=None), lease=timedelta(minutes=5), rng=random.Random(seed),
            worker_id=worker_id,
        )
    engine = Engine(store, DefinitionSet(), clock=clock, directory=DIRECTORY, dispatcher=dispatcher,
                    worker_id=worker_id)
    engine.add_definition(FLOW, "fault_flow.yaml")
    engine.register_hook("count_users", lambda variables: {"users": variables.get("users") or 0})
    return engine
