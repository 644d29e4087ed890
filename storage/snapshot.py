"""Reading a SQLite file that cannot be written here: a copy handed to a supervisor, a read-only mount.

SQLite reads a database in WAL mode only through a shared-memory file (`-shm`) beside it, which it creates. Where
the file or its folder cannot be written, the file is opened `immutable` instead: read as it stands, with no
locks, no `-shm` and no migration. That is right for a copy nobody writes. It would be wrong for a live
database, whose write-ahead log an immutable open does not read, so a file whose log holds changes is refused.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from engine.errors import StorageUnavailable


def writable_here(path: Path) -> bool:
    """Whether this process may write the file and create its `-wal` and `-shm` beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def check_snapshot(path: Path) -> None:
    """Refuse a file whose write-ahead log holds changes: read without it, the file would look older than it is."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StorageUnavailable(
            f"{path} cannot be written here, and its write-ahead log {wal.name} holds changes that a read-only "
            "reader cannot apply; read it where it can be written, or copy it again once every engine process "
            "on it has stopped (the last one folds the log into the file)")


def snapshot_connect(path: Path) -> Callable[[], sqlite3.Connection]:
    """A connection factory opening `path` immutable and read-only."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    return lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)


__all__ = ["check_snapshot", "snapshot_connect", "writable_here"]
