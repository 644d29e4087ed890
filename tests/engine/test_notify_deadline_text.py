"""Notices write a deadline one way: Beijing time, a deadline at the end of a day as 24:00 of that day, the same
in the 办理时限 line, the subject and the 办理要求 text; the task's role appears by its Chinese title."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI
from engine.deadline_text import deadline_day_and_time, deadline_plain, deadline_text
from engine.definitions import DefinitionSet
from notifiers.directory import YamlDirectory
from notifiers.rendering import Rendered, TemplateRenderer
from storage import open_store
from storage.tables import outbox_t

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "notifiers" / "example_directory.yaml"
POLICE, HRSS = "11450000MB0P27314C", "11450000MB0Q58261K"  # 公安厅 and 人社厅 in the example directory


def test_midnight_is_24_00_of_the_day_before() -> None:
    """00:00 of 10-10 in Beijing is the end of Friday 10-09: written 2026年10月9日 24:00."""
    assert deadline_text(datetime(2026, 10, 10, 0, 0, tzinfo=SHANGHAI)) == "2026年10月9日 24:00"
    assert deadline_plain(datetime(2026, 10, 10, 0, 0, tzinfo=SHANGHAI)) == "2026-10-09 24:00"


def test_a_moment_just_after_midnight_is_not_the_day_before() -> None:
    """One microsecond after 00:00 of 10-10 is on 10-10, not 24:00 of 10-09."""
    assert deadline_plain(datetime(2026, 10, 10, 0, 0, 0, 1, tzinfo=SHANGHAI)) == "2026-10-10 00:00"


def test_a_utc_moment_is_written_in_beijing_time() -> None:
    """16:00 UTC on 10-09 is 24:00 of 10-09 in Beijing; 01:30 UTC on 10-09 is 09:30 of 10-09."""
    assert deadline_text(datetime(2026, 10, 9, 16, 0, tzinfo=UTC)) == "2026年10月9日 24:00"
    assert deadline_text(datetime(2026, 10, 9, 1, 30, tzinfo=UTC)) == "2026年10月9日 09:30"


def test_a_deadline_inside_a_day_keeps_its_time() -> None:
    """A close-of-business or working-hour deadline is written at its own time on its own day."""
    moment = datetime(2026, 1, 2, 17, 0, tzinfo=SHANGHAI)
    assert deadline_day_and_time(moment) == (moment.date(), "17:00")
    assert deadline_plain(moment) == "2026-01-02 17:00"


def test_a_naive_moment_is_read_as_beijing_time() -> None:
    """A moment without zone is taken as Beijing time, not converted."""
    assert deadline_text(datetime.combine(datetime(2026, 3, 1).date(), time(0))) == "2026年2月28日 24:00"


def _mails(db_url: str) -> dict[str, tuple[str, Rendered, dict[str, Any]]]:
    """The bureau's normative review of a Guangxi data request received Wed 2026-09-30 10:00 (2 WD: 10-08 and
    10-09 after the National Day break, so due 24:00 10-09): its warning and breach, rendered per kind."""
    clock = ManualClock(datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI))
    store = open_store(db_url)
    engine = Engine(store, DefinitionSet.load([REPO / "workflows" / "gx" / "data_request.yaml"]), clock=clock,
                    directory=YamlDirectory(EXAMPLE))
    inst = engine.start("gx.data_request", "SQ-2026-0930", {
        "consumer_dept": HRSS, "provider_dept": POLICE, "resource_id": "RK-0001", "purpose": "核验",
        "sharing_type": "conditional"}, Actor("gx-rs-admin", frozenset({"data_admin"}), HRSS))
    for moment in (datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI), datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI)):
        clock.set(moment)
        engine.tick(moment)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox_t.c.kind, outbox_t.c.recipient, outbox_t.c.template, outbox_t.c.data)
                            .where(outbox_t.c.instance_id == inst.id)).all()
    engine.close()
    renderer = TemplateRenderer()
    return {r.kind: (r.recipient, renderer.render(r.template, json.loads(r.data)), json.loads(r.data))
            for r in rows if r.kind in ("warning", "breach")}


def test_warning_mail_on_real_dates(db_url: str) -> None:
    """The warning at 24:00 10-08 tells the bureau's reviewer the deadline 24:00 10-09, the same everywhere."""
    recipient, mail, data = _mails(db_url)["warning"]
    assert recipient == "gx-dsj-reviewer"
    assert mail.subject == ("【预警】数据需求申请（自治区）“数据需求规范性审查”"
                            "将于2026年10月9日 24:00到期（SQ-2026-0930）")
    assert mail.text == (
        "【预警】您承办的事项即将到期，请在办理时限前完成。\n"
        "\n"
        "流程：数据需求申请（自治区）\n"
        "业务编号：SQ-2026-0930\n"
        "责任部门：广西壮族自治区大数据发展局（11450000MB1A832730）\n"
        "当前环节：数据需求规范性审查（承办角色：自治区大数据发展局）\n"
        "办理时限：2026年10月9日 24:00\n"
        "办理要求：「数据需求规范性审查」即将到期，请在期限前办结（期限 2026年10月9日 24:00）"
    )
    assert data["due_text"] == "2026年10月9日 24:00"
    for part in (mail.subject, mail.text, mail.html, mail.markdown):
        assert "10月10日" not in part and "00:00" not in part and "bureau.reviewer" not in part


def test_breach_mail_on_real_dates(db_url: str) -> None:
    """The breach after 24:00 10-09, read Monday 10-12, names the same deadline, one working day late (Sat 10-10)."""
    recipient, mail, _ = _mails(db_url)["breach"]
    assert recipient == "gx-dsj-reviewer"
    assert mail.subject == "【超时】数据需求申请（自治区）“数据需求规范性审查”已超时1个工作日（SQ-2026-0930）"
    assert mail.text == (
        "【超时】以下事项已超过办理时限，请立即办理并说明原因。\n"
        "\n"
        "流程：数据需求申请（自治区）\n"
        "业务编号：SQ-2026-0930\n"
        "责任部门：广西壮族自治区大数据发展局（11450000MB1A832730）\n"
        "当前环节：数据需求规范性审查（承办角色：自治区大数据发展局）\n"
        "办理时限：2026年10月9日 24:00\n"
        "超时：1个工作日\n"
        "办理要求：「数据需求规范性审查」已超过办理时限，请立即办理并说明原因（期限 2026年10月9日 24:00）"
    )
    for part in (mail.subject, mail.text, mail.html, mail.markdown):
        assert "10月10日" not in part and "00:00" not in part and "bureau.reviewer" not in part
