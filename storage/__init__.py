"""shixian's storage: the SQL implementation of the engine's store, on SQLite (a file) or PostgreSQL (a URL)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import StorageUnavailable
from storage.sql import SqlInstanceStore, database_url


def open_store(target: str, *, synchronous: str = "NORMAL") -> SqlInstanceStore:
    """Open (and migrate) the database at a SQLite path or a PostgreSQL URL."""
    return SqlInstanceStore(target, synchronous=synchronous)


def database_missing(target: str) -> bool:
    """Whether `target` is a SQLite path with no file yet, which opening would create (a URL never is)."""
    return "://" not in target and not Path(target).is_file()


def require_database(target: str) -> None:
    """Refuse a SQLite path with no database instead of creating an empty one: a command that only reads or
    acts on existing rows must not answer a mistyped path as if it were an empty database."""
    if database_missing(target):
        raise StorageUnavailable(f"no database at {target}; give --db PATH (or set SHIXIAN_DB) of the database "
                                 "the engine writes")


__all__ = ["SqlInstanceStore", "database_missing", "database_url", "open_store", "require_database"]
