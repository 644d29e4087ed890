"""Errors of the notification side: delivery, templates, the recipient directory and channel settings.

    WorkflowError (engine.errors)
    └── NotifierError                  root of what `notifiers` raises on purpose
        ├── DeliveryError              a channel could not deliver one message (transient: worth retrying)
        ├── TemplateRenderError        a template is missing, does not parse, or failed while rendering (name:line)
        ├── DirectoryError             the recipient directory file is wrong (every problem, file:line each)
        ├── UnknownChannel             no channel is configured or registered under that name
        └── ChannelConfigError         a channel's settings are missing or wrong (names the setting)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from engine.errors import WorkflowError


class NotifierError(WorkflowError):
    """Root of the errors the notifiers raise on purpose."""


class DeliveryError(NotifierError):
    """One send failed; `transient` says whether a later retry may succeed (server down, rate limit).

    `unreachable` (transient only) says the server did not answer at all (refused, timed out, name unknown):
    the dispatcher then leaves that endpoint's other messages of the round untried. `problem` is the message
    without the retry advice, for a reason recorded when the advice no longer holds (a dead message).
    """

    def __init__(
        self, channel: str, recipient: str, detail: str, transient: bool, *, unreachable: bool = False
    ) -> None:
        #: of a message sent in parts, how many were delivered before this failure (kept for the retry)
        self.parts_sent = 0
        self.channel = channel
        self.recipient = recipient
        self.detail = detail
        self.transient = transient
        self.unreachable = unreachable and transient
        self.problem = f"channel {channel!r} could not deliver to {recipient!r}: {detail}"
        advice = "it will be retried" if transient else "retrying will not help: fix the address or channel settings"
        super().__init__(f"{self.problem} ({advice})")


class TemplateRenderError(NotifierError):
    """A template failed; `line` is its line number when known (0 otherwise)."""

    def __init__(self, template: str, line: int, detail: str) -> None:
        self.template = template
        self.line = line
        self.detail = detail
        where = f"{template}:{line}" if line else template
        super().__init__(f"template {where}: {detail}; edit notifiers/templates/{template} and retry the message")


class DirectoryError(NotifierError):
    """The directory YAML has problems; `problems` holds every 'file:line: message', sorted."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


class UnknownChannel(NotifierError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = tuple(known)
        listed = ", ".join(sorted(self.known)) or "none"
        super().__init__(f"no channel {name!r}; known: {listed} (configure it under `channels:` in the directory)")


class ChannelConfigError(NotifierError):
    def __init__(self, channel: str, setting: str, detail: str) -> None:
        self.channel = channel
        self.setting = setting
        self.detail = detail
        super().__init__(f"channel {channel!r}, setting {setting!r}: {detail}")


__all__ = [
    "ChannelConfigError",
    "DeliveryError",
    "DirectoryError",
    "NotifierError",
    "TemplateRenderError",
    "UnknownChannel",
]
