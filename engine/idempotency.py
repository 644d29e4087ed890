"""A command's idempotency key and the digest of what it asked: a retry with the same key and the same command
answers the first result; the same key with another command is a conflict (engine.errors.IdempotencyConflict)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A command's idempotency key as given, and as stored: scoped to the actor, so that one department's keys
    neither block nor reveal another's (the README's `req-123` is everybody's first choice)."""

    given: str
    stored: str

    @classmethod
    def of(cls, actor_id: str, key: str | None) -> IdempotencyKey | None:
        if key is None:
            return None
        scoped = hashlib.sha256(f"{actor_id}\x00{key}".encode()).hexdigest()
        return cls(key, scoped)


def command_digest(*parts: Any) -> str:
    """What a command asked, as a hash kept with its key: a retry must ask the same to be answered the same."""
    body = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


__all__ = ["IdempotencyKey", "command_digest"]
