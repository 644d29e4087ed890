"""Applies the Alembic migrations in `storage/migrations` programmatically, once per database, under a lock."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from engine.errors import SchemaTooNew, StorageUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: An arbitrary constant: the key of the PostgreSQL advisory lock that serialises concurrent upgrades.
_LOCK_KEY = 0x5348495849414E
#: Alembic keeps the running migration in module globals (`alembic.context`): one upgrade at a time per process.
_IN_PROCESS = threading.Lock()

log = logging.getLogger(__name__)


@contextmanager
def _alembic_quiet() -> Iterator[None]:
    """Alembic's INFO lines (a "setup plugin" line per plugin on import, "Context impl", each revision run) at
    every process start say nothing to an operator: only its warnings pass, and `upgrade` logs one line of its
    own when the schema changes. A level someone set on the `alembic` logger is left alone."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level != logging.NOTSET:
        yield
        return
    alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_log.setLevel(logging.NOTSET)


def alembic_config() -> Config:
    with _alembic_quiet():  # importing alembic's commands sets up its plugins, each logged at INFO
        from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _stamped(conn: Connection) -> tuple[str, ...]:
    """The revisions the database's `alembic_version` holds (none for a database without the engine's tables)."""
    from alembic.runtime.migration import MigrationContext

    return tuple(MigrationContext.configure(conn).get_current_heads())


@functools.cache
def _known_revisions() -> tuple[frozenset[str], str]:
    """Every revision in `storage/migrations`, and the newest: read once, as they cannot change under a process."""
    with _alembic_quiet():
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(alembic_config())
        known = frozenset(s.revision for s in script.walk_revisions())
        newest = script.get_current_head()
    if newest is None:
        raise RuntimeError(f"{MIGRATIONS} holds no migration")
    return known, newest


def _database_name(conn: Connection) -> str:
    """The database as a message names it: a SQLite file's path (also of a file opened by a creator function,
    whose URL names none), a server's URL without its password."""
    if conn.dialect.name == "sqlite":
        for _seq, name, file in conn.exec_driver_sql("PRAGMA database_list"):
            if name == "main" and file:
                return str(file)
    return conn.engine.url.render_as_string(hide_password=True)


def _refuse_newer(conn: Connection) -> None:
    """Refuse a database a later release migrated: there is no way up from a revision this release has not got,
    and going down from it would drop what that release wrote."""
    known, newest = _known_revisions()
    for revision in _stamped(conn):
        if revision not in known:
            raise SchemaTooNew(_database_name(conn), revision, newest)


@contextmanager
def _migrating(engine: Engine) -> Iterator[tuple[Connection, Config]]:
    """One transaction around every revision a migration runs, so that one refusing or failing leaves the schema
    as it was, under the lock that serialises migrations of one database."""
    with _IN_PROCESS, _alembic_quiet(), engine.begin() as conn:
        from alembic.util import CommandError  # imported quiet: importing alembic logs its plugins at INFO

        cfg = alembic_config()
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        elif conn.dialect.name == "sqlite":
            # the write lock before reading the schema's version: another process migrating a new file waits.
            # It also opens the transaction the driver would not open before DDL, which would otherwise commit
            # statement by statement
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        _refuse_newer(conn)
        cfg.attributes["connection"] = conn
        try:
            yield conn, cfg
        except CommandError as err:  # Alembic's refusals (a revision it cannot find) leave the store typed
            raise StorageUnavailable(f"cannot migrate {_database_name(conn)}: {err}") from err


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; several processes opening one database at once upgrade it once."""
    with _migrating(engine) as (conn, cfg):
        from alembic import command  # imported quiet: the import logs its plugins at INFO

        before = _revision(conn)
        command.upgrade(cfg, revision)
        after = _revision(conn)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "an empty database", after)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision`, all or nothing: a revision that refuses (its data could not be kept)
    leaves every later one in place."""
    with _migrating(engine) as (conn, cfg):
        from alembic import command  # imported quiet: the import logs its plugins at INFO

        before = _revision(conn)
        command.downgrade(cfg, revision)
        after = _revision(conn)
    log.info("database schema downgraded from %s to %s", before, after)


def known_revision(conn: Connection) -> str | None:
    """The schema revision of a database read without migrating it (None: it holds no engine tables). A revision
    a later release wrote is refused as SchemaTooNew, as opening the database would be."""
    _refuse_newer(conn)
    return _revision(conn)


def schema_is_current(engine: Engine) -> bool:
    """Whether the database's schema is this version's newest (a reader that may not migrate must check). A
    schema a later release migrated is no older one: SchemaTooNew."""
    newest = _known_revisions()[1]
    with engine.connect() as conn:
        _refuse_newer(conn)
        return _stamped(conn) == (newest,)
