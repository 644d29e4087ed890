"""The channel interface (`Notifier`), the message a channel sends, and the registry of channel types by name."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from engine.clock import Clock, SystemClock
from notifiers.errors import ChannelConfigError, DeliveryError, UnknownChannel
from notifiers.rendering import Rendered


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One rendered message for one recipient on one channel, as the dispatcher hands it to `Notifier.send`."""

    channel: str
    recipient: str  # person id
    address: str  # the recipient's contact on this channel (mail address, mobile, user id, ...)
    rendered: Rendered
    dedupe_key: str
    kind: str = "notification"
    template: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    #: parts of a message split for a robot that an earlier attempt delivered: a retry posts the rest only
    parts_sent: int = 0

    @property
    def dedupe_digest(self) -> str:
        """A short stable token of the dedupe key, for Message-IDs and file names."""
        return hashlib.sha256(self.dedupe_key.encode("utf-8")).hexdigest()[:32]


class Notifier(Protocol):
    """A delivery channel. Contract:

    - `name` is the configured channel name (the key under `channels:`), used in errors and outbox rows.
    - `send(message)` delivers one message or raises `DeliveryError(channel, recipient, detail, transient)`;
      it never raises anything else (network and protocol errors are wrapped). It carries `message.dedupe_key`
      to the receiver so a repeated send of the same message is recognisable. It may block up to its timeout.
    - `check_address(address)` answers a problem text for an address it could never deliver to, else None;
      it does no I/O.
    - `close()` releases connections; sending after it is allowed (it reconnects).
    """

    name: str

    def send(self, message: Outgoing) -> None: ...

    def check_address(self, address: str) -> str | None: ...

    def close(self) -> None: ...


@runtime_checkable
class RoutedChannel(Protocol):
    """A channel that can tell where a send goes, optional beside `Notifier`. Contract:

    - `endpoint(address)` names the server a send to `address` reaches (an SMTP host:port, a robot or webhook
      URL); it does no I/O. After a send fails as unreachable, the dispatcher leaves the other messages of the
      round to the same endpoint untried. A channel without it is one endpoint.
    """

    def endpoint(self, address: str) -> str: ...


#: A channel type's constructor: (channel name, its settings, clock, environment) -> Notifier.
ChannelFactory = Callable[[str, Mapping[str, Any], Clock, Mapping[str, str]], Notifier]

_REGISTRY: dict[str, ChannelFactory] = {}


def register_channel_type(type_name: str) -> Callable[[ChannelFactory], ChannelFactory]:
    """Register a channel type under `type_name` (the `type:` of a channel in the directory YAML)."""

    def decorate(factory: ChannelFactory) -> ChannelFactory:
        _REGISTRY[type_name] = factory
        return factory

    return decorate


def channel_types() -> list[str]:
    """The registered channel type names (importing `notifiers.channels` registers the shipped ones)."""
    import notifiers.channels  # noqa: F401  (registers smtp, webhook, dingtalk, wecom, file)

    return sorted(_REGISTRY)


def create_channel(
    name: str,
    settings: Mapping[str, Any],
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> Notifier:
    """Build channel `name` from its settings; `settings['type']` picks the registered type."""
    known = channel_types()
    type_name = settings.get("type")
    if not isinstance(type_name, str) or type_name not in _REGISTRY:
        raise ChannelConfigError(name, "type", f"expected one of {', '.join(known)}, received {type_name!r}")
    return _REGISTRY[type_name](name, settings, clock or SystemClock(), os.environ if environ is None else environ)


def find_channel(channels: Mapping[str, Notifier], name: str) -> Notifier:
    """The configured channel `name`, or UnknownChannel listing the configured ones."""
    try:
        return channels[name]
    except KeyError:
        raise UnknownChannel(name, list(channels)) from None


# ---- settings readers shared by the channel types -----------------------------------------------------------


def setting_str(name: str, settings: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = settings.get(key, default)
    if not isinstance(value, str) or not value:
        raise ChannelConfigError(name, key, f"expected a non-empty string, received {value!r}")
    return value


def setting_int(name: str, settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ChannelConfigError(name, key, f"expected a positive whole number, received {value!r}")
    return value


def setting_float(name: str, settings: Mapping[str, Any], key: str, default: float) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ChannelConfigError(name, key, f"expected a positive number of seconds, received {value!r}")
    return float(value)


def setting_bool(name: str, settings: Mapping[str, Any], key: str, default: bool) -> bool:
    value = settings.get(key, default)
    if not isinstance(value, bool):
        raise ChannelConfigError(name, key, f"expected true or false, received {value!r}")
    return value


def secret_value(
    name: str, settings: Mapping[str, Any], key: str, environ: Mapping[str, str]
) -> Callable[[], str | None]:
    """A secret given literally (`key`) or by environment variable name (`key_env`), read when sending.

    The reader answers None when neither is set. When `key_env` names a variable that is unset or empty it
    raises ChannelConfigError: sending without the secret (an unsigned webhook, SMTP without its login) must
    fail, not go out quietly. It is read at send time, not when the directory loads, so a channel nobody's
    contact uses does not need its variables exported; `read_secret` turns the error into a DeliveryError.
    """
    literal = settings.get(key)
    env_name = settings.get(f"{key}_env")
    if literal is not None and not isinstance(literal, str):
        raise ChannelConfigError(name, key, f"expected a string, received {literal!r}")
    if env_name is not None and (not isinstance(env_name, str) or not env_name):
        raise ChannelConfigError(name, f"{key}_env", f"expected an environment variable name, received {env_name!r}")

    def read() -> str | None:
        if literal:
            return literal
        if env_name:
            value = environ.get(env_name)
            if not value:
                state = "empty" if value is not None else "not set"
                raise ChannelConfigError(
                    name, f"{key}_env",
                    f"environment variable {env_name} is {state} ({key}_env names it): set it where the worker "
                    f"runs and restart it, or remove {key}_env",
                )
            return value
        return None

    return read


def read_secret(channel: str, recipient: str, secret: Callable[[], str | None]) -> str | None:
    """The secret for one send; a variable named by `*_env` that is not set fails the send for good."""
    try:
        return secret()
    except ChannelConfigError as err:
        raise DeliveryError(channel, recipient, err.detail, transient=False) from None


KNOWN_SETTINGS_COMMON = frozenset({"type", "timeout"})


def reject_unknown(name: str, settings: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """Refuse settings the type does not know (a typo would otherwise be ignored silently)."""
    for key in settings:
        if key not in allowed and key not in KNOWN_SETTINGS_COMMON:
            raise ChannelConfigError(name, key, f"unknown setting; known: {', '.join(sorted(allowed))}")


__all__ = [
    "ChannelFactory",
    "Notifier",
    "Outgoing",
    "RoutedChannel",
    "channel_types",
    "create_channel",
    "find_channel",
    "register_channel_type",
]
