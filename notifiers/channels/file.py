"""File channel for development and demos: each message becomes one `.eml` file under a directory.

The file name derives from the dedupe key, so a repeated send overwrites the same file instead of doubling it.
Every path is checked to resolve to a recipient folder directly under the channel's folder (no `..`, no link
out), so a recipient id can never make it write elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.clock import Clock
from notifiers.base import Outgoing, register_channel_type, reject_unknown, setting_str
from notifiers.channels.mail import build_email
from notifiers.errors import DeliveryError


class FileNotifier:
    """Writes `<dir>/<recipient>/<dedupe digest>.eml` atomically (write then rename)."""

    def __init__(self, name: str, directory: Path, clock: Clock, sender: str = "shixian@localhost") -> None:
        self.name = name
        self.directory = directory
        self.clock = clock
        self.sender = sender

    def check_address(self, address: str) -> str | None:
        return None if address.strip() else "empty address"

    def endpoint(self, address: str) -> str:
        return str(self.directory)

    def path_for(self, message: Outgoing) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in message.recipient) or "_"
        return self.directory / safe / f"{message.dedupe_digest}.eml"

    def send(self, message: Outgoing) -> None:
        target = self.path_for(message)
        root = self.directory.resolve()
        if target.resolve().parent.parent != root:  # `.` / `..` as the recipient, or its folder linked elsewhere
            raise DeliveryError(self.name, message.recipient,
                                f"{target} lies outside a recipient folder of {root}: refusing to write it",
                                transient=False)
        data = build_email(message, self.sender, self.clock.now()).as_bytes()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".tmp")
            temporary.write_bytes(data)
            os.replace(temporary, target)
        except OSError as err:
            raise DeliveryError(self.name, message.recipient, f"cannot write {target}: {err}", transient=True) from err

    def close(self) -> None:
        """Nothing held between sends."""


@register_channel_type("file")
def _create(name: str, settings: Mapping[str, Any], clock: Clock, environ: Mapping[str, str]) -> FileNotifier:
    reject_unknown(name, settings, frozenset({"dir", "from"}))
    return FileNotifier(name, Path(setting_str(name, settings, "dir")), clock,
                        setting_str(name, settings, "from", "shixian@localhost"))
