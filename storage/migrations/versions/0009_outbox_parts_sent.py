"""an outbox message a robot takes in several parts remembers how many were delivered, so that a retry after a
later part failed posts the rest instead of posting the group the first parts again

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN with a constant default: neither database rewrites a row
    op.add_column("outbox_message",
                  sa.Column("parts_sent", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    # only the progress of a message waiting between its parts is lost: its retry posts every part again
    op.drop_column("outbox_message", "parts_sent")
