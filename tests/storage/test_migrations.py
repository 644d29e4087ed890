"""The Alembic migrations build exactly the schema the table classes describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage import open_store
from storage.tables import METADATA


def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    """After the migrations, autogenerate finds nothing to add, drop or change (a table changed without a
    migration fails here)."""
    store = open_store(db_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    store.close()
    assert diff == []
