"""Applies the Alembic migrations in `storage/migrations` programmatically, once per database, under a lock."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: An arbitrary constant: the key of the PostgreSQL advisory lock that serialises concurrent upgrades.
_LOCK_KEY = 0x5348495849414E
#: Alembic keeps the running migration in module globals (`alembic.context`): one upgrade at a time per process.
_IN_PROCESS = threading.Lock()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; several processes opening one database at once upgrade it once."""
    cfg = alembic_config()
    with _IN_PROCESS, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        elif conn.dialect.name == "sqlite":
            # the write lock before reading the schema's version: another process migrating a new file waits
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
