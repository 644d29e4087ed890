"""an SLA clock whose next moment fails to fire keeps its failed tries and the last error, so that the worker backs
off as it does for a failing timer and an operator sees why the moment has not happened

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both databases, as in 0006: SQLite keeps the table and its partial indexes without a
    # rebuild, and neither database rewrites a row for a constant default or a NULL
    op.add_column("sla_clock", sa.Column("fire_attempts", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.add_column("sla_clock", sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    # only a failing moment's count and error are lost: the moment itself stays due and is retried
    op.drop_column("sla_clock", "last_error")
    op.drop_column("sla_clock", "fire_attempts")
