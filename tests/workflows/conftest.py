"""A real Engine on a temporary SQLite database with a ManualClock, the shipped workflows and a YAML directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.clock import SHANGHAI, ManualClock
from engine.definitions import DefinitionSet
from engine.events import EngineEvent
from engine.fields import make_credit_code
from engine.ports import Actor
from engine.runtime import Engine
from engine.store import ClockView, InstanceView
from notifiers.directory import YamlDirectory
from storage.outbox import OutboxMessage
from storage.sql import SqlInstanceStore

ROOT = Path(__file__).resolve().parents[2]

CONSUMER = make_credit_code(101)  # 使用部门
PROVIDER = make_credit_code(202)  # 提供部门
OTHER = make_credit_code(303)  # a third department (objections, recurring duties)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment in Asia/Shanghai."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def end_of(day: date) -> datetime:
    """24:00 of `day`, i.e. 00:00 of the next day, as the deadline arithmetic represents it."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Staff:
    """A person who is also an actor: base roles and a department."""

    id: str
    roles: frozenset[str]
    department: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.roles, self.department)



def _staff(person_id: str, role: str, department: str | None = None) -> Staff:
    return Staff(person_id, frozenset({role}), department)


STAFF: dict[str, Staff] = {s.id: s for s in (
    _staff("consumer_admin", "data_admin", CONSUMER),
    _staff("consumer_auditor", "data_auditor", CONSUMER),
    _staff("consumer_leader", "department_leader", CONSUMER),
    _staff("consumer_compiler", "list_compiler", CONSUMER),
    _staff("consumer_section", "section_auditor", CONSUMER),
    _staff("consumer_dept_auditor", "department_auditor", CONSUMER),
    _staff("provider_admin", "data_admin", PROVIDER),
    _staff("provider_auditor", "data_auditor", PROVIDER),
    _staff("provider_leader", "department_leader", PROVIDER),
    _staff("other_admin", "data_admin", OTHER),
    _staff("bureau", "bureau_reviewer"),
    _staff("center", "center_operator"),
    _staff("authority", "authority_auditor"),
    _staff("supervisor", "data_supervisor"),
)}


def write_directory(folder: Path) -> Path:
    """STAFF as a recipient directory file in the notifier's format (notifiers/example_directory.yaml)."""
    names = {CONSUMER: "使用部门", PROVIDER: "提供部门", OTHER: "其他部门"}
    doc = {
        "channels": {"file": {"type": "file", "dir": str(folder / "sent"), "from": "shixian@example.gov.cn"}},
        "departments": [{"code": code, "name": name} for code, name in names.items()],
        "people": [
            {"id": s.id, "name": s.id, "roles": sorted(s.roles), "contacts": {"file": f"{s.id}@example.gov.cn"},
             **({"department": s.department} if s.department else {})}
            for s in STAFF.values()
        ],
    }
    path = folder / "directory.yaml"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")  # JSON is YAML
    return path


@dataclass(frozen=True)
class Sent:
    """One outbox row, reduced to what the tests compare."""

    recipient: str
    template: str
    kind: str
    data: Mapping[str, Any]


class Harness:
    """Drives the Engine through a procedure on the ManualClock and reads what it wrote."""

    def __init__(self, engine: Engine, clock: ManualClock, store: SqlInstanceStore) -> None:
        self.engine = engine
        self.clock = clock
        self.store = store
        self.events: list[EngineEvent] = []
        engine.subscribe("*", self.events.append)

    def start(self, workflow_id: str, variables: Mapping[str, Any], who: str, moment: datetime,
              key: str = "K-1") -> InstanceView:
        self.clock.set(moment)
        return self.engine.start(workflow_id, key, variables, STAFF[who].actor)

    def fire(self, inst: InstanceView, event: str, who: str, moment: datetime,
             payload: Mapping[str, Any] | None = None) -> InstanceView:
        self.clock.set(moment)
        return self.engine.fire(inst.id, event, STAFF[who].actor, payload)

    def tick(self, moment: datetime) -> None:
        self.clock.set(moment)
        self.engine.tick(moment)

    def get(self, inst: InstanceView) -> InstanceView:
        return self.engine.get(inst.id)

    def variables(self, inst: InstanceView) -> dict[str, Any]:
        return dict(self.engine.get(inst.id).variables)

    def task_clock(self, inst: InstanceView, state: str) -> ClockView:
        """The newest task clock of `state`."""
        clocks = [c for c in self.engine.clocks(inst.id) if c.scope == "task" and c.state == state]
        assert clocks, f"no task clock for {state}"
        return max(clocks, key=lambda c: c.id)

    def due(self, inst: InstanceView, state: str) -> datetime:
        """The due moment of the newest task clock of `state`, in Asia/Shanghai."""
        return self.task_clock(inst, state).due_at.astimezone(SHANGHAI)

    def procedure_clock(self, inst: InstanceView) -> ClockView:
        clocks = [c for c in self.engine.clocks(inst.id) if c.scope == "procedure"]
        assert len(clocks) == 1
        return clocks[0]

    def timer_at(self, inst: InstanceView, state: str) -> datetime:
        """When the pending state timer of `state` fires, in Asia/Shanghai."""
        found = [t for t in self.engine.timers(inst.id) if t.kind == "timer" and t.state == state
                 and t.status == "pending"]
        assert len(found) == 1, found
        return found[0].fire_at.astimezone(SHANGHAI)

    def sent(self, inst: InstanceView, kind: str | None = None, template: str | None = None) -> list[Sent]:
        """The outbox rows written for the instance, oldest first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(OutboxMessage).where(OutboxMessage.instance_id == inst.id).order_by(OutboxMessage.id)
            ).all()
        out = [Sent(r.recipient, r.template, r.kind, json.loads(r.data)) for r in rows]
        return [s for s in out if (kind is None or s.kind == kind) and (template is None or s.template == template)]

    def recipients(self, inst: InstanceView, kind: str | None = None, template: str | None = None) -> list[str]:
        return sorted(s.recipient for s in self.sent(inst, kind, template))

    def events_of(self, inst: InstanceView, kind: str) -> list[EngineEvent]:
        return [e for e in self.events if e.instance_id == inst.id and e.kind == kind]

    def path(self, inst: InstanceView) -> list[str]:
        """The states the instance went through, in order."""
        return [h.to_state for h in self.engine.history(inst.id)]


@pytest.fixture(scope="session")
def definitions() -> DefinitionSet:
    return DefinitionSet.load([ROOT / "workflows"])


@pytest.fixture(scope="session")
def directory(tmp_path_factory: pytest.TempPathFactory) -> YamlDirectory:
    return YamlDirectory(write_directory(tmp_path_factory.mktemp("directory")))


@pytest.fixture
def make_harness(tmp_path: Path, definitions: DefinitionSet,
                 directory: YamlDirectory) -> Iterator[Callable[..., Harness]]:
    engines: list[Engine] = []

    def make(hooks: Mapping[str, Callable[[Mapping[str, Any]], Mapping[str, Any]]] | None = None) -> Harness:
        store = SqlInstanceStore(str(tmp_path / f"engine{len(engines)}.db"))
        clock = ManualClock(at(2026, 1, 5, 9))
        engine = Engine(store, definitions, clock=clock, directory=directory)
        for name, fn in (hooks or {}).items():
            engine.register_hook(name, fn)
        engines.append(engine)
        return Harness(engine, clock, store)

    yield make
    for e in engines:
        e.close()


@pytest.fixture
def h(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()
