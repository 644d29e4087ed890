"""timer transitions remember when their period started and whether their moment was counted on a year without
calendar data, so adding the year's file recomputes them as it does provisional clocks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timer") as batch:
        batch.add_column(sa.Column("provisional", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("armed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timer") as batch:
        batch.drop_column("armed_at")
        batch.drop_column("provisional")
