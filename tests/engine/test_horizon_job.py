"""The worker's look at the calendar's reach: from late November 2026, with no 2027 file, the information centre's
operators are told once a working day that Liuzhou's publicity is refused from 18 December; the mail names the
files to add. Real outbox rows on the test database, delivered by the dispatcher to mail files."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.errors import PayloadInvalid
from engine.horizon_job import HorizonWatch, look_ahead
from engine.scheduler import EngineScheduler
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage import open_store
from storage.outbox import OutboxMessage, list_messages

MONDAY = datetime(2026, 11, 23, 8, 30, tzinfo=SHANGHAI)
SUNDAY = datetime(2026, 11, 29, 8, 30, tzinfo=SHANGHAI)


@pytest.fixture
def directory(tmp_path: Path) -> YamlDirectory:
    """Two operators of the information centre (one on two channels' worth of contacts: one), a supervisor."""
    path = tmp_path / "directory.yaml"
    path.write_text(f"""\
channels: {{file: {{type: file, dir: {tmp_path / 'mail'}}}}}
departments:
  - {{code: "12450200MB0G83912Y", name: 柳州市信息化建设管理中心, org: lz.center}}
people:
  - {{id: ops1, name: 黄立新, department: "12450200MB0G83912Y", roles: [center_operator],
     contacts: {{file: ops1@x.example.gov.cn}}}}
  - {{id: ops2, name: 莫晓梅, department: "12450200MB0G83912Y", roles: [center_operator],
     contacts: {{file: ops2@x.example.gov.cn}}}}
  - {{id: sup, name: 覃丽娟, roles: [data_supervisor], contacts: {{file: sup@x.example.gov.cn}}}}
""", encoding="utf-8")
    return YamlDirectory(path)


@pytest.fixture
def engine(db_url: str, shipped: DefinitionSet, directory: YamlDirectory) -> Engine:
    made = Engine(open_store(db_url), shipped, clock=ManualClock(MONDAY), directory=directory)
    yield made  # type: ignore[misc]
    made.close()


def notices(engine: Engine) -> dict[str, OutboxMessage]:
    with Session(engine.store.engine) as session:  # type: ignore[attr-defined]
        return {m.dedupe_key: m for m in list_messages(session) if m.template == "calendar_horizon"}


def test_the_operators_are_told_on_a_working_day(engine: Engine, directory: YamlDirectory,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.horizon_job"):
        run = look_ahead(engine, HorizonWatch(30, directory))
    assert [d.where for d in run.soon] == ["publicity"] and run.enqueued == 2
    found = notices(engine)
    assert sorted(found) == ["calendar:2026-11-23:ops1:file", "calendar:2026-11-23:ops2:file"]
    data = found["calendar:2026-11-23:ops1:file"].payload()
    assert (data["first_refused"], data["count"]) == ("2026-12-18", 1)
    assert [i["label"] for i in data["items"]] == ["publicity (timer)"]
    assert [Path(f).name for f in data["missing"]] == ["2027.yaml", "2027.yaml"]
    (said,) = [r.getMessage() for r in caplog.records if r.name == "engine.horizon_job"]
    assert "lz.resource_offlining's publicity (timer), 10 WD, is refused from 2026-12-18" in said


def test_once_a_day_however_many_looks(engine: Engine, db_url: str, shipped: DefinitionSet,
                                       directory: YamlDirectory) -> None:
    """A second look that day, and a second worker's, add nothing; the next working day has its own."""
    other = Engine(open_store(db_url), shipped, clock=ManualClock(MONDAY), directory=directory)
    try:
        assert look_ahead(engine, HorizonWatch(30, directory)).enqueued == 2
        assert look_ahead(other, HorizonWatch(30, directory)).enqueued == 0
        assert look_ahead(engine, HorizonWatch(30, directory), MONDAY.replace(hour=16)).enqueued == 0
        assert look_ahead(engine, HorizonWatch(30, directory), MONDAY.replace(day=24)).enqueued == 2
    finally:
        other.close()
    assert len(notices(engine)) == 4


def test_a_day_off_is_logged_but_not_mailed(engine: Engine, directory: YamlDirectory) -> None:
    run = look_ahead(engine, HorizonWatch(30, directory), SUNDAY)
    assert run.soon and run.enqueued == 0
    assert notices(engine) == {}


def test_nothing_within_the_window_says_nothing(engine: Engine, directory: YamlDirectory,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """25 days before the first refusal, a window of 25 days holds none of them."""
    with caplog.at_level(logging.WARNING, logger="engine.horizon_job"):
        run = look_ahead(engine, HorizonWatch(25, directory))
    assert (run.soon, run.enqueued) == ((), 0)
    assert run.horizon.first is not None  # found, but not yet to be told
    assert not [r for r in caplog.records if r.name == "engine.horizon_job"]
    assert notices(engine) == {}


def test_without_a_directory_the_log_alone_tells(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.horizon_job"):
        run = look_ahead(engine, HorizonWatch(30))
    assert run.soon and run.enqueued == 0
    assert [r.levelname for r in caplog.records if r.name == "engine.horizon_job"] == ["WARNING"]
    assert notices(engine) == {}


def test_the_mail_names_the_day_and_the_files(engine: Engine, directory: YamlDirectory, tmp_path: Path) -> None:
    look_ahead(engine, HorizonWatch(30, directory))
    dispatcher = OutboxDispatcher(engine.store.engine, directory.channels, TemplateRenderer(),  # type: ignore[attr-defined]
                                  engine.clock)
    assert dispatcher.dispatch() == 2
    (mail,) = (tmp_path / "mail" / "ops1").glob("*.eml")
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert "2026-12-18" in str(message["Subject"]) and "日历数据提醒" in str(message["Subject"])
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "政务数据资源（目录）下线" in text and "10 WD" in text and "cn-gx/2027.yaml" in text


def test_the_scheduler_looks_at_start_and_a_fault_does_not_stop_it(engine: Engine, directory: YamlDirectory,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """`run_horizon` keeps the result; a directory that fails is logged and the job returns."""
    scheduler = EngineScheduler(engine, interval=60, recurring=False, horizon=HorizonWatch(30, directory))
    run = scheduler.run_horizon()
    assert run is not None and run.enqueued == 2 and scheduler.last_horizon is run

    class Failing(YamlDirectory):
        def people(self, base_role: str, department: str | None):  # type: ignore[no-untyped-def]
            raise RuntimeError("directory service down")

    broken = EngineScheduler(engine, interval=60, recurring=False,
                             horizon=HorizonWatch(30, Failing(directory.path)))
    with caplog.at_level(logging.ERROR, logger="engine.scheduler"):
        assert broken.run_horizon() is None
    assert broken.errors == 1
    assert any("could not be checked" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("within", [0, -3, "30"])
def test_the_window_is_a_whole_number_of_days(within: object) -> None:
    with pytest.raises(PayloadInvalid, match="within"):
        HorizonWatch(within)  # type: ignore[arg-type]
