"""the database keeps the settings every process on it must share, by name, starting with the deadline policy, so
that a process given another one is refused instead of computing deadlines of a second kind

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a new table, empty: the first engine to open the database records its own policy there
    op.create_table(
        "deployment_setting",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    # only the record is lost: the first engine opening the database after the next upgrade records its policy again
    op.drop_table("deployment_setting")
