"""Secret keys that seal the history chain, so that whoever can write the database still cannot forge a step.

A bare SHA-256 chain shows edits made by hand, but anyone who can write the tables can also recompute every
hash after an edit: the algorithm is public. With a keyring, each new step's hash is an HMAC-SHA256 under the
keyring's first key, and the step records which key (by its id, never the key). Only a process given the key can
write a step that verifies, and `verify_history` checks every sealed step with the key named on it.

A keyring file holds one key per line, as at least 64 hexadecimal characters (32 bytes or more); `#` starts a
comment. The first key seals new steps; the keys after it only check the steps they sealed before a rotation.
The file must be readable by its owner alone, like an SSH private key.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from engine.errors import HistoryKeysInvalid, HistoryKeysRequired

#: Bytes of a key that `new_key_line` makes, and the least a keyring accepts.
KEY_BYTES = 32


def key_id(key: bytes) -> str:
    """The public name of a key, stored on each step it seals: 16 hex characters that do not reveal the key."""
    return hashlib.sha256(b"shixian history key\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class HistoryKeyring:
    """The key that seals new steps (`sealing_id`) and every key that may check a step, by id."""

    sealing_id: str
    keys: Mapping[str, bytes] = field(repr=False)  # never in a log line or a traceback

    @classmethod
    def of(cls, *keys: bytes) -> HistoryKeyring:
        """A keyring of these keys, the first sealing; each must have at least KEY_BYTES bytes."""
        if not keys:
            raise ValueError("a keyring needs at least one key")
        for key in keys:
            if len(key) < KEY_BYTES:
                raise ValueError(f"a history key needs at least {KEY_BYTES} bytes, not {len(key)}")
        return cls(key_id(keys[0]), {key_id(k): k for k in keys})

    @property
    def sealing_key(self) -> bytes:
        return self.keys[self.sealing_id]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HistoryKeyring:
        """Read a keyring file; HistoryKeysInvalid names the file (and line) and says what to do."""
        shown = str(path)
        try:
            info = os.stat(path)
            text = Path(path).read_text(encoding="ascii")
        except FileNotFoundError:
            raise HistoryKeysInvalid(shown, "no such file; make one with `python cli.py history-keys new "
                                            f"{shown}`") from None
        except UnicodeDecodeError:
            raise HistoryKeysInvalid(shown, "not a keyring: a key is written in hexadecimal digits") from None
        except OSError as err:
            raise HistoryKeysInvalid(shown, f"cannot be read: {err.strerror}") from None
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
            raise HistoryKeysInvalid(shown, f"others may read it (mode {stat.S_IMODE(info.st_mode):04o}); whoever "
                                            f"reads a key can forge history: run `chmod 600 {shown}`")
        keys: list[bytes] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                key = bytes.fromhex(line)
            except ValueError:
                raise HistoryKeysInvalid(shown, "not a key: write each key as hexadecimal digits on a line of "
                                                "its own", number) from None
            if len(key) < KEY_BYTES:
                raise HistoryKeysInvalid(shown, f"a key of {len(key)} bytes is too short: use at least "
                                                f"{KEY_BYTES} bytes ({2 * KEY_BYTES} hex digits)", number)
            keys.append(key)
        if not keys:
            raise HistoryKeysInvalid(shown, "holds no key; add one with `python cli.py history-keys new "
                                            f"{shown}`")
        return cls.of(*keys)


_HEADER = "# shixian history keys: the first seals new steps, the others check the steps they sealed before\n"


def new_key_line() -> str:
    """A fresh random key as a keyring line."""
    return secrets.token_hex(KEY_BYTES)


def add_new_key(path: str | os.PathLike[str]) -> str:
    """Put a fresh key first in the keyring at `path` (made, owner-only, if missing): it seals from now on, and
    the keys already there keep checking what they sealed. Returns the new key's id."""
    target = Path(path)
    old = ""
    if target.exists():
        HistoryKeyring.load(target)  # a file that is no keyring is not silently extended
        old = target.read_text(encoding="ascii")
    line = new_key_line()
    lines = old.splitlines(keepends=True) or [_HEADER]
    first_key = next((i for i, text in enumerate(lines) if text.split("#", 1)[0].strip()), len(lines))
    lines.insert(first_key, f"{line}\n")
    body = "".join(lines)
    fresh = target.with_name(f".{target.name}.new")
    try:
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a leftover file of an interrupted run keeps its mode through O_CREAT
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(fresh, target)
    except OSError as err:
        raise HistoryKeysInvalid(str(path), f"cannot be written: {err.strerror}") from None
    return key_id(bytes.fromhex(line))


class KeysInUse(Protocol):
    """The store's list of the keys that have sealed steps (engine.store.InstanceStore)."""

    def history_keys(self) -> dict[str, datetime]: ...


class KeyListing(KeysInUse, Protocol):
    """What `SealGuard` needs of the store (engine.store.InstanceStore)."""

    def save_history_key(self, key_id: str, at: datetime) -> None: ...


def keys_in_use_since(store: KeysInUse) -> datetime | None:
    """When the database's first step was sealed (None where no key has sealed): unsealed steps dated after it
    are counted by `verify_chain` as written without the keyring."""
    return min(store.history_keys().values(), default=None)


class SealGuard:
    """Whether this engine may write history steps in its database.

    An engine with a keyring lists its sealing key in the database before its first command, so that engines
    without one learn that keys are in use. An engine without one looks whether any key is listed before its first
    command and again at most every `recheck` seconds (a long-running process learns of a keyring given to the
    others), and while one is listed it refuses to write: HistoryKeysRequired. The engine calls `check` before
    each command's transaction and each tick, since it may read or write the database itself.
    """

    def __init__(self, store: KeyListing, keyring: HistoryKeyring | None, now: Callable[[], datetime],
                 recheck: float = 30.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store, self.keyring, self.now, self.recheck, self.monotonic = store, keyring, now, recheck, monotonic
        self._listed = False  # the sealing key is listed in the database
        self._looked_at: float | None = None  # when the keys in use were last read (keyless engine)
        self._in_use: tuple[str, ...] = ()

    def check(self) -> None:
        """List the sealing key once, or look (again) whether keys are in use; raise if this engine may not write."""
        if self.keyring is not None:
            if not self._listed:
                self.store.save_history_key(self.keyring.sealing_id, self.now())
                self._listed = True
            return
        moment = self.monotonic()
        if self._looked_at is None or moment - self._looked_at >= self.recheck:
            self._in_use = tuple(sorted(self.store.history_keys()))
            self._looked_at = moment
        if self._in_use:
            raise HistoryKeysRequired(self._in_use)
