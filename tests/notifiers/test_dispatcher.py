"""The outbox dispatcher: delivery through outages, back-off, dead-letter, digests, template errors, claim expiry."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from engine.clock import ManualClock
from notifiers.base import Notifier, create_channel
from notifiers.dispatcher import DEFAULT_SETTLE, Backoff, DigestPolicy, OutboxDispatcher
from notifiers.rendering import TEMPLATES_DIR, TemplateRenderer
from storage.outbox import OutboxMessage, claim_due, insert_outbox_ignore_duplicates, list_messages
from tests.notifiers.conftest import SAMPLE_DATA
from tests.notifiers.receivers import HttpServer, MailServer

BACKOFF = Backoff(base=timedelta(seconds=30), maximum=timedelta(minutes=10), jitter=0.5)


def enqueue(engine: Engine, clock: ManualClock, n: int, *, kind: str = "warning", recipient: str = "p{i}",
            channel: str = "email", template: str | None = None, prefix: str = "m", start: int = 0) -> None:
    rows = []
    for i in range(start, start + n):
        rows.append({
            "created_at": clock.now(), "channel": channel, "recipient": recipient.format(i=i),
            "recipient_address": f"{recipient.format(i=i)}@example.gov.cn",
            "template": template or {"warning": "sla_warning", "breach": "sla_breach"}.get(kind, "sla_escalation"),
            "data": dict(SAMPLE_DATA, business_key=f"GX-2026-{i:04d}", kind=kind), "kind": kind,
            "dedupe_key": f"{prefix}:{i}", "instance_id": str(i),
        })
    with engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, rows)


def messages(engine: Engine) -> list[OutboxMessage]:
    with Session(engine, expire_on_commit=False) as session:
        return sorted(list_messages(session), key=lambda m: m.id or 0)


def smtp(port: int, clock: ManualClock) -> dict[str, Notifier]:
    return {"email": create_channel("email", {"type": "smtp", "host": "127.0.0.1", "port": port,
                                              "from": "shixian@example.gov.cn", "timeout": 2}, clock)}


def test_alerts_survive_a_mail_outage(outbox_engine: Engine, clock: ManualClock) -> None:
    """With the mail server down for three rounds, every alert arrives once it returns: none lost, none doubled.
    While it is down each round tries one message; the others wait untried, their attempts not counted."""
    server = MailServer()  # not started: connection refused
    enqueue(outbox_engine, clock, 7)
    dispatcher = OutboxDispatcher(outbox_engine, smtp(server.port, clock), TemplateRenderer(), clock,
                                  backoff=BACKOFF, max_attempts=10, rng=random.Random(7))
    handled = [dispatcher.dispatch()]
    for _ in range(2):
        assert dispatcher.dispatch() == 0  # nothing is due before the back-off has passed
        clock.advance(BACKOFF.maximum)
        handled.append(dispatcher.dispatch())
    after_outage = messages(outbox_engine)
    server.start()
    try:
        clock.advance(BACKOFF.maximum)
        handled.append(dispatcher.dispatch())
        clock.advance(BACKOFF.maximum)
        handled.append(dispatcher.dispatch())
    finally:
        server.stop()
    final = messages(outbox_engine)
    received = Counter(str(mail["X-Shixian-Dedupe-Key"]) for mail in server.inbox)
    assert handled == [1, 1, 1, 7, 0]
    assert {m.status for m in after_outage} == {"pending"}
    assert sorted(m.attempts for m in after_outage) == [0] * 6 + [3]
    assert "unreachable" in (after_outage[0].last_error or "")
    assert received == Counter({f"m:{i}": 1 for i in range(7)})
    assert [m.status for m in final] == ["sent"] * 7
    assert all(m.sent_at == clock.now() - BACKOFF.maximum for m in final)


def test_back_off_grows_exponentially_with_bounded_jitter(outbox_engine: Engine, clock: ManualClock) -> None:
    """Each retry waits base*2^(n-1), capped, less at most the jitter fraction."""
    rng = random.Random(1)
    delays = [BACKOFF.delay(n, rng) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        full = min(BACKOFF.base * 2 ** (n - 1), BACKOFF.maximum)
        assert full * (1 - BACKOFF.jitter) <= delay <= full
    assert delays[-1] <= BACKOFF.maximum


def test_retry_time_follows_the_back_off(outbox_engine: Engine, clock: ManualClock) -> None:
    """A failed message is due again exactly after the delay the back-off draws from the injected RNG."""
    server = MailServer()
    enqueue(outbox_engine, clock, 1)
    OutboxDispatcher(outbox_engine, smtp(server.port, clock), TemplateRenderer(), clock, backoff=BACKOFF,
                     rng=random.Random(3)).dispatch()
    [msg] = messages(outbox_engine)
    assert msg.next_attempt_at == clock.now() + BACKOFF.delay(1, random.Random(3))


def test_dead_letter_after_max_attempts(outbox_engine: Engine, clock: ManualClock) -> None:
    """After max_attempts transient failures a message is dead, kept with its last error."""
    server = MailServer()
    enqueue(outbox_engine, clock, 2)
    dispatcher = OutboxDispatcher(outbox_engine, smtp(server.port, clock), TemplateRenderer(), clock,
                                  backoff=BACKOFF, max_attempts=3, rng=random.Random(0))
    for _ in range(5):
        dispatcher.dispatch()
        clock.advance(BACKOFF.maximum)
    final = messages(outbox_engine)
    assert [(m.status, m.attempts) for m in final] == [("dead", 3), ("dead", 3)]
    assert all("after 3 attempts" in (m.last_error or "") for m in final)


def test_permanent_failure_goes_dead_at_once(outbox_engine: Engine, clock: ManualClock,
                                             http_server: HttpServer) -> None:
    """A failure retrying cannot fix (robot says the signature is wrong) is dead-lettered on the first attempt."""
    http_server.behaviour.body = b'{"errcode":310000,"errmsg":"sign not match"}'
    channels = {"ding": create_channel("ding", {"type": "dingtalk", "webhook": http_server.url("/send"),
                                                "secret": "s"}, clock)}
    enqueue(outbox_engine, clock, 1, channel="ding")
    OutboxDispatcher(outbox_engine, channels, TemplateRenderer(), clock, max_attempts=5).dispatch()
    [msg] = messages(outbox_engine)
    assert (msg.status, msg.attempts) == ("dead", 1)
    assert "310000" in (msg.last_error or "")


def test_template_error_is_recorded_and_does_not_block_others(
    outbox_engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    """A broken template dead-letters its own message with name:line; the other messages are sent."""
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    (templates / "broken.j2").write_text(
        "{% block subject %}s{% endblock %}\n{% block text %}\n{{ business_key.__class__ }}\n{% endblock %}\n",
        encoding="utf-8",
    )
    enqueue(outbox_engine, clock, 2, prefix="ok", channel="file")
    enqueue(outbox_engine, clock, 1, prefix="bad", channel="file", template="broken", recipient="q{i}")
    channels = {"file": create_channel("file", {"type": "file", "dir": str(tmp_path / "mail")}, clock)}
    handled = OutboxDispatcher(outbox_engine, channels, TemplateRenderer(templates), clock).dispatch()
    status = {m.dedupe_key: (m.status, m.last_error) for m in messages(outbox_engine)}
    assert handled == 3
    assert status["ok:0"][0] == status["ok:1"][0] == "sent"
    assert status["bad:0"][0] == "dead"
    assert "broken.j2:3" in (status["bad:0"][1] or "")
    assert len(list((tmp_path / "mail").rglob("*.eml"))) == 2


def test_unknown_channel_goes_dead(outbox_engine: Engine, clock: ManualClock) -> None:
    """A message for a channel that is not configured is dead-lettered naming the configured ones."""
    enqueue(outbox_engine, clock, 1, channel="pager")
    OutboxDispatcher(outbox_engine, {}, TemplateRenderer(), clock).dispatch()
    [msg] = messages(outbox_engine)
    assert msg.status == "dead"
    assert "no channel 'pager'" in (msg.last_error or "")


def test_many_breaches_become_one_digest(outbox_engine: Engine, clock: ManualClock, mail_server: MailServer) -> None:
    """Six breaches for one supervisor become one digest mail; the items are marked digested, none lost."""
    enqueue(outbox_engine, clock, 6, kind="breach", recipient="supervisor")
    enqueue(outbox_engine, clock, 2, kind="breach", recipient="admin", prefix="few")
    clock.advance(DEFAULT_SETTLE)
    dispatcher = OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock,
                                  digest=DigestPolicy(threshold=5))
    handled = dispatcher.dispatch()
    final = messages(outbox_engine)
    [digest] = [m for m in final if m.kind == "digest"]
    items = [m for m in final if m.recipient == "supervisor" and m.kind == "breach"]
    to_supervisor = [mail for mail in mail_server.inbox if str(mail["To"]) == "supervisor@example.gov.cn"]
    body = to_supervisor[0].get_body(("plain",))
    assert handled == 6 + 1 + 2
    assert digest.status == "sent" and digest.template == "supervisor_digest"
    assert {(m.status, m.digest_id) for m in items} == {("digested", digest.id)}
    assert len(to_supervisor) == 1
    assert body is not None and all(f"GX-2026-{i:04d}" in body.get_content() for i in range(6))
    assert "6项" in str(to_supervisor[0]["Subject"])
    assert len(mail_server.inbox) == 3


def test_an_assignees_burst_of_breaches_is_told_to_act_not_to_chase(outbox_engine: Engine, clock: ManualClock,
                                                                     mail_server: MailServer) -> None:
    """Six breaches of the provider auditor's own steps (told as the steps' assignee) fold into one digest that
    tells them to act and explain, as a single breach does, not to chase the responsible departments."""
    rows = [{"created_at": clock.now(), "channel": "email", "recipient": "auditor",
             "recipient_address": "auditor@example.gov.cn", "template": "sla_breach", "kind": "breach",
             # told in the role the step is assigned to
             "data": dict(SAMPLE_DATA, business_key=f"GX-2026-{i:04d}", kind="breach", role="provider.data_auditor"),
             "dedupe_key": f"own:{i}", "instance_id": str(i)} for i in range(6)]
    with outbox_engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, rows)
    clock.advance(DEFAULT_SETTLE)
    OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock,
                     digest=DigestPolicy(threshold=5)).dispatch()
    [mail] = mail_server.inbox
    body = mail.get_body(("plain",))
    assert str(mail["Subject"]).startswith("【超时汇总】6项事项已超过办理时限")
    assert body is not None and "请立即逐项办理并说明原因" in body.get_content()
    assert "督促" not in body.get_content()


def test_a_digest_lists_each_late_step_once_at_its_highest_level(outbox_engine: Engine, clock: ManualClock,
                                                                  mail_server: MailServer) -> None:
    """Four breaches, two of them with level 2 pending as well: the digest counts four cases (six messages
    folded) and shows the two escalated ones once each, at level 2."""
    enqueue(outbox_engine, clock, 4, kind="breach", recipient="supervisor")
    rows = []
    for i in range(2):
        rows.append({"created_at": clock.now(), "channel": "email", "recipient": "supervisor",
                     "recipient_address": "supervisor@example.gov.cn", "template": "sla_escalation",
                     "data": dict(SAMPLE_DATA, business_key=f"GX-2026-{i:04d}", kind="escalation", level=2),
                     "kind": "escalation", "dedupe_key": f"esc:{i}", "instance_id": str(i)})
    with outbox_engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, rows)
    clock.advance(DEFAULT_SETTLE)
    OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock,
                     digest=DigestPolicy(threshold=5)).dispatch()
    [digest] = [m for m in messages(outbox_engine) if m.kind == "digest"]
    [mail] = mail_server.inbox
    text = mail.get_body(("plain",)).get_content()
    assert (digest.payload()["count"], digest.payload()["messages"]) == (4, 6)
    assert str(mail["Subject"]).startswith("【督办汇总】4项")
    assert [text.count(f"GX-2026-{i:04d}") for i in range(4)] == [1, 1, 1, 1]
    assert text.count("督办第2级") == 2


def test_digest_threshold_per_recipient_and_channel(outbox_engine: Engine, clock: ManualClock,
                                                    mail_server: MailServer) -> None:
    """A per-recipient threshold overrides the default; None turns digests off for that recipient."""
    enqueue(outbox_engine, clock, 3, kind="escalation", recipient="lead")
    enqueue(outbox_engine, clock, 3, kind="escalation", recipient="quiet", prefix="q")
    policy = DigestPolicy(threshold=10, per_recipient={("lead", "email"): 3, "quiet": None})
    clock.advance(DEFAULT_SETTLE)
    OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock,
                     digest=policy).dispatch()
    kinds = Counter((m.recipient, m.status) for m in messages(outbox_engine))
    assert kinds[("lead", "digested")] == 3
    assert kinds[("quiet", "sent")] == 3
    assert len(mail_server.inbox) == 4


def test_a_crashed_dispatchers_claims_are_retaken_after_the_lease(
    outbox_engine: Engine, clock: ManualClock, mail_server: MailServer
) -> None:
    """Messages claimed by a dispatcher that died are sent by another once the claim's lease has expired."""
    enqueue(outbox_engine, clock, 3)
    lease = timedelta(minutes=5)
    with Session(outbox_engine) as session:
        claim_due(session, clock.now(), "crashed-node", lease, 10)
        session.commit()
    dispatcher = OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock, lease=lease)
    during = dispatcher.dispatch(clock.now() + lease - timedelta(seconds=1))
    after = dispatcher.dispatch(clock.now() + lease)
    final = messages(outbox_engine)
    assert (during, after) == (0, 3)
    assert [(m.status, m.attempts) for m in final] == [("sent", 2)] * 3
    assert len(mail_server.inbox) == 3


def test_bad_dispatcher_settings_are_refused(outbox_engine: Engine, clock: ManualClock) -> None:
    """Zero attempts or an inverted back-off are refused at construction."""
    with pytest.raises(ValueError):
        OutboxDispatcher(outbox_engine, {}, TemplateRenderer(), clock, max_attempts=0)
    with pytest.raises(ValueError):
        Backoff(base=timedelta(minutes=5), maximum=timedelta(minutes=1))


def test_two_dispatchers_never_send_the_same_message(
    outbox_engine: Engine, clock: ManualClock, http_server: HttpServer
) -> None:
    """Two dispatchers running at once on one database deliver every message exactly once between them."""
    import threading

    http_server.behaviour.body = b"{}"
    enqueue(outbox_engine, clock, 120, channel="hook")
    channels = {"hook": create_channel("hook", {"type": "webhook", "url": http_server.url()}, clock)}
    counts: list[int] = []
    errors: list[BaseException] = []

    def work(name: str) -> None:
        dispatcher = OutboxDispatcher(outbox_engine, channels, TemplateRenderer(), clock, batch_size=7,
                                      worker_id=name)
        total = 0
        try:
            while (handled := dispatcher.dispatch()) > 0:
                total += handled
        except BaseException as err:  # reported by the main thread's assert
            errors.append(err)
        counts.append(total)

    threads = [threading.Thread(target=work, args=(f"node-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    received = Counter(r.headers["X-Shixian-Dedupe-Key"] for r in http_server.received)
    assert errors == []
    assert sum(counts) == 120
    assert received == Counter({f"m:{i}": 1 for i in range(120)})
    assert {m.status for m in messages(outbox_engine)} == {"sent"}


def test_no_digest_of_what_another_worker_left_below_the_threshold(outbox_engine: Engine,
                                                                   clock: ManualClock) -> None:
    """Six breaches counted, four claimed by another worker before the fold: the two left are no digest."""
    from storage.outbox import fold_into_digest

    enqueue(outbox_engine, clock, 6, kind="breach", recipient="supervisor")
    with Session(outbox_engine, expire_on_commit=False) as session:
        claim_due(session, clock.now(), "other-worker", timedelta(minutes=5), 4)
        session.commit()
    digest = {"created_at": clock.now(), "channel": "email", "recipient": "supervisor",
              "recipient_address": "supervisor@example.gov.cn", "template": "supervisor_digest", "data": {},
              "kind": "digest", "dedupe_key": "digest:test"}
    with Session(outbox_engine, expire_on_commit=False) as session:
        assert fold_into_digest(session, "supervisor", "email", ("breach",), digest, minimum=5) is None
        session.commit()
    assert Counter(m.status for m in messages(outbox_engine)) == Counter({"sending": 4, "pending": 2})
