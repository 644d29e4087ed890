"""a history step may be sealed with a secret key (an HMAC; engine.history_keys): the step names the key's public
id, and the keys that have sealed steps are listed, so that an engine given none refuses to write beside them

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # as in 0006: a plain nullable ADD COLUMN keeps the WITHOUT ROWID table and rewrites no row
    op.add_column("history", sa.Column("key_id", sa.String(length=16), nullable=True))
    op.create_table(
        "history_key",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("first_sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    """Refused while any step is sealed: revision 0006 cannot tell a sealed hash from a plain one, so every such
    instance would read as altered."""
    sealed = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM history WHERE key_id IS NOT NULL")).scalar()
    if sealed:
        raise RuntimeError(
            f"{sealed} history steps are sealed with a history key, which revision 0006 cannot record: their "
            "instances would read as altered. Keep this revision (0007), or restore a backup taken before the "
            "upgrade")
    op.drop_table("history_key")
    op.drop_column("history", "key_id")
