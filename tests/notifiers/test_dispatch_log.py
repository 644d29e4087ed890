"""What a dispatch round logs about failing channels: one warning per channel and round, one line on recovery."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from engine.clock import SHANGHAI, ManualClock
from notifiers.base import create_channel
from notifiers.dispatcher import OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from tests.notifiers.receivers import HttpServer, MailServer
from tests.notifiers.test_dispatcher import BACKOFF, enqueue, messages, smtp

LOGGER = "shixian.notifiers"


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_a_channel_that_is_down_gets_one_warning_per_round(
    outbox_engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Eight messages failing on a down mail server log one warning naming the channel, the count of messages
    and recipients, the error and the first retry time; the next failing round logs one more."""
    server = MailServer()  # not started: connection refused
    enqueue(outbox_engine, clock, 6)
    enqueue(outbox_engine, clock, 2, recipient="p0", prefix="again")  # p0 has three messages
    dispatcher = OutboxDispatcher(outbox_engine, smtp(server.port, clock), TemplateRenderer(), clock,
                                  backoff=BACKOFF, max_attempts=10, rng=random.Random(5))
    caplog.set_level(logging.INFO, logger=LOGGER)
    dispatcher.dispatch()
    first = _records(caplog, logging.WARNING)
    earliest = min(m.next_attempt_at for m in messages(outbox_engine) if m.next_attempt_at is not None)
    caplog.clear()
    clock.advance(BACKOFF.maximum)
    dispatcher.dispatch()
    second = _records(caplog, logging.WARNING)
    [warning] = first
    assert "'email'" in warning
    assert "8 message(s) to 6 recipient(s)" in warning
    assert f"127.0.0.1:{server.port} unreachable" in warning
    assert earliest.astimezone(SHANGHAI).isoformat(timespec="seconds") in warning
    assert len(second) == 1 and "8 message(s)" in second[0]


def test_each_failing_channel_is_named_once(
    outbox_engine: Engine, clock: ManualClock, http_server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Two channels failing in one round give two warnings, one each; a channel that delivers gives none."""
    http_server.behaviour.status = 503
    down = MailServer()
    channels = {**smtp(down.port, clock),
                "hook": create_channel("hook", {"type": "webhook", "url": http_server.url()}, clock)}
    enqueue(outbox_engine, clock, 3, prefix="mail")
    enqueue(outbox_engine, clock, 4, channel="hook", prefix="hook")
    caplog.set_level(logging.INFO, logger=LOGGER)
    OutboxDispatcher(outbox_engine, channels, TemplateRenderer(), clock, backoff=BACKOFF).dispatch()
    warnings = sorted(_records(caplog, logging.WARNING))
    assert len(warnings) == 2
    assert "'email'" in warnings[0] and "3 message(s) to 3 recipient(s)" in warnings[0]
    assert "'hook'" in warnings[1] and "4 message(s) to 4 recipient(s)" in warnings[1] and "503" in warnings[1]


def test_a_channel_that_delivers_again_is_logged_once(
    outbox_engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """When the server is back, one info line says the channel delivers again; later rounds say nothing more."""
    server = MailServer()
    enqueue(outbox_engine, clock, 3)
    dispatcher = OutboxDispatcher(outbox_engine, smtp(server.port, clock), TemplateRenderer(), clock,
                                  backoff=BACKOFF, rng=random.Random(1))
    dispatcher.dispatch()
    server.start()
    try:
        caplog.set_level(logging.INFO, logger=LOGGER)
        clock.advance(BACKOFF.maximum)
        dispatcher.dispatch()
        back = [m for m in _records(caplog, logging.INFO) if "again" in m]
        enqueue(outbox_engine, clock, 2, prefix="later")
        caplog.clear()
        dispatcher.dispatch()
        after = [m for m in _records(caplog, logging.INFO) if "again" in m]
    finally:
        server.stop()
    assert [m.status for m in messages(outbox_engine)] == ["sent"] * 5
    assert len(back) == 1 and "'email'" in back[0]
    assert after == []
    assert _records(caplog, logging.WARNING) == []


def test_a_first_round_that_delivers_logs_no_recovery(
    outbox_engine: Engine, clock: ManualClock, mail_server: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A channel that never failed is not announced as delivering again."""
    enqueue(outbox_engine, clock, 2)
    caplog.set_level(logging.INFO, logger=LOGGER)
    OutboxDispatcher(outbox_engine, smtp(mail_server.port, clock), TemplateRenderer(), clock).dispatch()
    assert [m for m in _records(caplog, logging.INFO) if "again" in m] == []
    assert len(mail_server.inbox) == 2


def test_retry_time_in_the_warning_is_the_earliest(outbox_engine: Engine, clock: ManualClock,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """The warning's retry time is the first of the round's retries, within the back-off's first delay."""
    enqueue(outbox_engine, clock, 4)
    caplog.set_level(logging.INFO, logger=LOGGER)
    OutboxDispatcher(outbox_engine, smtp(MailServer().port, clock), TemplateRenderer(), clock, backoff=BACKOFF,
                     rng=random.Random(9)).dispatch()
    [warning] = _records(caplog, logging.WARNING)
    retries = sorted(m.next_attempt_at for m in messages(outbox_engine) if m.next_attempt_at is not None)
    assert retries[0] <= clock.now() + timedelta(seconds=30)
    assert retries[0].astimezone(SHANGHAI).isoformat(timespec="seconds") in warning
