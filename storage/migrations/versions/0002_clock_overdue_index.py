"""index the open clocks by due time: the overdue query filters on stopped_at IS NULL, not on status

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clock_status_due")
        batch_op.create_index("ix_sla_clock_open_due", ["stopped_at", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clock_open_due")
        batch_op.create_index("ix_sla_clock_status_due", ["status", "due_at"], unique=False)
