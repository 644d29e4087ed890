"""A bounded store of values worked out from definition objects (a spec, a field, an SLA), each once.

Definition objects are immutable and few, so what a command derives from them (a payload's checking plan, a
clock's ladder) is kept and reused. A key carries the object's `id()`; the object itself is kept beside the
value and compared by identity, so a reused id of a dead object never answers for a new one. The store is
emptied when it reaches its bound: a process serves a few definition versions, tests build thousands.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
Owner = TypeVar("Owner")


class Derived(Generic[V]):
    """Values derived from an owner object, at most `limit` of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[Hashable, tuple[object, V]] = {}

    def get(self, key: Hashable, owner: object, build: Callable[..., V], *args: object) -> V:
        """The value kept for `key` when `owner` is the object it was worked out from, else `build(*args)`, kept.

        The arguments are passed through so that a caller on a hot path need not make a closure per lookup.
        """
        hit = self._entries.get(key)
        if hit is not None and hit[0] is owner:
            return hit[1]
        value = build(*args)
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key] = (owner, value)
        return value

    def of(self, owner: Owner, build: Callable[[Owner], V]) -> V:
        """The value worked out from `owner` alone, by `build(owner)` the first time: the key is its id."""
        return self.get(id(owner), owner, build, owner)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
