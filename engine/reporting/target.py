"""Where `cli.py report --out` (and `graph -o`, `schema -o`) may write: never over the database it reads, nor over
a file that is not of the command's own output.

A monthly job writing `report-2026-10.html` again replaces the last run's report of that name, as an operator
expects; anything else already there (a database, a document) is refused unless `--force` says to replace it,
and the database being read and its journal files are refused even then.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from engine.reporting.render import is_report

_SQLITE_HEAD = b"SQLite format 3\x00"
_HEAD_BYTES = 512
#: The files SQLite keeps beside a database while it is used.
JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")
_SQLITE_URL = re.compile(r"sqlite(\+\w+)?:///(?P<path>[^?]*)")


def sqlite_file(db: str) -> Path | None:
    """The file behind `--db` when it names a SQLite database (a path or a sqlite:/// URL), else None."""
    if "://" not in db:
        return Path(db)  # what storage.database_url makes of a plain path
    found = _SQLITE_URL.match(db)
    path = found.group("path") if found else ""
    return Path(path) if path and path != ":memory:" else None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refusal(out: Path, db: str | None, *, force: bool = False, option: str = "--out", kind: str = "report",
            is_own: Callable[[bytes], bool] = is_report) -> str | None:
    """Why `option out` must not be written (with `--db db`, when the command reads a database), as a message
    for the operator; None if it may. `is_own` tells a file of the command's own `kind` from its first bytes:
    that one is replaced, anything else only with `force`, a SQLite database never."""
    target = out.expanduser().resolve()
    database = sqlite_file(db) if db is not None else None
    if database is not None:
        base = database.expanduser().resolve()
        for suffix in ("", *JOURNAL_SUFFIXES):
            own = base.with_name(base.name + suffix)
            if target == own or _same_file(target, own):
                return (f"{option} {out} is the database the {kind} reads ({own.name}); "
                        f"give the {kind} a file of its own, e.g. {option} report-YYYY-MM.html")
    if not target.parent.is_dir():
        return (f"{option} {out}: there is no folder {target.parent}; create it first or give a path in an existing "
                f"folder (the {kind} does not create folders, so a mistyped path is not taken for a new one)")
    if not target.exists():
        return None
    if not target.is_file():
        return f"{option} {out} exists and is not a regular file; give the path of a file to write"
    try:
        with target.open("rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError as err:
        return f"{option} {out} exists and cannot be read ({err.strerror}); give another path"
    if head.startswith(_SQLITE_HEAD):
        return f"{option} {out} is a SQLite database, not a {kind}; it is never overwritten: give another path"
    if head and not is_own(head) and not force:
        return (f"{option} {out} exists and is not a {kind} this command wrote; move it away, give another path, "
                "or add --force to replace it")
    return None


__all__ = ["JOURNAL_SUFFIXES", "refusal", "sqlite_file"]
