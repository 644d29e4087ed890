"""Which message goes first, and from which moment a round counts: the longest-waiting first, an endpoint that
does not answer gets one try a round (its other messages wait untried), and times come from the round's `now`."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from engine.clock import SHANGHAI, ManualClock
from notifiers.base import create_channel
from notifiers.dispatcher import Backoff, OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage.outbox import claim_due, mark_retry
from tests.notifiers.receivers import MailServer, free_port
from tests.notifiers.test_dispatcher import enqueue, messages, smtp

NO_JITTER = Backoff(base=timedelta(seconds=30), maximum=timedelta(hours=1), jitter=0.0)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections and never answers: every request to it times out."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(100)
        yield int(hole.getsockname()[1])


def test_a_message_retried_for_long_is_claimed_after_a_newer_due_one(outbox_engine: Engine,
                                                                     clock: ManualClock) -> None:
    """An old message whose retry falls due after a newer message was written comes second in the claim."""
    enqueue(outbox_engine, clock, 1, prefix="old")
    with Session(outbox_engine) as session:
        [old] = claim_due(session, clock.now(), "w", timedelta(minutes=5), 10)
        mark_retry(session, old.id or 0, "w", "down", clock.now() + timedelta(minutes=2))
        session.commit()
    clock.advance(timedelta(minutes=1))
    enqueue(outbox_engine, clock, 1, prefix="new")
    clock.advance(timedelta(minutes=5))
    with Session(outbox_engine) as session:
        claimed = [m.dedupe_key for m in claim_due(session, clock.now(), "w2", timedelta(minutes=5), 10)]
    assert claimed == ["new:0", "old:0"]


def test_a_mail_behind_many_messages_to_a_hanging_webhook_goes_out_in_the_first_round(
    outbox_engine: Engine, clock: ManualClock, mail_server: MailServer, silent_port: int
) -> None:
    """Thirty messages to a webhook that never answers, then one mail: the first round tries the webhook once,
    gives its other 29 back untried until that try's retry time, and sends the mail."""
    channels = {
        "hook": create_channel("hook", {"type": "webhook", "url": f"http://127.0.0.1:{silent_port}/h",
                                        "timeout": 0.3}, clock),
        **smtp(mail_server.port, clock),
    }
    enqueue(outbox_engine, clock, 30, channel="hook", prefix="hook")
    clock.advance(timedelta(seconds=1))
    enqueue(outbox_engine, clock, 1, channel="email", recipient="boss", prefix="mail")
    dispatcher = OutboxDispatcher(outbox_engine, channels, TemplateRenderer(), clock, backoff=NO_JITTER,
                                  send_budget=timedelta(seconds=1.5))
    handled = dispatcher.dispatch()
    hooks = [m for m in messages(outbox_engine) if m.channel == "hook"]
    tried = [m for m in hooks if m.attempts]
    assert [str(mail["To"]) for mail in mail_server.inbox] == ["boss@example.gov.cn"]
    assert handled == 2
    assert [(m.dedupe_key, m.attempts) for m in tried] == [("hook:0", 1)]
    assert {(m.status, m.attempts, m.next_attempt_at) for m in hooks if m.attempts == 0} == {
        ("pending", 0, tried[0].next_attempt_at)}
    assert len(hooks) == 30


def test_an_unreachable_webhook_costs_one_attempt_a_round(outbox_engine: Engine, clock: ManualClock) -> None:
    """Connection refused on the first of five messages, in two rounds: the endpoint is tried once a round, the
    four others wait untried, their attempts not counted."""
    url = f"http://127.0.0.1:{free_port()}/h"
    channels = {"hook": create_channel("hook", {"type": "webhook", "url": url, "timeout": 1}, clock)}
    enqueue(outbox_engine, clock, 5, channel="hook")
    dispatcher = OutboxDispatcher(outbox_engine, channels, TemplateRenderer(), clock, backoff=NO_JITTER)
    first = dispatcher.dispatch()
    clock.advance(timedelta(seconds=30))
    second = dispatcher.dispatch()
    assert (first, second) == (1, 1)
    assert sorted(m.attempts for m in messages(outbox_engine)) == [0, 0, 0, 0, 2]
    # `outbox list` says why the untried ones wait, and until when
    tried = next(m for m in messages(outbox_engine) if m.attempts)
    notes = {m.last_error for m in messages(outbox_engine) if not m.attempts}
    retry = tried.next_attempt_at.astimezone(SHANGHAI).isoformat(timespec="seconds")
    assert notes == {f"not tried: hook ({url}) did not answer another message; tried again from {retry}"}


def test_back_off_and_sent_time_count_from_the_rounds_moment(outbox_engine: Engine, clock: ManualClock,
                                                             mail_server: MailServer) -> None:
    """`dispatch(now)` with `now` an hour past the dispatcher's clock: a retry is due 30 s after `now`, and a
    delivery is recorded as sent at `now`."""
    enqueue(outbox_engine, clock, 1, prefix="down")
    now = clock.now() + timedelta(hours=1)
    OutboxDispatcher(outbox_engine, smtp(free_port(), clock), TemplateRenderer(), clock, backoff=NO_JITTER,
                     max_attempts=8).dispatch(now)
    [retried] = messages(outbox_engine)
    enqueue(outbox_engine, clock, 1, recipient="q{i}", prefix="up")
    OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock).dispatch(now)
    [sent] = [m for m in messages(outbox_engine) if m.dedupe_key == "up:0"]
    assert (retried.status, retried.next_attempt_at) == ("pending", now + timedelta(seconds=30))
    assert (sent.status, sent.sent_at) == ("sent", now)


def test_a_dead_messages_reason_gives_no_retry_advice(outbox_engine: Engine, clock: ManualClock) -> None:
    """A message dead after its attempts says so and how to send it again, not that it will be retried."""
    enqueue(outbox_engine, clock, 1)
    OutboxDispatcher(outbox_engine, smtp(free_port(), clock), TemplateRenderer(), clock,
                     max_attempts=1).dispatch()
    [dead] = messages(outbox_engine)
    reason = dead.last_error or ""
    assert dead.status == "dead"
    assert "will be retried" not in reason
    assert reason.startswith("channel 'email' could not deliver to 'p0': 127.0.0.1:")
    assert reason.endswith(f"(given up after 1 attempt; once the channel works again, "
                           f"`cli.py outbox retry {dead.id}` sends it)")
