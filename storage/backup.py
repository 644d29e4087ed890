"""`backup_database`: a checked copy of the engine's SQLite database, taken with SQLite's online backup API while
workers and backends keep writing, and put under its name only once it is known good.

The copy is made from one read transaction held on the source for the whole copy: in WAL mode a reader never
blocks a writer, so the engine's commands and ticks go on meanwhile, and every page comes from one moment of the
database. Without it SQLite starts a stepped copy over each time another connection commits, which under a
steady stream of commands may never end. The source is opened read-only: nothing migrates it or writes to it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DatabaseError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from engine.errors import StorageUnavailable, WorkflowError
from storage.diskfull import disk_full
from storage.migrate import known_revision
from storage.snapshot import check_snapshot, snapshot_connect, writable_here
from storage.sql import database_url, driver_reason, shown_url
from storage.tables import instance_t

#: Pages copied at each step (4 MiB of 4 KiB pages): between two steps the copy can be interrupted, and its
#: partial file removed, by Ctrl-C or SIGTERM.
PAGES_PER_STEP = 1024
#: The files SQLite keeps beside a database while it is used.
SIDE_FILES = ("-wal", "-shm", "-journal")
#: SQLite's result codes for a damaged page, and for a file that is no database
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
#: What to give --db instead, in each refusal of the source.
_WHICH_DB = "give --db the SQLite file the workers and backends write (their --db, or $SHIXIAN_DB)"
#: Called after each step with the pages still to copy and the pages in all.
Progress = Callable[[int, int], None]


class BackupRefused(WorkflowError):
    """The backup cannot be made as asked: `option value` names the source or target at fault, `problem` says why
    and what to do. Nothing was copied and nothing was written."""

    def __init__(self, option: str, value: str, problem: str) -> None:
        self.option, self.value, self.problem = option, value, problem
        super().__init__(f"{option} {value}: {problem}")


class BackupFailed(WorkflowError):
    """The copy could not be made, or was made and failed its check (`problem`). Nothing was put under the
    target's name and the partial copy was removed; the database itself was not touched."""

    def __init__(self, target: str, problem: str) -> None:
        self.target, self.problem = target, problem
        super().__init__(f"the backup to {target} failed: {problem}; nothing was written to {target}")


@dataclass(frozen=True)
class BackupResult:
    """What was copied: the checked copy's path and size, its schema revision and instances, and how long it took."""

    source: Path
    path: Path
    bytes: int
    revision: str
    instances: int
    seconds: float


def backup_database(db: str, target: Path, *, force: bool = False, pages: int = PAGES_PER_STEP,
                    progress: Progress | None = None) -> BackupResult:
    """Copy the engine's SQLite database `db` (a path or sqlite:/// URL) to `target`, which an existing file is
    only replaced at with `force`. Raises BackupRefused (as asked, it cannot be done), BackupFailed, DiskFull,
    SchemaTooNew or StorageUnavailable; whatever is raised, even KeyboardInterrupt, leaves nothing at `target`
    that was not there before."""
    started = time.monotonic()
    source = source_file(db)
    check_target(target, source, force=force)
    with _partial_copy(target) as partial:
        with _source_snapshot(source) as conn:
            revision = _source_revision(conn, source)
            _copy_pages(conn, partial, target, pages, progress)
        instances = _check_copy(partial, target, source, revision)
        _sync(partial)
        _put_in_place(partial, target, force=force)
    _sync_folder(target.parent)
    return BackupResult(source, target, target.stat().st_size, revision, instances, time.monotonic() - started)


def source_file(db: str) -> Path:
    """The SQLite file `--db` names; a server's URL is refused with how to back that database up instead."""
    try:
        url = make_url(database_url(db))
    except Exception as err:  # not a URL SQLAlchemy reads
        raise BackupRefused("--db", shown_url(db), f"not a SQLite file path or URL ({err})") from err
    backend = url.get_backend_name()
    if backend == "postgresql":
        raise BackupRefused("--db", shown_url(db), _pg_dump_advice(url))
    if backend != "sqlite" or url.database in (None, "", ":memory:"):
        raise BackupRefused("--db", shown_url(db), "backup copies the engine's SQLite file; give its path")
    path = Path(url.database).expanduser()
    if path.is_dir():
        raise BackupRefused("--db", db, f"a folder, not a SQLite file; give the engine's file in it, e.g. "
                                        f"{path / 'shixian.db'}")
    if not path.is_file():
        raise BackupRefused("--db", db, f"there is no file there; {_WHICH_DB}")
    return path


def _pg_dump_advice(url: URL) -> str:
    """How to back up the PostgreSQL database `url` names, as a command line to copy: libpq's URL, without the
    password (pg_dump asks for it, or reads ~/.pgpass or $PGPASSWORD)."""
    plain = url.set(drivername="postgresql")._replace(password=None).render_as_string(hide_password=False)
    return ("a PostgreSQL database is backed up with PostgreSQL's own pg_dump, which also copies a consistent "
            "snapshot while the workers keep writing, e.g. "
            f"pg_dump --format=custom --file=shixian.dump '{plain}' (restore with pg_restore --dbname=URL "
            "shixian.dump); this command copies SQLite files only")


def check_target(target: Path, source: Path, *, force: bool) -> None:
    """Refuse a target the copy must not be put at: in a folder that is missing or cannot be written, a folder
    itself, the database or one of its side files, or an existing file unless `force`."""
    folder = target.parent
    if not folder.is_dir():
        raise BackupRefused("--to", str(target), f"there is no folder {folder}; create it first, or give a path "
                                                 "in an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupRefused("--to", str(target), f"the folder {folder} cannot be written by this user; give a "
                                                 "folder it may write, or run the backup as its owner")
    if target.is_dir():
        raise BackupRefused("--to", str(target), f"a folder; give the copy's file, e.g. {target / source.name}")
    for suffix in ("", *SIDE_FILES):
        own = source.with_name(source.name + suffix)
        if target.resolve() == own.resolve() or (target.exists() and own.exists() and target.samefile(own)):
            raise BackupRefused("--to", str(target), f"the database being copied ({own.name}); give the copy "
                                                     "a path of its own")
    if (target.exists() or target.is_symlink()) and not force:
        raise BackupRefused("--to", str(target), "a file is there already, and nothing was copied; give a new "
                                                 "path, or add --force to replace it")


@contextmanager
def _partial_copy(target: Path) -> Iterator[Path]:
    """A new file beside `target` to copy into (owner-only, as the audit trail it will hold), removed with its
    side files unless it was put in place; a killed process leaves it under its `.partial` name, never the
    target's."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as err:
        raise _write_error(err, target, target) from err
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
    finally:
        for suffix in ("", *SIDE_FILES):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)


@contextmanager
def _source_snapshot(source: Path) -> Iterator[Connection]:
    """A read-only connection to `source` holding one read transaction, so that every read and every page copied
    comes from the same moment of the database."""
    engine = create_engine("sqlite://", creator=_reader(source), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()  # the snapshot begins at a read
            yield conn
    except SQLAlchemyError as err:
        raise _source_error(err, source) from err
    finally:
        engine.dispose()


def _reader(source: Path) -> Callable[[], sqlite3.Connection]:
    """Opens `source` read-only; a file that cannot be written here (a read-only mount) immutable, as the commands
    that only read open it (storage.snapshot)."""
    if not writable_here(source):
        check_snapshot(source)
        return snapshot_connect(source)
    uri = f"{source.resolve().as_uri()}?mode=ro"
    return lambda: sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False)


def _source_error(err: SQLAlchemyError, source: Path) -> WorkflowError:
    """What an error reading the source means: not a database, a full disk (no room for its `-shm`), or else
    unavailable."""
    full = disk_full(err, source)
    if full is not None:
        return full
    if getattr(getattr(err, "orig", None), "sqlite_errorcode", None) == SQLITE_NOTADB:
        return BackupRefused("--db", str(source), f"not a SQLite database; {_WHICH_DB}")
    return StorageUnavailable(f"cannot read {source}: {driver_reason(err)}")


def _source_revision(conn: Connection, source: Path) -> str:
    """The source's schema revision: SchemaTooNew for a later release's, refused when it holds no engine tables."""
    revision = known_revision(conn)
    if revision is None:
        tables = sorted(r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'"))
        held = f"it holds only other tables ({', '.join(tables[:5])})" if tables else "it is empty"
        raise BackupRefused("--db", str(source), f"not the engine's database: {held}; {_WHICH_DB}")
    return revision


def _copy_pages(conn: Connection, partial: Path, target: Path, pages: int, progress: Progress | None) -> None:
    """Copy the source's pages into `partial`, `pages` at a step, within the source's read transaction."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)

    def stepped(_status: int, remaining: int, total: int) -> None:
        # a Python call after every step is also where a signal's handler runs, so Ctrl-C ends the copy there
        if progress is not None:
            progress(remaining, total)

    copy = sqlite3.connect(partial)
    try:
        raw.backup(copy, pages=pages, progress=stepped)
    except sqlite3.Error as err:
        full = disk_full(err, partial)
        raise full if full is not None else BackupFailed(str(target), f"copying the pages failed ({driver_reason(err)})"
                                                         ) from err
    finally:
        copy.close()


def _check_copy(partial: Path, target: Path, source: Path, revision: str) -> int:
    """Check the copy as SQLite and the engine will read it: the integrity check finds nothing, and it carries the
    source's schema revision. Returns the number of instances it holds."""
    engine = create_engine(database_url(str(partial)), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            problems = _integrity_problems(conn)
            if problems != ["ok"]:
                raise BackupFailed(str(target), f"the copy fails SQLite's integrity check ({'; '.join(problems[:3])})"
                                                f", so the database is damaged: check it with `sqlite3 {source} "
                                                "'PRAGMA integrity_check'`, and keep the backups taken before")
            copied = known_revision(conn)
            if copied != revision:
                raise BackupFailed(str(target), f"the copy carries schema revision {copied!r}, the database "
                                                f"{revision!r}")
            return int(conn.execute(select(func.count()).select_from(instance_t)).scalar_one())
    except SQLAlchemyError as err:
        full = disk_full(err, partial)
        raise full if full is not None else BackupFailed(str(target), f"reading the copy failed ({driver_reason(err)})"
                                                         ) from err
    finally:
        engine.dispose()


def _integrity_problems(conn: Connection) -> list[str]:
    """What `PRAGMA integrity_check` finds (["ok"]: nothing); a page so damaged that the check itself stops is
    one problem too."""
    try:
        return [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check")]
    except DatabaseError as err:
        code = getattr(err.orig, "sqlite_errorcode", None)
        if not isinstance(code, int) or code & 0xFF != SQLITE_CORRUPT:  # the primary code of any extended one
            raise
        return [driver_reason(err)]


def _sync(path: Path) -> None:
    """Put the copy's content on the disk before it is renamed: a power cut after the rename must not leave an
    empty or partial file under the target's name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:
        raise _write_error(err, path, path) from err
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Put the rename on the disk too, where the system syncs folders (the copy is in place either way)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _put_in_place(partial: Path, target: Path, *, force: bool) -> None:
    """Give the checked copy the target's name: replacing a file there only with `force`, and otherwise without a
    moment where a file another process put there meanwhile could be overwritten."""
    try:
        if force:
            os.replace(partial, target)
            return
        try:
            os.link(partial, target)  # fails if the name is taken, however recently
        except FileExistsError:
            raise BackupRefused("--to", str(target), "was created by someone else while the copy was made; "
                                                     "nothing was replaced: give a new path, or add --force") from None
        except OSError:  # a filesystem without hard links: look, then rename
            if target.exists() or target.is_symlink():
                raise BackupRefused("--to", str(target), "a file is there already; give a new path, or add "
                                                         "--force") from None
            os.replace(partial, target)
            return
        partial.unlink()
    except OSError as err:
        raise _write_error(err, partial, target) from err


def _write_error(err: OSError, written: Path, target: Path) -> WorkflowError:
    """A system error writing beside the target: a full disk, a folder that cannot be written, or else a failure."""
    full = disk_full(err, written)
    if full is not None:
        return full
    if isinstance(err, PermissionError):
        return BackupRefused("--to", str(target), f"the folder {target.parent} cannot be written ({err.strerror}); "
                                                  "give a folder this user may write")
    return BackupFailed(str(target), f"writing {written.name} failed ({err.strerror or err})")


__all__ = ["PAGES_PER_STEP", "BackupFailed", "BackupRefused", "BackupResult", "backup_database", "check_target",
           "source_file"]
