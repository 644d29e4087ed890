"""The daily overdue list: on working days of the national calendar only, scoped per supervisor, enqueued once a
day whoever runs it, and delivered by the dispatcher with every overdue case in the mail.

The dates are the 2026 schedule's (calendars/data/cn/2026.yaml): 中秋节 keeps 25-27 September off (Friday to
Sunday), 国庆节 1-7 October; Sunday 20 September and Saturday 10 October are make-up working days.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.daily_digest_job import all_overdue, send_daily_digest
from engine.views import OverdueItem
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage.outbox import OutboxMessage, list_messages
from tests.engine.conftest import CONSUMER, CONSUMER_ADMIN, OTHER, PROVIDER, SUPERVISOR, MakeEngine, flow_vars

#: Friday 18 September 2026: the review's 5 WD are 20 (a make-up Sunday), 21, 22, 23 and 24 September, so it
#: falls due at 24:00 on Thursday 24 September, the last working day before the Mid-Autumn days off.
STARTED = datetime(2026, 9, 18, 10, 0, tzinfo=SHANGHAI)
MONDAY = datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI)


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=SHANGHAI)


@pytest.fixture
def directory(tmp_path: Path) -> YamlDirectory:
    """A city-wide supervisor, one scoped to the provider department, one scoped to an uninvolved department."""
    path = tmp_path / "directory.yaml"
    path.write_text(f"""\
channels: {{file: {{type: file, dir: {tmp_path / 'mail'}}}}}
departments:
  - {{code: "{CONSUMER}", name: 柳州市人力资源和社会保障局}}
  - {{code: "{PROVIDER}", name: 柳州市公安局}}
  - {{code: "{OTHER}", name: 柳州市自然资源和规划局}}
people:
  - {{id: city, name: 梁建国, roles: [data_supervisor], contacts: {{file: city@x.example.gov.cn}}}}
  - {{id: police, name: 陆振华, roles: [data_supervisor], contacts: {{file: p@x.gov.cn}}, scope: ["{PROVIDER}"]}}
  - {{id: land, name: 韦海燕, roles: [data_supervisor], contacts: {{file: l@x.example.gov.cn}}, scope: ["{OTHER}"]}}
  - {{id: bob, name: 蓝志强, department: "{PROVIDER}", roles: [data_auditor], contacts: {{file: b@x.example.gov.cn}}}}
""", encoding="utf-8")
    return YamlDirectory(path)


@pytest.fixture
def late(make_engine: MakeEngine, clock: ManualClock, directory: YamlDirectory) -> Engine:
    """An engine with one review started on 18 September and never done."""
    clock.set(STARTED)
    engine = make_engine(directory=directory)
    engine.start("common.test_flow", "LZ-2026-0918", flow_vars(), CONSUMER_ADMIN)
    return engine


def digests(engine: Engine) -> dict[str, OutboxMessage]:
    with Session(engine.store.engine) as session:  # type: ignore[attr-defined]
        return {m.dedupe_key: m for m in list_messages(session) if m.template == "daily_digest"}


def test_the_monday_list_names_the_review_late_since_thursday(late: Engine, clock: ManualClock,
                                                              directory: YamlDirectory) -> None:
    """On Monday 28 September the city-wide and the police supervisor each get the review, at level 1; the
    supervisor of an uninvolved department gets nothing."""
    clock.set(MONDAY)
    run = send_daily_digest(late, directory)
    found = digests(late)
    assert (run.working_day, run.overdue, run.enqueued) == (True, 1, 2)
    assert sorted(found) == ["daily:2026-09-28:city:file", "daily:2026-09-28:police:file"]
    (item,) = found["daily:2026-09-28:police:file"].payload()["items"]
    assert item["business_key"] == "LZ-2026-0918"
    assert item["due"] == "2026-09-25T00:00:00+08:00"
    assert (item["state_title"], item["department"], item["department_name"]) == ("审查", PROVIDER, "柳州市公安局")
    assert (item["level"], item["late_by"]) == (1, "不足1个工作日")  # level 1 is at the due time; no WD has ended


@pytest.mark.parametrize("day", ["2026-09-25", "2026-09-26", "2026-09-27", "2026-10-01", "2026-10-04", "2026-10-07"])
def test_no_list_on_a_day_off(late: Engine, clock: ManualClock, directory: YamlDirectory, day: str) -> None:
    """On the Mid-Autumn and National Day days off, weekend ones included, nothing is enqueued."""
    clock.set(at(day))
    run = send_daily_digest(late, directory)
    assert (run.working_day, run.enqueued) == (False, 0)
    assert digests(late) == {}


@pytest.mark.parametrize("day", ["2026-09-29", "2026-10-08", "2026-10-10"])
def test_a_list_on_each_working_day_make_up_saturday_included(late: Engine, clock: ManualClock,
                                                               directory: YamlDirectory, day: str) -> None:
    """The next working days after the holidays, Saturday 10 October (调休上班) among them, each have their list."""
    clock.set(at(day))
    run = send_daily_digest(late, directory)
    assert (run.working_day, run.enqueued) == (True, 2)
    assert f"daily:{day}:city:file" in digests(late)


@pytest.mark.parametrize(("day", "working"), [("2027-01-04", True), ("2027-01-01", False), ("2027-01-02", False)])
def test_a_january_without_its_schedule_still_has_its_lists(late: Engine, clock: ManualClock, directory: YamlDirectory,
                                                             day: str, working: bool) -> None:
    """No 2027 file, a strict engine: the list still goes out on Monday 4 January, and not on New Year's Day (a
    fixed-date holiday) or a Saturday, as the guess of a year without data has them."""
    clock.set(at(day))
    assert late.parts.sla.allow_provisional is False
    run = send_daily_digest(late, directory)
    assert (run.working_day, run.enqueued) == (working, 2 if working else 0)


def test_lateness_and_level_grow_over_the_days_off(late: Engine, clock: ManualClock, directory: YamlDirectory) -> None:
    """On 8 October the review is 3 working days late (28, 29, 30 September) and at level 2 (2 WD after due)."""
    clock.set(at("2026-10-08"))
    send_daily_digest(late, directory)
    (item,) = digests(late)["daily:2026-10-08:city:file"].payload()["items"]
    assert (item["late_by"], item["level"]) == ("3个工作日", 2)


def test_two_workers_and_a_restart_enqueue_each_list_once(late: Engine, make_engine: MakeEngine, clock: ManualClock,
                                                          directory: YamlDirectory) -> None:
    """The same day's run by a second engine on the database, and again later that day, adds nothing."""
    clock.set(MONDAY)
    other = make_engine(directory=directory)
    first = send_daily_digest(late, directory)
    second = send_daily_digest(other, directory)
    clock.set(at("2026-09-28", 16))
    third = send_daily_digest(late, directory)
    assert (first.enqueued, second.enqueued, third.enqueued) == (2, 0, 0)
    assert len(digests(late)) == 2


def test_nothing_overdue_sends_nothing(make_engine: MakeEngine, clock: ManualClock, directory: YamlDirectory) -> None:
    """A working day with no overdue clock enqueues no (empty) list."""
    clock.set(at("2026-09-21"))
    engine = make_engine(directory=directory)
    engine.start("common.test_flow", "LZ-ON-TIME", flow_vars(), CONSUMER_ADMIN)
    run = send_daily_digest(engine, directory)
    assert (run.working_day, run.overdue, run.enqueued) == (True, 0, 0)
    assert digests(engine) == {}


def test_a_clock_stopped_between_two_pages_costs_the_list_no_other(make_engine: MakeEngine, clock: ManualClock,
                                                                    directory: YamlDirectory) -> None:
    """Nine late cases, pages of four: the first case is cancelled right after the first page is read, which moves
    every later clock up a place. The next page still starts early enough: each of the nine is listed, once."""
    engine = make_engine(directory=directory)
    started = []
    for n in range(9):
        clock.set(STARTED.replace(minute=n))
        started.append(engine.start("common.test_flow", f"LZ-S-{n}", flow_vars(), CONSUMER_ADMIN))
    clock.set(MONDAY)
    read = engine.overdue

    def overdue_then_cancel(*args: object, **kwargs: object) -> list[OverdueItem]:
        page = read(*args, **kwargs)  # type: ignore[arg-type]
        if kwargs.get("offset") == 0:
            engine.cancel(started[0].id, SUPERVISOR, "撤回")
        return page

    engine.overdue = overdue_then_cancel  # type: ignore[method-assign]
    items = all_overdue(engine, MONDAY, page=4)
    assert [item.instance.business_key for item in items] == [f"LZ-S-{n}" for n in range(9)]


def test_every_overdue_clock_is_read_past_a_full_page(make_engine: MakeEngine, clock: ManualClock,
                                                      directory: YamlDirectory) -> None:
    """With more overdue clocks than a page, all of them are read (the page grows), and all reach the list."""
    clock.set(STARTED)
    engine = make_engine(directory=directory)
    for n in range(7):
        engine.start("common.test_flow", f"LZ-P-{n}", flow_vars(), CONSUMER_ADMIN)
    clock.set(MONDAY)
    assert len(engine.overdue(MONDAY, limit=2)) == 2
    assert len(all_overdue(engine, MONDAY, page=2)) == 7
    send_daily_digest(engine, directory)
    items = digests(engine)["daily:2026-09-28:city:file"].payload()["items"]
    assert sorted(i["business_key"] for i in items) == [f"LZ-P-{n}" for n in range(7)]


def test_the_file_channel_delivers_the_list_with_its_items(late: Engine, clock: ManualClock,
                                                           directory: YamlDirectory, tmp_path: Path) -> None:
    """The dispatcher sends the police supervisor's list to a mail file whose text names the late review."""
    clock.set(MONDAY)
    send_daily_digest(late, directory)
    dispatcher = OutboxDispatcher(late.store.engine, directory.channels, TemplateRenderer(), clock)  # type: ignore[attr-defined]
    dispatcher.dispatch()
    (mail,) = (tmp_path / "mail" / "police").glob("*.eml")
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "每日超时汇总" in str(message["Subject"]) and "共1项" in str(message["Subject"])
    assert "LZ-2026-0918" in text and "柳州市公安局" in text and "审查" in text
    assert "2026年9月24日 24:00" in text
