"""The supervision report built from a database the real Engine wrote, around Mid-Autumn and National Day 2026.

Calendar facts used below (国办发明电〔2025〕7号): 09-25..09-27 and 10-01..10-07 are days off; 10-10 (a
Saturday) is a make-up working day. A period of N WD starts counting the day after receipt and ends at 24:00.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from cli import main as cli_main
from engine.cli_report import build_report
from engine.clock import SHANGHAI, ManualClock
from engine.definitions import DefinitionSet
from engine.ports import Actor
from engine.reporting.figures import MonthReport
from engine.runtime import Engine
from notifiers.directory import YamlDirectory
from storage.sql import SqlInstanceStore
from tests.reporting.ticking import tick_every_half_day

ROOT = Path(__file__).resolve().parents[2]
RSJ = "11450200007565442H"  # 柳州市人力资源和社会保障局
GAJ = "11450200007565127X"  # 柳州市公安局
SCJG = "11450200MB0K273590"  # 柳州市市场监督管理局
CENTER = "12450200MB0G83912Y"  # 柳州市信息化建设管理中心
BUREAU = "11450200MB1D56243D"  # 柳州市大数据发展局

RSJ_ADMIN = Actor("lz-rsj-admin", frozenset({"data_admin"}), RSJ)
GAJ_AUDITOR = Actor("lz-gaj-auditor", frozenset({"data_auditor"}), GAJ)
SCJG_AUDITOR = Actor("lz-scjg-auditor", frozenset({"data_auditor"}), SCJG)
OPERATOR = Actor("lz-xxzx-operator", frozenset({"center_operator"}), CENTER)
REVIEWER = Actor("lz-dsj-reviewer", frozenset({"bureau_reviewer"}), BUREAU)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


MONTH_END = at(11, 1)


class World:
    """The Engine on a temporary database; `until(moment)` ticks every midnight and noon up to `moment`."""

    def __init__(self, engine: Engine, clock: ManualClock, store: SqlInstanceStore) -> None:
        self.engine, self.clock, self.store = engine, clock, store
        self.ticked = at(9, 24)

    def until(self, moment: datetime) -> None:
        self.ticked = tick_every_half_day(self.engine, self.clock, self.ticked, moment)

    def request(self, key: str, provider: str, moment: datetime) -> str:
        self.until(moment)
        variables = {"consumer_dept": RSJ, "provider_dept": provider, "resource_id": f"RES-{key}",
                     "purpose": "社保待遇资格核验", "sharing_type": "conditional"}
        return self.engine.start("lz.data_request", key, variables, RSJ_ADMIN).id

    def account(self, key: str, moment: datetime) -> str:
        self.until(moment)
        variables = {"dept": RSJ, "action": "add", "account_name": f"user-{key}"}
        return self.engine.start("lz.platform_account", key, variables, RSJ_ADMIN).id

    def fire(self, instance_id: str, event: str, actor: Actor, moment: datetime) -> None:
        self.until(moment)
        self.engine.fire(instance_id, event, actor)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The known history, played in time order up to the end of October."""
    folder = tmp_path_factory.mktemp("report")
    store = SqlInstanceStore(str(folder / "report.db"))
    clock = ManualClock(at(9, 24))
    engine = Engine(store, DefinitionSet.load([ROOT / "workflows"]), clock=clock, directory=DIRECTORY)
    w = World(engine, clock, store)
    # E: received Thu 09-24; 5 WD over Mid-Autumn and National Day = 09-28, 09-29, 09-30, 10-08, 10-09
    e = w.request("E", SCJG, at(9, 24, 10))
    # A: an account received 09-30; 2 WD = 10-08, 10-09 (warning at 24:00 10-08)
    a = w.account("A", at(9, 30, 10))
    w.fire(e, "approve", SCJG_AUDITOR, at(10, 8, 10))  # on time, before its warning at 24:00 10-08
    w.fire(a, "complete", OPERATOR, at(10, 9, 15))  # on time, after the warning
    # B: received Fri 10-09 16:00; 2 WD = the make-up Saturday 10-10 and Monday 10-12 (warning at 24:00 10-10)
    b = w.account("B", at(10, 9, 16))
    # E's docking by the bureau from 10-08: 2 WD = 10-09 and 10-10; breached (and level 1) at 24:00 10-10
    w.fire(e, "dock", REVIEWER, at(10, 12, 9, 30))
    # B breaches at 24:00 10-12 (level 1), level 2 one WD later at 24:00 10-13; answered 10-14
    w.fire(b, "complete", OPERATOR, at(10, 14, 11))
    # C: received Tue 10-20; 5 WD = 10-21..10-23, 10-26, 10-27; never answered: level 2 at 24:00 10-29
    w.request("C", GAJ, at(10, 20, 9))
    # D: received 10-26; 5 WD end 11-02: due in November, not in October's report
    w.request("D", SCJG, at(10, 26, 9))
    w.until(MONTH_END)
    yield w
    engine.close()


DIRECTORY = YamlDirectory(ROOT / "notifiers" / "example_directory.yaml")


def _build(w: World, as_of: datetime) -> MonthReport:
    return build_report(w.store.engine, w.engine.definitions, DIRECTORY, "2026-10", as_of)


def test_totals_for_october(world: World) -> None:
    """Five steps fall due in October (D is due in November): A and E's approval on time; B and E's docking
    answered late, C still open past its due time."""
    t = _build(world, MONTH_END).totals
    assert (t.due, t.on_time, t.late, t.open_overdue) == (5, 2, 3, 1)
    # warnings: A, B, C and E's docking; breaches: B, C, E's docking; levels reached: B 2, C 2, docking 1
    assert (t.warnings, t.breaches, t.escalations) == (4, 3, 5)
    # working days taken: A 2 (10-08, 10-09), B 4 (10-10, 10-12, 10-13, 10-14),
    # E's approval 4 (09-28..09-30, 10-08), E's docking 3 (10-09, 10-10, 10-12): 13 / 4
    assert t.average_working_days == 3.25


def test_departments_answerable_for_each_step(world: World) -> None:
    """Steps count against the assignee's department: the provider, or the centre / bureau for their roles."""
    rows = {f.key: f for f in _build(world, MONTH_END).by_department}
    assert set(rows) == {CENTER, GAJ, SCJG, BUREAU}
    assert rows[CENTER].title == "柳州市信息化建设管理中心"
    assert (rows[CENTER].due, rows[CENTER].on_time, rows[CENTER].late, rows[CENTER].average_working_days) == (
        2, 1, 1, 3.0)
    assert (rows[GAJ].due, rows[GAJ].late, rows[GAJ].open_overdue, rows[GAJ].escalations) == (1, 1, 1, 2)
    assert (rows[SCJG].due, rows[SCJG].on_time, rows[SCJG].warnings, rows[SCJG].average_working_days) == (
        1, 1, 0, 4.0)
    assert (rows[BUREAU].due, rows[BUREAU].late, rows[BUREAU].breaches, rows[BUREAU].escalations) == (1, 1, 1, 1)


def test_procedures_and_open_items(world: World) -> None:
    """Two account steps and three data-request steps; C is the one item left to chase, 3 WD late."""
    report = _build(world, MONTH_END)
    assert [(f.key, f.due) for f in report.by_procedure] == [("lz.data_request", 3), ("lz.platform_account", 2)]
    # C's last day is 10-27; working days after it up to the end of the month: 10-28, 10-29, 10-30
    assert [(i.record.business_key, i.record.state, i.late_working_days, i.record.escalation_level)
            for i in report.open_items] == [("C", "provider_approval", 3, 2)]


def test_an_earlier_moment_does_not_see_later_answers(world: World) -> None:
    """As of 10-13 12:00, B is open past due with level 1 only, and C has not arrived yet."""
    report = _build(world, at(10, 13, 12))
    t = report.totals
    assert (t.due, t.on_time, t.late, t.open_overdue) == (4, 2, 2, 1)
    # B's last day is 10-12; at noon on 10-13 it is less than one working day late (the notices say 超时不足1个
    # 工作日): 10-13 counts once it has ended, at 24:00, when its level 2 is told "1 working day late"
    assert [(i.record.business_key, i.late_working_days, i.record.escalation_level)
            for i in report.open_items] == [("B", 0, 1)]
    assert [i.late_working_days for i in _build(world, at(10, 14)).open_items] == [1]


def test_cli_writes_the_report(world: World, tmp_path: Path) -> None:
    """`cli.py report` writes the CSV with the same totals and refuses a malformed month."""
    out = tmp_path / "report.csv"
    db = str(world.store.url).removeprefix("sqlite:///")
    code = cli_main(["report", "--month", "2026-10", "--db", db, "--out", str(out), "--as-of", "2026-11-01T00:00"])
    bad = cli_main(["report", "--month", "2026/10", "--db", db])
    assert code == 0
    total = next(line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("total,"))
    assert total.split(",")[3:7] == ["5", "2", "3", "1"]
    assert bad == 2


def test_the_csv_carries_the_open_items_and_opens_as_utf8_in_a_spreadsheet(world: World, tmp_path: Path) -> None:
    """The CSV written by `cli.py report` starts with a BOM, and lists the open items to chase under the same
    header as the figures, with the deadline as the report writes it."""
    import csv

    from engine.deadline_text import deadline_plain as moment_text

    out = tmp_path / "report.csv"
    db = str(world.store.url).removeprefix("sqlite:///")
    assert cli_main(["report", "--month", "2026-10", "--db", db, "--out", str(out), "--as-of",
                     "2026-11-01T00:00"]) == 0
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    items = [r for r in rows if r["section"] == "open_item"]
    report = _build(world, MONTH_END)
    assert items
    assert [(r["business_key"], r["due_at"], int(r["late_working_days"]), int(r["escalation_level"]))
            for r in items] == [(i.record.business_key, moment_text(i.record.due), i.late_working_days,
                                 i.record.escalation_level) for i in report.open_items]
    assert {r["section"] for r in rows} == {"department", "procedure", "total", "open_item"}


def test_the_report_and_the_breach_notices_name_the_same_departments(world: World) -> None:
    """Every breach notice of the month names a department the report counts the late step against."""
    import json

    import sqlalchemy as sa

    from storage.tables import outbox_t

    with world.store.engine.connect() as conn:
        named = {json.loads(data)["department"] for data in conn.execute(
            sa.select(outbox_t.c.data).where(outbox_t.c.kind == "breach")).scalars()}
    late = {f.key for f in _build(world, MONTH_END).by_department if f.late or f.open_overdue}
    assert named and named == late


def test_a_workflow_whose_file_is_not_given_is_counted_from_its_stored_version(world: World, tmp_path: Path) -> None:
    """With --workflows naming a folder without the Liuzhou files, the report still counts each step under its
    department, from the versions stored in the database, as the engine serves those instances."""
    import shutil

    only_cq = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows" / "cq", only_cq / "cq")
    out = tmp_path / "report.csv"
    db = str(world.store.url).removeprefix("sqlite:///")
    code = cli_main(["report", "--month", "2026-10", "--db", db, "--out", str(out), "--as-of", "2026-11-01T00:00",
                     "--workflows", str(only_cq)])
    assert code == 0
    text = out.read_text(encoding="utf-8-sig")
    assert "柳州市公安局" in text and "柳州市信息化建设管理中心" in text
    assert "未知部门" not in text
