"""From a real workflow to a delivered alert: the engine writes the outbox, its tick dispatches to people."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from pathlib import Path

from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import DEFAULT_SETTLE, OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage import open_store

ROOT = Path(__file__).resolve().parents[2]
POLICE = "11450200007565127X"
MARKET = "11450200MB0K273590"


def inbox(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
    ]


def subjects(folder: Path) -> list[str]:
    return sorted(str(m["Subject"]) for m in inbox(folder))


def test_a_late_approval_reaches_the_auditor_and_the_supervisor(db_url: str, tmp_path: Path) -> None:
    """Liuzhou data request: assignment on start, warning, breach to the auditor and 督办 to the supervisor."""
    example = (ROOT / "notifiers" / "example_directory.yaml").read_text(encoding="utf-8")
    config = tmp_path / "directory.yaml"
    config.write_text(example.replace("dir: var/notifications", f"dir: {tmp_path / 'mail'}"), encoding="utf-8")
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))  # Monday
    directory = YamlDirectory(config, clock)
    store = open_store(db_url)
    dispatcher = OutboxDispatcher(store.engine, directory.channels, TemplateRenderer(), clock)
    engine = Engine(store, DefinitionSet(), clock=clock, directory=directory, dispatcher=dispatcher)
    try:
        engine.add_definition((ROOT / "workflows" / "lz" / "data_request.yaml").read_text(encoding="utf-8"),
                              "workflows/lz/data_request.yaml")
        consumer = Actor("lz-scjg-admin", frozenset({"data_admin"}), MARKET)
        engine.start("lz.data_request", "LZ-2026-0007", {
            "consumer_dept": MARKET, "provider_dept": POLICE, "resource_id": "LZ-GA-001",
            "resource_name": "户籍人口基本信息", "purpose": "办理企业开办登记核验", "sharing_type": "conditional",
        }, consumer)
        first = engine.tick(clock.now())
        clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=SHANGHAI))  # due at the end of 9 March (5 WD after the 2nd)
        warned = engine.tick(clock.now())
        clock.set(datetime(2026, 3, 12, 9, 0, tzinfo=SHANGHAI))
        later = engine.tick(clock.now())
        clock.advance(DEFAULT_SETTLE)  # the breach and 督办 wait for the settle window, then go out
        settled = engine.tick(clock.now())
    finally:
        engine.close()
    auditor = subjects(tmp_path / "mail" / "lz-gaj-auditor")
    supervisor = subjects(tmp_path / "mail" / "lz-dsj-supervisor")
    admin = subjects(tmp_path / "mail" / "lz-gaj-admin")
    assert (first.dispatched, warned.dispatched) == (2, 1)  # the 待办 to the provider's auditor and data admin
    assert any(s.startswith("【待办】数据需求申请（柳州市）“提供部门审批”") for s in admin)
    assert later.dispatched + settled.dispatched >= 3
    assert any(s.startswith("【待办】数据需求申请（柳州市）“提供部门审批”") for s in auditor)
    assert any(s.startswith("【预警】") for s in auditor)
    assert any(s.startswith("【超时】") and "LZ-2026-0007" in s for s in auditor)
    assert any(re.match(r"【督办·第1级】.*LZ-2026-0007", s) for s in supervisor)
    body = next(m for m in inbox(tmp_path / "mail" / "lz-dsj-supervisor")).get_body(("plain",))
    assert body is not None and "柳州市公安局" in body.get_content()
