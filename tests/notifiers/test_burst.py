"""A burst of breaches reaches a supervisor as one digest however many workers run: a new breach or escalation
waits for the settle window, so another worker's round cannot send part of a burst still being written."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from engine import Actor, ManualClock
from engine import Engine as WorkflowEngine
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.events import EngineEvent
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import DEFAULT_SETTLE, DigestPolicy, OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage import open_store
from tests.notifiers.receivers import MailServer
from tests.notifiers.test_dispatcher import enqueue, messages, smtp

ROOT = Path(__file__).resolve().parents[2]
POLICE, MARKET = "11450200007565127X", "11450200MB0K273590"


def test_a_burst_written_during_another_workers_rounds_becomes_one_digest(
    outbox_engine: Engine, clock: ManualClock, mail_server: MailServer
) -> None:
    """Twelve breaches written one per transaction, a second dispatcher's round after each: none goes out alone,
    and once the settle window has passed one digest carries all twelve."""
    channels = smtp(mail_server.port, clock)
    writer, other = (OutboxDispatcher(outbox_engine, channels, TemplateRenderer(), clock, worker_id=name,
                                      digest=DigestPolicy(threshold=5)) for name in ("writer", "other"))
    during = []
    for i in range(12):
        enqueue(outbox_engine, clock, 1, kind="breach", recipient="supervisor", start=i)
        during.append(other.dispatch(clock.now()))
    during.append(writer.dispatch(clock.now()))
    clock.advance(DEFAULT_SETTLE)
    after = [other.dispatch(clock.now()), writer.dispatch(clock.now())]
    statuses = Counter((m.kind, m.status) for m in messages(outbox_engine))
    assert during == [0] * 13
    assert after == [12 + 1, 0]
    assert statuses == Counter({("breach", "digested"): 12, ("digest", "sent"): 1})
    assert [str(mail["Subject"])[:9] for mail in mail_server.inbox] == ["【督办汇总】12项"]


def test_a_burst_still_arriving_after_the_threshold_waits_to_fold_whole(
    outbox_engine: Engine, clock: ManualClock, mail_server: MailServer
) -> None:
    """Six breaches, a round, six more: the first six are not folded on their own while the burst is young."""
    dispatcher = OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock,
                                  digest=DigestPolicy(threshold=5))
    enqueue(outbox_engine, clock, 6, kind="breach", recipient="supervisor")
    early = dispatcher.dispatch()
    clock.advance(timedelta(seconds=2))
    enqueue(outbox_engine, clock, 6, kind="breach", recipient="supervisor", start=6)
    clock.advance(DEFAULT_SETTLE)
    settled = dispatcher.dispatch()
    [digest] = [m for m in messages(outbox_engine) if m.kind == "digest"]
    assert (early, settled) == (0, 12 + 1)
    assert (digest.payload()["count"], digest.payload()["messages"]) == (12, 12)
    assert len(mail_server.inbox) == 1


def test_a_lone_breach_waits_only_for_the_settle_window(
    outbox_engine: Engine, clock: ManualClock, mail_server: MailServer
) -> None:
    """A breach below the threshold goes out on its own once the settle window has passed; a warning at once."""
    dispatcher = OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock,
                                  settle=timedelta(seconds=4))
    enqueue(outbox_engine, clock, 1, kind="breach", recipient="auditor", prefix="b")
    enqueue(outbox_engine, clock, 1, kind="warning", recipient="auditor", prefix="w")
    at_once = dispatcher.dispatch()
    clock.advance(timedelta(seconds=3))
    too_soon = dispatcher.dispatch()
    clock.advance(timedelta(seconds=1))
    settled = dispatcher.dispatch()
    assert (at_once, too_soon, settled) == (1, 0, 1)
    assert [m.status for m in messages(outbox_engine)] == ["sent", "sent"]


def test_nothing_waits_where_digests_are_off(outbox_engine: Engine, clock: ManualClock,
                                             mail_server: MailServer) -> None:
    """With no threshold for a recipient there is nothing to fold: its breaches go out in the round they come."""
    enqueue(outbox_engine, clock, 2, kind="breach", recipient="quiet", prefix="q")
    enqueue(outbox_engine, clock, 2, kind="breach", recipient="lead", prefix="l")
    policy = DigestPolicy(threshold=5, per_recipient={"quiet": None})
    handled = OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock,
                               digest=policy).dispatch()
    statuses = Counter((m.recipient, m.status) for m in messages(outbox_engine))
    assert handled == 2
    assert statuses == Counter({("quiet", "sent"): 2, ("lead", "pending"): 2})


def test_two_engines_ticking_through_a_burst_send_the_supervisor_one_digest(db_url: str, tmp_path: Path) -> None:
    """Twelve late cases fire in one engine's tick while the other engine ticks after each breach it commits:
    the supervisor gets one 督办汇总 with every case, and no single 督办 mail."""
    config = tmp_path / "directory.yaml"
    config.write_text((ROOT / "notifiers" / "example_directory.yaml").read_text(encoding="utf-8")
                      .replace("dir: var/notifications", f"dir: {tmp_path / 'mail'}"), encoding="utf-8")
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    directory = YamlDirectory(config, clock)

    def worker(name: str) -> WorkflowEngine:
        store = open_store(db_url)
        dispatcher = OutboxDispatcher(store.engine, directory.channels, TemplateRenderer(), clock, worker_id=name)
        engine = WorkflowEngine(store, DefinitionSet(), clock=clock, directory=directory, dispatcher=dispatcher,
                                worker_id=name)
        engine.add_definition((ROOT / "workflows" / "lz" / "data_request.yaml").read_text(encoding="utf-8"),
                              "workflows/lz/data_request.yaml")
        return engine

    first, second = worker("w1"), worker("w2")
    try:
        consumer = Actor("lz-scjg-admin", frozenset({"data_admin"}), MARKET)
        for k in range(12):
            first.start("lz.data_request", f"LZ-2026-{k:04d}", {
                "consumer_dept": MARKET, "provider_dept": POLICE, "resource_id": "LZ-GA-001",
                "resource_name": "户籍人口基本信息", "purpose": "核验", "sharing_type": "conditional"}, consumer)
        first.tick(clock.now())
        clock.set(datetime(2026, 3, 12, 9, 0, tzinfo=SHANGHAI))  # every case is late: breach and 督办 at once

        def other_worker_ticks(_event: EngineEvent) -> None:
            second.tick(clock.now())

        first.subscribe("breach", other_worker_ticks)
        first.tick(clock.now())
        second.tick(clock.now())
        clock.advance(DEFAULT_SETTLE)
        first.tick(clock.now())
        second.tick(clock.now())
    finally:
        first.close()
        second.close()
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in sorted((tmp_path / "mail" / "lz-dsj-supervisor").glob("*.eml"))]
    late = [mail for mail in mails if not str(mail["Subject"]).startswith(("【待办】", "【预警】"))]
    [digest] = late
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert str(digest["Subject"]).startswith("【督办汇总】12项")
    assert all(f"LZ-2026-{k:04d}" in text for k in range(12))
