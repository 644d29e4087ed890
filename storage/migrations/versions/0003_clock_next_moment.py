"""SLA clocks keep their next moment (warning, due time, escalation level) on the clock row, claimed by workers
like timers; the SLA timer rows of open clocks become that moment, and timers gain the 'held' status

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SLA_KINDS = "('warn', 'due', 'escalate')"


def upgrade() -> None:
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_kind", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("next_level", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_sla_clock_next", ["next_fire_at"], unique=False)
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.alter_column("next_level", server_default=None)
    # each open clock's earliest pending SLA timer becomes its next moment; the rows themselves are retired
    first = ("(SELECT t.{col} FROM timer t WHERE t.clock_id = sla_clock.id AND t.status = 'pending' "
             f"AND t.kind IN {SLA_KINDS} ORDER BY t.fire_at, t.id LIMIT 1)")
    op.execute(
        f"UPDATE sla_clock SET next_fire_at = {first.format(col='fire_at')}, "
        f"next_kind = {first.format(col='kind')}, next_level = COALESCE({first.format(col='level')}, 0) "
        "WHERE stopped_at IS NULL"
    )
    op.execute(f"UPDATE timer SET status = 'cancelled' WHERE status = 'pending' AND kind IN {SLA_KINDS}")


def downgrade() -> None:
    op.execute(
        "INSERT INTO timer (instance_id, clock_id, kind, level, fire_at, status, attempts) "
        "SELECT instance_id, id, next_kind, next_level, next_fire_at, 'pending', 0 FROM sla_clock "
        "WHERE next_fire_at IS NOT NULL"
    )
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clock_next")
        batch_op.drop_column("claim_expires_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("next_level")
        batch_op.drop_column("next_kind")
        batch_op.drop_column("next_fire_at")
