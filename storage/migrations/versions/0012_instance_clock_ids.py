"""an instance's row lists the ids of its SLA clocks, and the index of the clocks by instance goes: commands find
their clocks by key, and starting a clock no longer writes a page of that index

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# each id followed by a comma, oldest first ("12,13,"), as storage/tx.py writes them
_LIST_SQLITE = """UPDATE instance SET clock_ids = COALESCE((
    SELECT group_concat(listed, '') FROM (
        SELECT id || ',' AS listed FROM sla_clock WHERE sla_clock.instance_id = instance.id ORDER BY id)), '')"""
_LIST_POSTGRESQL = """UPDATE instance SET clock_ids = COALESCE((
    SELECT string_agg(id::text || ',', '' ORDER BY id) FROM sla_clock WHERE sla_clock.instance_id = instance.id), '')"""


def upgrade() -> None:
    # plain ADD COLUMN (as in 0006 and 0008): SQLite keeps the WITHOUT ROWID table without a rebuild
    op.add_column("instance", sa.Column("clock_ids", sa.Text(), nullable=False, server_default=sa.text("''")))
    # filled through the index it then replaces
    op.execute(_LIST_POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _LIST_SQLITE)
    op.drop_index("ix_sla_clock_instance", table_name="sla_clock")


def downgrade() -> None:
    # nothing is lost: every clock keeps its instance_id, which the index covers again
    op.create_index("ix_sla_clock_instance", "sla_clock", ["instance_id"], unique=False)
    op.drop_column("instance", "clock_ids")
