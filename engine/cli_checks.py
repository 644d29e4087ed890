"""Checks the command groups share before they touch a database: the `--db` target, a workflow named by id or
by path, a filter value. Each failure is a `UsageError`: the command line is wrong, exit 2, nothing was done."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.validation.reader import closest

if TYPE_CHECKING:
    from storage.sql import SqlInstanceStore

#: The URL schemes `--db` may use: the engine's tables exist for these databases only.
DB_SCHEMES = ("sqlite", "postgresql", "postgres")


class UsageError(Exception):
    """A command line that cannot be run as given; its message says what is expected (exit 2)."""


Command = Callable[[argparse.Namespace], int]
#: An error a command group answers with an exit code: the errors' types, the code, and the text to print
#: (None: the error's own message).
Outcome = tuple[type[BaseException] | tuple[type[BaseException], ...], int, Callable[[BaseException], str] | None]


def exit_codes(command: Command, outcomes: Sequence[Outcome]) -> Command:
    """`command`, with each error `outcomes` names printed as one `error: ...` line on stderr and turned into
    its exit code (the first that matches), never a traceback."""
    kinds = tuple(k for kind, _, _ in outcomes for k in (kind if isinstance(kind, tuple) else (kind,)))

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except kinds as err:
            for kind, code, text in outcomes:
                if isinstance(err, kind):
                    print(f"error: {text(err) if text is not None else err}", file=sys.stderr)
                    return code
            raise

    return run


def open_to_read(db: str) -> SqlInstanceStore:
    """The store of a command that only reads; says so on stderr when `db` is a SQLite file it cannot write, which
    it reads as it stands (a supervisor's copy, a read-only mount)."""
    from storage import open_for_reading, snapshot_path

    if snapshot_path(db) is not None:
        print(f"{db} cannot be written here: reading it as it stands", file=sys.stderr)
    return open_for_reading(db)


def require_engine_db(db: str) -> None:
    """Refuse a `--db` that is no database target (check_db_target) or holds no engine database yet: a command
    that creates none must not read a mistyped path as an empty database."""
    from storage import database_missing, no_database

    check_db_target(db)
    if database_missing(db):
        raise UsageError(no_database(db).detail)


def check_db_target(db: str) -> None:
    """Refuse a `--db` that names no SQLite file or PostgreSQL database the engine can use: another kind of
    server, a path that is a folder or lies in a folder that does not exist. A new file in an existing folder
    passes: `start` and `worker` create it."""
    if "://" in db:
        scheme = db.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in DB_SCHEMES:
            raise UsageError(f"--db {scheme}://...: only SQLite (a file path or sqlite:///PATH) and PostgreSQL "
                             "(postgresql://USER@HOST/DB) are supported")
        return
    path = Path(db).expanduser()
    if path.is_dir():
        raise UsageError(f"--db {db} is a folder; give the path of a SQLite file, e.g. {path / 'shixian.db'}")
    if not path.exists() and not path.parent.is_dir():
        raise UsageError(f"--db {db}: there is no folder {path.parent}; create it first or give a path in an "
                         "existing folder")


def is_path_like(argument: str) -> bool:
    """Whether a workflow argument names a file rather than an id: ids hold no '/' and no YAML suffix."""
    return "/" in argument or "\\" in argument or argument.lower().endswith((".yaml", ".yml"))


def workflow_file(argument: str) -> Path | None:
    """The YAML file a path-like workflow argument names (UsageError when there is none), else None."""
    path = Path(argument).expanduser()
    if path.is_file():
        return path
    if not is_path_like(argument):
        return None
    if path.is_dir():
        raise UsageError(f"{argument} is a folder; give one workflow YAML file, or a workflow id such as "
                         "gx.data_request")
    raise UsageError(f"no such file: {argument}; give an existing workflow YAML file, or a workflow id such as "
                     "gx.data_request")


def check_choice(option: str, value: str | None, known: Collection[str], what: str) -> None:
    """Refuse a filter value none of `known` is (it would match nothing), with the nearest one."""
    if value is None or value in known:
        return
    near = closest(value, known)
    hint = f" (did you mean {near!r}?)" if near else (f"; known: {', '.join(sorted(known))}" if known else "")
    raise UsageError(f"{option} {value!r}: no such {what}{hint}")


__all__ = ["DB_SCHEMES", "UsageError", "check_choice", "check_db_target", "is_path_like",
           "workflow_file"]
