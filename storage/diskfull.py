"""Telling a full disk apart from SQLite's (and the system's) other file faults, so the operator is told to free
space, and where.

SQLite reports a full disk as SQLITE_FULL when it writes the database or its log, but as an I/O error
(SQLITE_IOERR_SHMSIZE, "disk I/O error") when it cannot enlarge the shared-memory file (`-shm`) it creates on
opening a database in WAL mode. An I/O error on a disk with less room than one block of that file is a full
disk too.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3

from engine.errors import DiskFull

#: SQLite's primary result codes (the low byte of an extended code)
SQLITE_IOERR = 10
SQLITE_FULL = 13
#: SQLite grows a `-shm` file by this many bytes at a time
SHM_BLOCK = 32768


def disk_full(err: BaseException, database: str | os.PathLike[str] | None) -> DiskFull | None:
    """The DiskFull that `err` (SQLite's error, SQLAlchemy's around it, or the system's writing a file beside it)
    means for the file `database`, else None: another fault, another database's error, or no SQLite file
    (`database` None: a server's URL)."""
    if database is not None and isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        folder = os.path.dirname(os.path.abspath(database))
        return DiskFull(folder, _free_bytes(folder))
    cause = getattr(err, "orig", err)
    code = getattr(cause, "sqlite_errorcode", None)
    if database is None or not isinstance(cause, sqlite3.Error) or not isinstance(code, int):
        return None
    folder = os.path.dirname(os.path.abspath(database))
    free = _free_bytes(folder)
    if code & 0xFF == SQLITE_FULL:
        return DiskFull(folder, free)
    if code & 0xFF == SQLITE_IOERR and free is not None and free < SHM_BLOCK:
        return DiskFull(folder, free)
    return None


def _free_bytes(folder: str) -> int | None:
    """The bytes this process may still write in `folder`'s filesystem (None when they cannot be counted)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


__all__ = ["disk_full"]
