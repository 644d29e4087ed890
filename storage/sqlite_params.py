"""How `sqlite3` binds the two parameter types it does not bind directly: None and bool.

The driver binds an exact int, float, str or bytes at once. Any other value (None, True, False) goes through its
adapter protocol first: a registry lookup, then an attribute lookup on its protocol class that fails and
builds an AttributeError message, then one on the value. A command binds about a dozen Nones and bools, and
those failed lookups were about 4% of the instructions of a durable case (`python bench/instructions.py`).
Registering the adapters the driver would arrive at anyway (None stays None, a bool becomes its int) ends the
lookup at the registry: the values stored are the same, so other users of `sqlite3` in the process see no
change.
"""

from __future__ import annotations

import sqlite3


def _none(_value: None) -> None:
    return None


def bind_plainly() -> None:
    """Register the adapters (idempotent: a second call replaces them with the same)."""
    sqlite3.register_adapter(type(None), _none)
    sqlite3.register_adapter(bool, int)
