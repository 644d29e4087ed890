"""shixian's storage: the SQL implementation of the engine's store, on SQLite (a file) or PostgreSQL (a URL)."""

from __future__ import annotations

from storage.sql import SqlInstanceStore, database_url


def open_store(target: str, *, synchronous: str = "NORMAL") -> SqlInstanceStore:
    """Open (and migrate) the database at a SQLite path or a PostgreSQL URL."""
    return SqlInstanceStore(target, synchronous=synchronous)


__all__ = ["SqlInstanceStore", "database_url", "open_store"]
