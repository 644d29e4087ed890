"""SMTP contacts and the end of an SMTP exchange: a contact is exactly one address, a server without SMTPUTF8
refuses a non-ASCII one for good, and a mail the server took is sent whatever it answers to QUIT."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from engine.clock import ManualClock
from notifiers.base import create_channel
from notifiers.dispatcher import OutboxDispatcher
from notifiers.errors import DeliveryError
from notifiers.rendering import TemplateRenderer
from tests.notifiers.conftest import one_contact_directory_problems
from tests.notifiers.receivers import free_port
from tests.notifiers.test_channels import outgoing
from tests.notifiers.test_dispatcher import enqueue, messages


class Taken:
    """Counts the mails the server queued (250 after DATA)."""

    def __init__(self) -> None:
        self.queued = 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.queued += 1
        return "250 2.0.0 queued"


class QuitWith421(SMTP):
    async def smtp_QUIT(self, arg: str) -> None:
        await self.push("421 4.4.2 closing, idle")
        assert self._handler_coroutine is not None and self.transport is not None
        self._handler_coroutine.cancel()
        self.transport.close()


class OddQuitController(Controller):
    def factory(self) -> SMTP:
        return QuitWith421(self.handler)


class NoSmtpUtf8Controller(Controller):
    def factory(self) -> SMTP:
        return SMTP(self.handler, enable_SMTPUTF8=False)


def serve(kind: type[Controller]) -> Iterator[tuple[Taken, int]]:
    handler, port = Taken(), free_port()
    controller = kind(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def odd_quit() -> Iterator[tuple[Taken, int]]:
    """An SMTP server that takes mail and answers QUIT with 421."""
    yield from serve(OddQuitController)


@pytest.fixture
def no_smtputf8() -> Iterator[tuple[Taken, int]]:
    """An SMTP server that does not offer SMTPUTF8."""
    yield from serve(NoSmtpUtf8Controller)


def smtp(port: int, clock: ManualClock) -> Any:
    return create_channel("email", {"type": "smtp", "host": "127.0.0.1", "port": port,
                                    "from": "shixian@example.gov.cn", "timeout": 2}, clock)


@pytest.mark.parametrize("address", [
    "a@x.cn,b@y.cn", "a@x.cn;b@y.cn", "a@x.cn b@y.cn", "a@@x.cn", "<a@x.cn>", "张三 <a@x.cn>", "a@x.cn ",
    "张\u3000三@x.cn", "@x.cn", "a@", "a@x", "",
])
def test_a_contact_that_is_not_exactly_one_address_is_refused(address: str, clock: ManualClock) -> None:
    """Lists, doubled @, display names, brackets, spaces and missing parts are refused, saying what is expected."""
    assert smtp(1, clock).check_address(address) == (
        f"{address!r} is not one mail address (expected name@domain, e.g. zhangsan@example.gov.cn)")


@pytest.mark.parametrize("address", ["zhangsan@example.gov.cn", "a.b-c+d@x.cn", "张三@例子.中国", "a@例子.中国"])
def test_one_bare_address_is_accepted(address: str, clock: ManualClock) -> None:
    """A bare address passes, a non-ASCII one too (a server offering SMTPUTF8 delivers it)."""
    assert smtp(1, clock).check_address(address) is None


def test_the_directory_refuses_two_addresses_in_one_contact(tmp_path: Path) -> None:
    """A mail contact holding two addresses stops the directory at its line."""
    problems = one_contact_directory_problems(
        tmp_path, "email: {type: smtp, host: 127.0.0.1, port: 2525, from: s@example.gov.cn}", "'a@x.cn,b@y.cn'")
    assert problems == (f"{tmp_path / 'd.yaml'}:6: people[0].contacts.email: 'a@x.cn,b@y.cn' is not one mail "
                        "address (expected name@domain, e.g. zhangsan@example.gov.cn)",)


def test_a_non_ascii_address_to_a_server_without_smtputf8_fails_for_good(
    no_smtputf8: tuple[Taken, int], clock: ManualClock
) -> None:
    """The server cannot take the address however often it is tried: the failure is not transient, and says
    what to do."""
    handler, port = no_smtputf8
    with pytest.raises(DeliveryError) as caught:
        smtp(port, clock).send(outgoing("email", "张三@例子.中国"))
    assert handler.queued == 0
    assert caught.value.transient is False
    assert "give the person an ASCII mail address, or use a server that offers SMTPUTF8" in caught.value.detail


def test_a_mail_the_server_took_is_sent_when_quit_is_answered_421(
    odd_quit: tuple[Taken, int], outbox_engine: Engine, clock: ManualClock
) -> None:
    """250 after DATA, then 421 to QUIT: the message is recorded sent after one delivery, not retried."""
    handler, port = odd_quit
    enqueue(outbox_engine, clock, 1)
    handled = OutboxDispatcher(outbox_engine, {"email": smtp(port, clock)}, TemplateRenderer(), clock).dispatch()
    [message] = messages(outbox_engine)
    assert handled == 1
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, None)
    assert handler.queued == 1


@contextlib.contextmanager
def tarpit(drip_greeting: bool) -> Iterator[tuple[int, threading.Event, list[bytes]]]:
    """An SMTP server on a raw socket that drips its greeting a byte every 20 ms (each read well within the
    socket timeout, 8 s in all) or answers every command at once; it queues what it is given after DATA."""
    stop, queued = threading.Event(), []
    srv = socket.create_server(("127.0.0.1", 0))

    def handle(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            greeting = b"220 slow.example.gov.cn ESMTP" + b" " * 370 + b"\r\n"
            for i in range(len(greeting)) if drip_greeting else ():
                if stop.wait(0.02):
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(greeting[i:i + 1])
            if not drip_greeting:
                conn.sendall(greeting)
            data: list[bytes] | None = None
            for line in lines:
                if data is not None:
                    if line == b".\r\n":
                        queued.append(b"".join(data))
                        data = None
                        conn.sendall(b"250 queued\r\n")
                    else:
                        data.append(line)
                elif line.upper().startswith(b"DATA"):
                    data = []
                    conn.sendall(b"354 go on\r\n")
                elif line.upper().startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = srv.accept()
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield srv.getsockname()[1], stop, queued
    finally:
        stop.set()
        srv.close()


def test_a_server_dripping_its_greeting_is_cut_off_at_the_channel_timeout(clock: ManualClock) -> None:
    """Each byte of the greeting comes well within the socket timeout, but the whole exchange ends at the
    channel's `timeout` (0.5 s) as a transient failure: a send never outlives the dispatcher's claim, so no second
    worker mails the alert again."""
    with tarpit(drip_greeting=True) as (port, stop, queued):
        channel = create_channel("email", {"type": "smtp", "host": "127.0.0.1", "port": port,
                                           "from": "shixian@example.gov.cn", "timeout": 0.5}, clock)
        began = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            channel.send(outgoing("email", "qin@dsj.example.gov.cn"))
        elapsed = time.monotonic() - began
        stop.set()
    assert caught.value.transient is True and "no complete exchange within 0.5 s" in caught.value.detail
    assert elapsed < 3 and queued == []


def test_a_prompt_server_is_not_cut_off_by_the_deadline(clock: ManualClock) -> None:
    """The deadline ends only what runs past it: a server that answers at once takes the mail."""
    with tarpit(drip_greeting=False) as (port, _stop, queued):
        channel = create_channel("email", {"type": "smtp", "host": "127.0.0.1", "port": port,
                                           "from": "shixian@example.gov.cn", "timeout": 5}, clock)
        channel.send(outgoing("email", "qin@dsj.example.gov.cn"))
    assert len(queued) == 1 and b"qin@dsj.example.gov.cn" in queued[0]


@pytest.mark.parametrize(("settings", "port"), [({}, 25), ({"starttls": True}, 587), ({"ssl": True}, 465),
                                               ({"starttls": True, "port": 2587}, 2587)])
def test_the_port_defaults_to_the_one_the_tls_setting_needs(settings: dict[str, Any], port: int,
                                                              clock: ManualClock) -> None:
    """As notifiers/README.md says: 25, 587 with starttls (submission), 465 with ssl; a given port wins."""
    channel = create_channel("email", {"type": "smtp", "host": "smtp.example.gov.cn", "from": "s@example.gov.cn",
                                       **settings}, clock)
    assert channel.endpoint("a@example.gov.cn") == f"smtp.example.gov.cn:{port}"


@pytest.mark.parametrize(("settings", "said"), [
    ({"starttls": True}, "offers no STARTTLS: set `ssl: true`"),
    ({"user": "alert", "password": "secret"}, "offers no login (AUTH) here: use the server's submission port"),
], ids=["starttls", "login"])
def test_a_server_lacking_what_the_settings_need_says_which_setting_to_change(
    no_smtputf8: tuple[Taken, int], clock: ManualClock, settings: dict[str, Any], said: str
) -> None:
    """A server with no STARTTLS or no AUTH fails for good with advice about that setting, not about ASCII
    addresses (retrying cannot help, nothing was queued)."""
    handler, port = no_smtputf8
    channel = create_channel("email", {"type": "smtp", "host": "127.0.0.1", "port": port,
                                       "from": "shixian@example.gov.cn", "timeout": 5, **settings}, clock)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing("email", "qin@dsj.example.gov.cn"))
    assert caught.value.transient is False and said in caught.value.detail
    assert "ASCII" not in caught.value.detail and handler.queued == 0
