"""shixian's storage: the SQL implementation of the engine's store, on SQLite (a file) or PostgreSQL (a URL)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import StorageUnavailable
from storage.diskfull import disk_full
from storage.snapshot import check_snapshot, snapshot_connect, writable_here
from storage.sql import REMEMBER, SqlInstanceStore, database_url, driver_reason, shown_url


def open_store(target: str, *, synchronous: str = "NORMAL", remember: int = REMEMBER) -> SqlInstanceStore:
    """Open (and migrate) the database at a SQLite path or a PostgreSQL URL. `remember`: the instance rows its
    commands committed last that the store keeps, so the next command on one skips its read (storage.remembered;
    0: every command reads its instance)."""
    return SqlInstanceStore(target, synchronous=synchronous, remember=remember)


def open_for_reading(target: str) -> SqlInstanceStore:
    """Open the database for a command that only reads. A SQLite file that cannot be written here (a copy given
    to a supervisor, a read-only mount) is read as it stands, without migrating it (see storage.snapshot)."""
    path = snapshot_path(target)
    if path is None:
        return open_store(target)
    check_snapshot(path)
    return SqlInstanceStore(target, snapshot=True)


def snapshot_path(target: str) -> Path | None:
    """The file `open_for_reading` reads as a snapshot (an existing SQLite file not writable here), else None."""
    path = _sqlite_path(target)
    return path if path is not None and path.is_file() and not writable_here(path) else None


def _sqlite_path(target: str) -> Path | None:
    """The file of a SQLite target (a path or a sqlite:/// URL); None for a server's URL."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(database_url(target))
    except Exception:  # not a URL SQLAlchemy reads: opening it reports the error
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def database_missing(target: str) -> bool:
    """Whether `target` holds no engine database yet, so that opening it would create the schema: a SQLite path
    with no file, or a file or PostgreSQL database without the engine's tables (an empty one, another
    application's). Raises StorageUnavailable when the database cannot be reached at all."""
    if "://" not in target and not Path(target).is_file():
        return True
    return "alembic_version" not in _table_names(target)


def foreign_tables(target: str) -> list[str]:
    """The tables of a database that holds no engine schema but is not empty: another application's file or
    database, where creating the engine's tables would mix the two. Empty for a missing or empty database and
    for the engine's own."""
    if "://" not in target and not Path(target).is_file():
        return []
    names = _table_names(target)
    return [] if "alembic_version" in names else sorted(names)


def _table_names(target: str) -> set[str]:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError

    url = database_url(target)
    snapshot = snapshot_path(target)
    try:
        engine = (create_engine("sqlite://", creator=snapshot_connect(snapshot)) if snapshot is not None
                  else create_engine(url))
    except (SQLAlchemyError, ImportError, ValueError) as err:
        raise StorageUnavailable(f"cannot open {shown_url(url)}: {err}") from err
    try:
        with engine.connect() as conn:  # looks, never writes: no migration, no pragma that changes the file
            return set(inspect(conn).get_table_names())
    except SQLAlchemyError as err:
        full = disk_full(err, _sqlite_path(target))
        if full is not None:  # SQLite's "disk I/O error" on opening: no room for the file's -shm beside it
            raise full from err
        raise StorageUnavailable(f"cannot open {shown_url(url)}: {driver_reason(err)}; check --db (or SHIXIAN_DB)"
                                 ) from err
    finally:
        engine.dispose()


def require_database(target: str) -> None:
    """Refuse a database the engine never wrote instead of creating the schema in it: a command that only reads
    or acts on existing rows must not answer a mistyped path or database name as if it were an empty database."""
    if database_missing(target):
        raise no_database(target)


def no_database(target: str) -> StorageUnavailable:
    """The error for a --db that holds no engine database (a path as given, a URL without its password)."""
    return StorageUnavailable(f"no database at {shown_url(target)} (no engine tables there); give --db PATH or URL "
                              "(or set SHIXIAN_DB) of the database the engine writes")


__all__ = ["SqlInstanceStore", "database_missing", "database_url", "foreign_tables", "no_database", "open_for_reading",
           "open_store", "require_database", "snapshot_path"]
