"""SMTP contacts and the end of an SMTP exchange: a contact is exactly one address, a server without SMTPUTF8
refuses a non-ASCII one for good, and a mail the server took is sent whatever it answers to QUIT."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from engine.clock import ManualClock
from notifiers.base import create_channel
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import OutboxDispatcher
from notifiers.errors import DeliveryError, DirectoryError
from notifiers.rendering import TemplateRenderer
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
    path = tmp_path / "d.yaml"
    path.write_text("""\
channels:
  email: {type: smtp, host: 127.0.0.1, port: 2525, from: s@example.gov.cn}
departments:
  - {code: 11450200007565127X, name: 柳州市公安局}
people:
  - {id: a, name: 甲, department: 11450200007565127X, roles: [data_auditor], contacts: {email: 'a@x.cn,b@y.cn'}}
""", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        YamlDirectory(path)
    assert caught.value.problems == (
        f"{path}:6: people[0].contacts.email: 'a@x.cn,b@y.cn' is not one mail address "
        "(expected name@domain, e.g. zhangsan@example.gov.cn)",)


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
