"""Alembic environment: runs on the connection `storage.migrate.upgrade` hands over (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from storage.tables import METADATA

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - `alembic` run by hand needs a URL
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url, or migrate through storage.migrate.upgrade(engine)")
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=METADATA, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
    context.run_migrations()
