"""SMTP e-mail channel (smtplib): plain text + HTML, optional STARTTLS or implicit TLS, login from env vars.

A login (user / password) needs STARTTLS or implicit TLS, so the password never crosses a network in clear text;
only a relay on this machine (localhost, 127.0.0.0/8, ::1) may take one without. A contact is one bare address
(`name@domain`); a mail the server has taken counts as sent whatever it answers to QUIT.
"""

from __future__ import annotations

import contextlib
import ipaddress
import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from engine.clock import Clock
from notifiers.base import (
    Outgoing,
    read_secret,
    register_channel_type,
    reject_unknown,
    secret_value,
    setting_bool,
    setting_float,
    setting_int,
    setting_str,
)
from notifiers.channels.deadline import ExchangeDeadline
from notifiers.channels.mail import build_email
from notifiers.errors import ChannelConfigError, DeliveryError

_SETTINGS = frozenset({"host", "port", "from", "starttls", "ssl", "user", "user_env", "password", "password_env"})
_LOGIN = ("user", "user_env", "password", "password_env")


def mail_address_problem(address: str) -> str | None:
    """Why `address` is not exactly one bare mail address (`name@domain`), or None.

    A non-ASCII mailbox passes (deliverable where the server offers SMTPUTF8; a server that does not refuses
    the send, and the message goes dead saying so). Lists, display names and angle brackets do not: the
    envelope would go to a part of them only, or to nobody.
    """
    expected = f"{address!r} is not one mail address (expected name@domain, e.g. zhangsan@example.gov.cn)"
    if any(c.isspace() or not c.isprintable() for c in address):
        return expected
    local, at, domain = address.rpartition("@")
    # the parser refuses non-ASCII local parts outright; check the form with ASCII letters in their place
    stand_in = "".join("a" if not c.isascii() and c.isalnum() else c for c in local) + at + domain
    try:
        parsed = Address(addr_spec=stand_in)
    except (ValueError, IndexError, HeaderParseError, NonASCIILocalPartDefect):
        return expected
    if parsed.addr_spec != stand_in or not parsed.username or "." not in parsed.domain:
        return expected
    return None


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine's loopback interface (by name or address), where nothing is on a wire."""
    if host.strip().lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SmtpNotifier:
    """Sends each message as one e-mail through an SMTP server (one connection per send: alerts are rare)."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        sender: str,
        clock: Clock,
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        user: Callable[[], str | None] = lambda: None,
        password: Callable[[], str | None] = lambda: None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.clock = clock
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self._user = user
        self._password = password
        self.timeout = timeout

    def check_address(self, address: str) -> str | None:
        return mail_address_problem(address)

    def endpoint(self, address: str) -> str:
        return f"{self.host}:{self.port}"

    def send(self, message: Outgoing) -> None:
        problem = self.check_address(message.address)
        if problem:
            raise DeliveryError(self.name, message.recipient, problem, transient=False)
        user = read_secret(self.name, message.recipient, self._user)
        password = read_secret(self.name, message.recipient, self._password)
        mail = build_email(message, self.sender, self.clock.now())
        try:
            refused = self._submit(mail, user, password)
        except smtplib.SMTPRecipientsRefused as err:
            raise DeliveryError(self.name, message.recipient, f"recipient refused: {err.recipients}",
                                transient=_all_temporary(err.recipients)) from err
        except smtplib.SMTPAuthenticationError as err:
            raise DeliveryError(self.name, message.recipient, f"login refused ({err.smtp_code})",
                                transient=False) from err
        except smtplib.SMTPResponseException as err:
            raise DeliveryError(self.name, message.recipient, f"server answered {err.smtp_code} {err.smtp_error!r}",
                                transient=400 <= err.smtp_code < 500) from err
        except _Unsupported as err:
            raise DeliveryError(self.name, message.recipient, f"{self.host}:{self.port} {err}",
                                transient=False) from err
        except smtplib.SMTPNotSupportedError as err:
            raise DeliveryError(
                self.name, message.recipient,
                f"{self.host}:{self.port} does not take this message: {err} (give the person an ASCII mail "
                "address, or use a server that offers SMTPUTF8)", transient=False) from err
        except (smtplib.SMTPException, OSError) as err:  # refused, reset, timeout, TLS: the server may come back
            raise DeliveryError(self.name, message.recipient,
                                f"{self.host}:{self.port} unreachable: {type(err).__name__}: {err}",
                                transient=True, unreachable=True) from err
        if refused:
            raise DeliveryError(self.name, message.recipient, f"recipient refused: {refused}",
                                transient=_all_temporary(refused))

    def _submit(self, mail: EmailMessage, user: str | None, password: str | None) -> dict[str, tuple[int, bytes]]:
        """Hand `mail` to the server; answer the recipients it refused. The whole exchange ends at the channel's
        timeout (`ExchangeDeadline`), not only each read: a server dripping its greeting or its answers would
        otherwise hold the send past the dispatcher's claim, and a second worker would mail it again. Once the
        server has taken the mail, QUIT is a courtesy: an odd answer to it (421, 5xx, a dropped line) must not
        turn the delivery into a failure that a retry would send again."""
        with ExchangeDeadline(self.timeout) as exchange:
            try:
                return self._exchange(mail, user, password, exchange)
            except (smtplib.SMTPException, OSError) as err:
                if exchange.expired and not isinstance(err, smtplib.SMTPResponseException):
                    raise TimeoutError(f"no complete exchange within {self.timeout:g} s") from err
                raise

    def _exchange(self, mail: EmailMessage, user: str | None, password: str | None,
                  exchange: ExchangeDeadline) -> dict[str, tuple[int, bytes]]:
        client = _watched_client(exchange, self.implicit_tls, self.host, self.port, self.timeout)
        try:
            if self.starttls:
                try:
                    client.starttls(context=ssl.create_default_context())
                except smtplib.SMTPNotSupportedError as err:
                    raise _Unsupported("offers no STARTTLS: set `ssl: true` for a server that speaks TLS from "
                                       "the start (port 465), or a port that offers STARTTLS (587)") from err
                if client.sock is not None:
                    exchange.track(client.sock)  # the TLS socket that took the plain one over
            if user:
                try:
                    client.login(user, password or "")
                except smtplib.SMTPNotSupportedError as err:
                    raise _Unsupported("offers no login (AUTH) here: use the server's submission port (587 with "
                                       "starttls, or 465 with ssl), or drop user and password for a relay that "
                                       "takes mail without one") from err
            refused = client.send_message(mail)
        except BaseException:
            client.close()
            raise
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            with contextlib.suppress(OSError):
                client.close()
        return refused

    def close(self) -> None:
        """Nothing held between sends."""


class _Unsupported(smtplib.SMTPException):
    """The server lacks an extension the channel's settings need (STARTTLS, AUTH): a setting to change, not a
    message to retry."""


def _watched_client(exchange: ExchangeDeadline, implicit_tls: bool, host: str, port: int,
                    timeout: float) -> smtplib.SMTP:
    """An SMTP client (implicit TLS or plain) whose socket the exchange's deadline can shut; it connects in its
    constructor, so the deadline covers the greeting too."""
    base: type[smtplib.SMTP] = smtplib.SMTP_SSL if implicit_tls else smtplib.SMTP

    class Watched(base):  # type: ignore[valid-type,misc]
        def _get_socket(self, host: str, port: int, timeout: float) -> Any:
            sock = super()._get_socket(host, port, timeout)
            exchange.track(sock)
            return sock

    if implicit_tls:
        return Watched(host, port, timeout=timeout, context=ssl.create_default_context())
    return Watched(host, port, timeout=timeout)


def _all_temporary(refused: Mapping[str, tuple[int, bytes]]) -> bool:
    return all(400 <= code < 500 for code, _ in refused.values())


@register_channel_type("smtp")
def _create(name: str, settings: Mapping[str, Any], clock: Clock, environ: Mapping[str, str]) -> SmtpNotifier:
    reject_unknown(name, settings, _SETTINGS)
    starttls = setting_bool(name, settings, "starttls", False)
    implicit = setting_bool(name, settings, "ssl", False)
    if starttls and implicit:
        raise ChannelConfigError(name, "ssl", "choose either starttls (port 587) or ssl (port 465), not both")
    host = setting_str(name, settings, "host")
    login = [key for key in _LOGIN if settings.get(key) is not None]
    if login and not (starttls or implicit) and not is_loopback(host):
        raise ChannelConfigError(
            name, "starttls",
            f"{' and '.join(login)} set but no TLS: the password would go to {host} in clear text; "
            "set starttls: true (port 587) or ssl: true (port 465), or drop the login",
        )
    return SmtpNotifier(
        name,
        host,
        setting_int(name, settings, "port", 465 if implicit else 587 if starttls else 25),
        setting_str(name, settings, "from"),
        clock,
        starttls=starttls,
        implicit_tls=implicit,
        user=secret_value(name, settings, "user", environ),
        password=secret_value(name, settings, "password", environ),
        timeout=setting_float(name, settings, "timeout", 10.0),
    )
