"""each history step records the capacity its actor acted in: the workflow role the step was allowed under and
the actor's department then (both in the step's hash); steps written before have neither and keep their hashes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = ("actor_role", "actor_department")


def upgrade() -> None:
    # plain ALTER TABLE ADD COLUMN on both databases: on SQLite it keeps the WITHOUT ROWID table as it is
    # (a batch operation would rebuild it), and a nullable column without default rewrites no row
    for name in _COLUMNS:
        op.add_column("history", sa.Column(name, sa.String(length=120), nullable=True))


def downgrade() -> None:
    """Refused while any step records a role or department: dropping them would break the hash chain of every
    instance holding such a step, which `verify_history` would then report as altered."""
    recorded = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM history WHERE actor_role IS NOT NULL OR actor_department IS NOT NULL")).scalar()
    if recorded:
        raise RuntimeError(
            f"{recorded} history steps record the role and department their actor acted in, which revision 0005 "
            "cannot hold: dropping them would break those instances' hash chains. Keep this revision (0006), or "
            "restore a backup taken before the upgrade")
    # SQLite has dropped columns in place since 3.35 (2021), again without rebuilding the table
    for name in reversed(_COLUMNS):
        op.drop_column("history", name)
