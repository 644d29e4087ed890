"""The daily digest: one message per supervisor and channel, scoped, enqueued once per day, rendered in full."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from engine.clock import ManualClock
from notifiers.daily_digest import build_daily_digests, enqueue_daily_digests
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage.outbox import list_messages
from tests.notifiers.conftest import SAMPLE_DATA

POLICE = "11450200007565127X"
MARKET = "11450200MB0K273590"


def directory(tmp_path: Path) -> YamlDirectory:
    path = tmp_path / "dir.yaml"
    path.write_text(f"""\
channels: {{file: {{type: file, dir: {tmp_path / 'mail'}}}, wx: {{type: wecom, key: k, url: "http://127.0.0.1:9/"}}}}
departments:
  - {{code: {POLICE}, name: 柳州市公安局}}
  - {{code: {MARKET}, name: 柳州市市场监督管理局}}
people:
  - {{id: city, name: 梁建国, roles: [data_supervisor], contacts: {{file: city@x.example.gov.cn, wx: liangjg}}}}
  - {{id: police, name: 陆振华, roles: [data_supervisor], contacts: {{file: p@x.example.gov.cn}}, scope: [{POLICE}]}}
  - {{id: admin, name: 莫小红, roles: [data_admin], contacts: {{file: a@x.example.gov.cn}}}}
""", encoding="utf-8")
    return YamlDirectory(path)


def overdue() -> list[dict[str, object]]:
    return [
        dict(SAMPLE_DATA, business_key="B-2", department=MARKET, due="2026-11-20T00:00:00+08:00"),
        dict(SAMPLE_DATA, business_key="B-1", department=POLICE, due="2026-11-18T00:00:00+08:00"),
        dict(SAMPLE_DATA, business_key="B-3", department=MARKET, due="2026-11-21T00:00:00+08:00"),
    ]


def test_one_digest_per_supervisor_and_channel_within_scope(tmp_path: Path, clock: ManualClock) -> None:
    """Each supervisor gets one row per channel; a scoped supervisor sees only their departments; by due time."""
    rows = build_daily_digests(directory(tmp_path), overdue(), date(2026, 11, 23), clock.now())
    by_key = {r["dedupe_key"]: r for r in rows}
    assert sorted(by_key) == ["daily:2026-11-23:city:file", "daily:2026-11-23:city:wx", "daily:2026-11-23:police:file"]
    city_items = by_key["daily:2026-11-23:city:file"]["data"]["items"]
    assert [i["business_key"] for i in city_items] == ["B-1", "B-2", "B-3"]
    assert [i["business_key"] for i in by_key["daily:2026-11-23:police:file"]["data"]["items"]] == ["B-1"]
    assert by_key["daily:2026-11-23:city:wx"]["recipient_address"] == "liangjg"


def test_nothing_overdue_in_scope_means_no_digest(tmp_path: Path, clock: ManualClock) -> None:
    """A supervisor with nothing overdue in scope gets no (empty) digest."""
    items = [i for i in overdue() if i["department"] == MARKET]
    rows = build_daily_digests(directory(tmp_path), items, date(2026, 11, 23), clock.now(), channels={"file"})
    assert [r["recipient"] for r in rows] == ["city"]


def test_enqueued_once_per_day_and_delivered(tmp_path: Path, clock: ManualClock, outbox_engine: Engine) -> None:
    """Enqueuing twice the same day adds nothing; the digest renders every item and is delivered."""
    d = directory(tmp_path)
    with outbox_engine.begin() as conn:
        first = enqueue_daily_digests(conn, d, overdue(), date(2026, 11, 23), clock.now(), channels={"file"})
    with outbox_engine.begin() as conn:
        again = enqueue_daily_digests(conn, d, overdue(), date(2026, 11, 23), clock.now(), channels={"file"})
    handled = OutboxDispatcher(outbox_engine, d.channels, TemplateRenderer(), clock).dispatch()
    with Session(outbox_engine) as session:
        statuses = sorted(m.status for m in list_messages(session))
    mails = sorted((tmp_path / "mail" / "city").glob("*.eml"))
    assert (first, again, handled) == (2, 0, 2)
    assert statuses == ["sent", "sent"]
    content = mails[0].read_bytes().decode("ascii", errors="replace")
    assert len(mails) == 1 and "daily:2026-11-23:city:file" in content
