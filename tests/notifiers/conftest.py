"""Fixtures of the notifier tests: an outbox database (the suite's `db_url` when one exists, else SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from engine.clock import SHANGHAI, ManualClock
from notifiers.directory import YamlDirectory
from notifiers.errors import DirectoryError
from storage.outbox import TABLE
from storage.sql import database_url
from tests.notifiers.receivers import HttpServer, MailServer


@pytest.fixture
def outbox_engine(db_url: str) -> Iterator[Engine]:
    """An engine with a fresh outbox table, on each database of the suite's `db_url` (SQLite, PostgreSQL)."""
    engine = create_engine(database_url(db_url))
    TABLE.drop(engine, checkfirst=True)
    TABLE.create(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at 09:00 Shanghai time on a working day."""
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """A running SMTP server on 127.0.0.1 (stopped at the end)."""
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A running HTTP server on 127.0.0.1 that records POSTs."""
    server = HttpServer()
    server.start()
    yield server
    server.stop()


SAMPLE_DATA: dict[str, object] = {
    "workflow_id": "gx.data_request",
    "workflow_name": "数据需求申请",
    "business_key": "GX-2026-0042",
    "instance_id": "42",
    "state": "provider_approval",
    "state_title": "提供部门审批",
    "department": "11450200MB1234567X",
    "department_name": "柳州市公安局",
    "assignee_role": "provider.data_auditor",
    "due": "2026-11-26T00:00:00+08:00",
    "late_by": "1个工作日",
    "level": 1,
    "what_to_do": "请提供部门数据审核员登录平台完成审批",
    "outcome": None,
    "kind": "breach",
}


def one_contact_directory_problems(folder: Path, channel: str, contact: str) -> tuple[str, ...]:
    """The problems of a directory file (at `folder/d.yaml`) with one channel, given as its YAML flow mapping
    (`name: {...}`), and one person whose contact on it is `contact`, written on line 6."""
    path = folder / "d.yaml"
    name = channel.split(":", 1)[0]
    path.write_text(f"""\
channels:
  {channel}
departments:
  - {{code: 11450200007565127X, name: 柳州市公安局}}
people:
  - {{id: a, name: 甲, department: 11450200007565127X, roles: [data_auditor], contacts: {{{name}: {contact}}}}}
""", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        YamlDirectory(path)
    return caught.value.problems
