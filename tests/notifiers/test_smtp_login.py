"""SMTP login only over TLS: credentials without starttls/ssl are refused, except to a relay on this machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from engine.clock import ManualClock
from notifiers.base import create_channel
from notifiers.directory import YamlDirectory
from notifiers.errors import ChannelConfigError, DirectoryError
from tests.notifiers.receivers import MailServer, _Collect, free_port
from tests.notifiers.test_channels import outgoing

REMOTE = "mail.dsj.liuzhou.example.gov.cn"
BASE: dict[str, Any] = {"type": "smtp", "from": "shixian@dsj.liuzhou.example.gov.cn"}


@pytest.mark.parametrize("login", [
    {"user_env": "SHIXIAN_SMTP_USER", "password_env": "SHIXIAN_SMTP_PASSWORD"},
    {"user": "shixian", "password": "secret"},
    {"password_env": "SHIXIAN_SMTP_PASSWORD"},
])
@pytest.mark.parametrize("tls", [{}, {"starttls": False}, {"starttls": False, "ssl": False}])
def test_a_login_without_tls_to_a_remote_server_is_refused(
    login: dict[str, str], tls: dict[str, bool], clock: ManualClock
) -> None:
    """User or password without starttls or ssl is a ChannelConfigError naming the channel and what to set."""
    settings = dict(BASE, host=REMOTE, port=25, **login, **tls)
    with pytest.raises(ChannelConfigError) as caught:
        create_channel("email", settings, clock)
    assert caught.value.channel == "email" and caught.value.setting == "starttls"
    assert "starttls: true" in caught.value.detail and "ssl: true" in caught.value.detail


@pytest.mark.parametrize("tls", [{"starttls": True, "port": 587}, {"ssl": True}])
def test_a_login_over_tls_is_accepted(tls: dict[str, Any], clock: ManualClock) -> None:
    """The same credentials with starttls (587) or implicit TLS (465) make a channel."""
    channel = create_channel("email", dict(BASE, host=REMOTE, user_env="U", password_env="P", **tls), clock)
    assert channel.name == "email"


def test_the_directory_reports_the_refusal_at_the_channel(tmp_path: Path) -> None:
    """In the directory file the refusal is a DirectoryError at the line where the channel's settings start."""
    path = tmp_path / "directory.yaml"
    path.write_text(f"""\
channels:
  file: {{type: file, dir: out}}
  email:
    type: smtp
    host: {REMOTE}
    from: shixian@dsj.liuzhou.example.gov.cn
    user_env: SHIXIAN_SMTP_USER
    password_env: SHIXIAN_SMTP_PASSWORD
""", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        YamlDirectory(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:4: channels.email: ") and "starttls: true" in problem


class _LoginServer(MailServer):
    """An SMTP server offering AUTH PLAIN/LOGIN without TLS (a local relay); `logins` records what it was given."""

    def __init__(self) -> None:
        super().__init__(free_port())
        self.logins: list[tuple[str, str]] = []

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"relay-secret")

    def start(self) -> None:
        self._controller = Controller(_Collect(self.inbox), hostname="127.0.0.1", port=self.port,
                                      authenticator=self.authenticate, auth_require_tls=False, auth_required=True)
        self._controller.start()


@pytest.fixture
def relay() -> Iterator[_LoginServer]:
    """A running local relay that requires a login."""
    server = _LoginServer()
    server.start()
    yield server
    server.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_relay_on_this_machine_may_take_a_login_without_tls(
    relay: _LoginServer, host: str, clock: ManualClock
) -> None:
    """To a relay on the loopback interface the login never leaves the machine, so it is allowed without TLS."""
    settings = dict(BASE, host=host, port=relay.port, user_env="U", password_env="P", timeout=5)
    channel = create_channel("email", settings, clock, environ={"U": "shixian", "P": "relay-secret"})
    channel.send(outgoing("email", "zhang.wei@gaj.liuzhou.example.gov.cn"))
    assert relay.logins == [("shixian", "relay-secret")]
    assert len(relay.inbox) == 1
