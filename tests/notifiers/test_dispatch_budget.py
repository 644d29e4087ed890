"""A round of the dispatcher sends for a bounded time: a slow channel gives the rest of its batch back unsent
instead of outlasting its claim (when another worker would send the same messages again), and a stop request
ends the round after the message in hand."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine

from engine.clock import ManualClock
from notifiers.base import Notifier, Outgoing, create_channel
from notifiers.dispatcher import OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from tests.notifiers.receivers import HttpServer
from tests.notifiers.test_dispatcher import enqueue, messages


class Stopwatch:
    """The dispatcher's monotonic clock, moved by the channel: each send takes `per_send` seconds."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


class SlowChannel:
    """The real webhook channel, whose every send takes `per_send` seconds of the stopwatch's time."""

    def __init__(self, real: Notifier, watch: Stopwatch, per_send: float) -> None:
        self.real, self.watch, self.per_send = real, watch, per_send
        self.name = real.name
        self.sent = 0
        self.after_send: list[object] = []

    def send(self, message: Outgoing) -> None:
        self.real.send(message)
        self.watch.seconds += self.per_send
        self.sent += 1
        for hook in self.after_send:
            hook(self.sent)  # type: ignore[operator]

    def check_address(self, address: str) -> str | None:
        return self.real.check_address(address)

    def close(self) -> None:
        self.real.close()


def slow_hook(http_server: HttpServer, clock: ManualClock, watch: Stopwatch) -> SlowChannel:
    http_server.behaviour.body = b"{}"
    return SlowChannel(create_channel("hook", {"type": "webhook", "url": http_server.url()}, clock), watch, 9.0)


def test_a_slow_channel_gives_the_rest_of_the_batch_back_and_nothing_is_sent_twice(
        outbox_engine: Engine, clock: ManualClock, http_server: HttpServer) -> None:
    """9 s a send and a 30 s budget: four go out (at 0, 9, 18, 27 s), six go back pending with their attempt
    uncounted; a second worker sends those six at once, and every message reaches the receiver once."""
    watch = Stopwatch()
    channel = slow_hook(http_server, clock, watch)
    enqueue(outbox_engine, clock, 10, channel="hook")
    first = OutboxDispatcher(outbox_engine, {"hook": channel}, TemplateRenderer(), clock, worker_id="slow",
                             send_budget=timedelta(seconds=30), monotonic=watch)
    assert first.dispatch() == 4
    rows = messages(outbox_engine)
    assert Counter(m.status for m in rows) == Counter({"sent": 4, "pending": 6})
    assert {(m.attempts, m.claimed_by) for m in rows if m.status == "pending"} == {(0, None)}
    second = OutboxDispatcher(outbox_engine, {"hook": channel}, TemplateRenderer(), clock, worker_id="other",
                              send_budget=timedelta(hours=1), monotonic=watch)
    assert second.dispatch() == 6
    received = Counter(r.headers["X-Shixian-Dedupe-Key"] for r in http_server.received)
    assert received == Counter({f"m:{i}": 1 for i in range(10)})
    assert {m.status for m in messages(outbox_engine)} == {"sent"}


def test_the_budget_never_reaches_past_half_the_lease(outbox_engine: Engine, clock: ManualClock,
                                                       http_server: HttpServer) -> None:
    """With a 40 s lease a round sends for 20 s at most, whatever budget is asked for."""
    watch = Stopwatch()
    enqueue(outbox_engine, clock, 10, channel="hook")
    dispatcher = OutboxDispatcher(outbox_engine, {"hook": slow_hook(http_server, clock, watch)}, TemplateRenderer(),
                                  clock, lease=timedelta(seconds=40), send_budget=timedelta(minutes=10),
                                  monotonic=watch)
    assert dispatcher.send_budget == timedelta(seconds=20)
    assert dispatcher.dispatch() == 3  # at 0, 9 and 18 s


def test_a_stop_request_ends_the_round_after_the_message_in_hand(outbox_engine: Engine, clock: ManualClock,
                                                                 http_server: HttpServer) -> None:
    """Asked to stop during the second send (a worker's SIGTERM): two sent, eight back pending, and a later
    round sends nothing."""
    watch = Stopwatch()
    channel = slow_hook(http_server, clock, watch)
    enqueue(outbox_engine, clock, 10, channel="hook")
    dispatcher = OutboxDispatcher(outbox_engine, {"hook": channel}, TemplateRenderer(), clock,
                                  send_budget=timedelta(hours=1), monotonic=watch)
    channel.after_send.append(lambda n: dispatcher.request_stop() if n == 2 else None)
    assert dispatcher.dispatch() == 2
    assert Counter(m.status for m in messages(outbox_engine)) == Counter({"sent": 2, "pending": 8})
    assert dispatcher.dispatch() == 0
    assert len(http_server.received) == 2
