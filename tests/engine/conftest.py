"""Fixtures of the engine tests: a test workflow with every kind of state, actors, a directory, an engine."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import calendars
from calendars.store import data_dir
from engine import Actor, Engine, HistoryKeyring, ManualClock, Person
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from engine.ports import Directory
from storage import open_store

CONSUMER = make_credit_code(101)
PROVIDER = make_credit_code(202)
OTHER = make_credit_code(303)

#: A procedure exercising every state kind: a decision, tasks with SLAs and an escalation ladder, an
#: automatic step, a pausing state under a procedure SLA, a timer wait, and end states.
FLOW = """\
id: common.test_flow
name: {zh: 测试流程, en: Test flow}
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
  fast: {type: bool, default: false}
  users: {type: int}
  reason: {type: text}
hooks:
  count_users: counts the users of the resource
templates: [task_assigned, procedure_completed]
start: {roles: [consumer.data_admin]}
initial: route
sla:
  due: 10 WD
  pause_in: [meeting]
  escalate:
    - {level: 1, after: 0 WD, notify: [bureau.data_supervisor]}
states:
  route:
    kind: decision
    branches:
      - {when: "fast", to: done}
    default: review
  review:
    kind: task
    title: {zh: 审查, en: Review}
    assignee: provider.data_auditor
    sla:
      due: 5 WD
      warn_before: [1 WD]
      escalate:
        - {level: 1, after: 0 WD, notify: [provider.data_auditor]}
        - {level: 2, after: 2 WD, notify: [bureau.data_supervisor]}
    on_enter: [{template: task_assigned, to: [provider.data_auditor]}]
  check:
    kind: auto
    hook: count_users
    next: meeting_route
  meeting_route:
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
    after: 10 WD
    next: done
  done:
    kind: end
    outcome: done
    on_enter: [{template: procedure_completed, to: [consumer.data_admin]}]
  refused:
    kind: end
    outcome: refused
transitions:
  - {event: approve, from: review, to: check, role: provider.data_auditor}
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

CONSUMER_ADMIN = Actor("alice", frozenset({"data_admin"}), CONSUMER)
AUDITOR = Actor("bob", frozenset({"data_auditor"}), PROVIDER)
OTHER_AUDITOR = Actor("carol", frozenset({"data_auditor"}), OTHER)
REVIEWER = Actor("dave", frozenset({"bureau_reviewer"}))
SUPERVISOR = Actor("erin", frozenset({"data_supervisor"}))


def sla_told(engine: Engine) -> list[tuple[int, str, int]]:
    """(clock id, kind, level) of each breach and escalation the engine publishes from now on, in order."""
    told: list[tuple[int, str, int]] = []
    for kind in ("breach", "escalation"):
        engine.subscribe(kind, lambda e: told.append((e.data["clock_id"], e.kind, e.data["level"])))
    return told


def flow_vars(**extra: Any) -> dict[str, Any]:
    return {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, **extra}


class StaticDirectory:
    """A directory of fixed people (the Directory a backend would back with its user database)."""

    def __init__(self, people: Sequence[Person]) -> None:
        self._people = tuple(people)

    def people(self, base_role: str, department: str | None) -> Sequence[Person]:
        return [p for p in self._people if base_role in p.roles and (department is None or p.department == department)]

    def department_name(self, code: str) -> str:
        return {CONSUMER: "使用局", PROVIDER: "提供局"}.get(code, code)


DIRECTORY = StaticDirectory([
    Person("alice", "Alice", frozenset({"data_admin"}), CONSUMER, {"email": "alice@example.org"}),
    Person("bob", "Bob", frozenset({"data_auditor"}), PROVIDER, {"email": "bob@example.org", "webhook": "http://b"}),
    Person("carol", "Carol", frozenset({"data_auditor"}), OTHER, {"email": "carol@example.org"}),
    Person("dave", "Dave", frozenset({"bureau_reviewer"}), None, {"email": "dave@example.org"}),
    Person("erin", "Erin", frozenset({"data_supervisor"}), None, {"email": "erin@example.org"}),
])


@pytest.fixture
def clock() -> ManualClock:
    """Monday 2 March 2026, 10:00 in Shanghai: a plain working week."""
    return ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))


MakeEngine = Callable[..., Engine]


@pytest.fixture
def make_engine(db_url: str, clock: ManualClock) -> Iterator[MakeEngine]:
    """Build engines on the test database (each with its own definitions unless given), with the test flow."""
    made: list[Engine] = []

    def make(definitions: DefinitionSet | None = None, *, flow: str | None = FLOW, **kwargs: Any) -> Engine:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("directory", DIRECTORY)
        engine = Engine(open_store(db_url), definitions or DefinitionSet(), **kwargs)
        if flow:
            engine.add_definition(flow, "test_flow.yaml")
        engine.register_hook("count_users", lambda variables: {"users": 0})
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


@pytest.fixture
def engine(make_engine: MakeEngine) -> Engine:
    return make_engine()


@pytest.fixture
def data_copy(tmp_path: Path) -> Iterator[Path]:
    """The shipped calendar data in a temporary folder the test may add to; restored afterwards."""
    folder = tmp_path / "calendar-data"
    shutil.copytree(data_dir(), folder)
    original = data_dir()
    calendars.reload_data(folder)
    yield folder
    calendars.reload_data(original)


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    """A workflows folder holding the test flow, for commands that load definitions from files."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "test_flow.yaml").write_text(FLOW, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def shipped() -> DefinitionSet:
    """The repository's own workflows."""
    return DefinitionSet.load([Path(__file__).resolve().parents[2] / "workflows"])


@pytest.fixture(scope="module")
def staff(tmp_path_factory: pytest.TempPathFactory) -> Directory:
    """The people the shipped workflows' tests act as (tests.workflows.conftest.STAFF), as a YAML directory."""
    from notifiers.directory import YamlDirectory
    from tests.workflows.conftest import write_directory

    return YamlDirectory(write_directory(tmp_path_factory.mktemp("staff")))


OpenEngine = Callable[..., Engine]


@pytest.fixture
def open_engine(db_url: str, shipped: DefinitionSet, staff: Directory) -> Iterator[OpenEngine]:
    """Engines on the test database with the shipped workflows, on one ManualClock from 8 October 2026, 09:00;
    each given a keyring or none."""
    from tests.workflows.conftest import at

    clock = ManualClock(at(2026, 10, 8, 9))
    made: list[Engine] = []

    def make(keyring: HistoryKeyring | None = None) -> Engine:
        engine = Engine(open_store(db_url), shipped, clock=clock, directory=staff, history_keys=keyring)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()
