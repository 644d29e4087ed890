"""the database keeps every open clock not yet breached armed at or before its due time; the index of all open
clocks by due time goes, replaced by one of the breached clocks and one of the provisional ones

The overdue listing reads the breached open clocks from their own index and the late ones no tick has caught from
the next-moment index, which holds them by the rule `ck_sla_clock_next_by_due` (storage.tables.NEXT_BY_DUE). A
command on a case on time no longer writes a page of an index of every open clock.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# written out, not imported: a revision keeps the shape it had when it was written
NEXT_BY_DUE = ("stopped_at IS NOT NULL OR breached OR status = 'paused' "
               "OR (next_fire_at IS NOT NULL AND next_fire_at <= due_at)")
CHECK = "ck_sla_clock_next_by_due"

# A clock that would break the rule (none should: every path arms the due time) is armed at its due time, so
# the next tick records its breach rather than the listing missing it.
_ARM_AT_DUE = """UPDATE sla_clock SET next_fire_at = due_at, next_kind = 'due', next_level = 0
    WHERE NOT ({rule})"""


def _where(sqlite: str, postgresql: str) -> dict[str, Any]:
    return {"sqlite_where": sa.text(sqlite), "postgresql_where": sa.text(postgresql)}


def _next_index() -> None:
    op.create_index("ix_sla_clock_next", "sla_clock", ["next_fire_at"],
                    **_where("next_fire_at IS NOT NULL", "next_fire_at IS NOT NULL"))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute(_ARM_AT_DUE.format(rule=NEXT_BY_DUE))
    op.drop_index("ix_sla_clock_open_due", table_name="sla_clock")
    if sqlite:
        # SQLite adds a CHECK by rebuilding the table; its one index is made again after, with its WHERE
        op.drop_index("ix_sla_clock_next", table_name="sla_clock")
        with op.batch_alter_table("sla_clock", recreate="always") as batch_op:
            batch_op.create_check_constraint(CHECK, sa.text(NEXT_BY_DUE))
        _next_index()
    else:
        op.create_check_constraint(CHECK, "sla_clock", sa.text(NEXT_BY_DUE))
    op.create_index("ix_sla_clock_breached", "sla_clock", ["due_at"],
                    **_where("stopped_at IS NULL AND breached = 1", "stopped_at IS NULL AND breached"))
    op.create_index("ix_sla_clock_provisional", "sla_clock", ["id"],
                    **_where("stopped_at IS NULL AND provisional = 1", "stopped_at IS NULL AND provisional"))


def downgrade() -> None:
    op.drop_index("ix_sla_clock_provisional", table_name="sla_clock")
    op.drop_index("ix_sla_clock_breached", table_name="sla_clock")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_sla_clock_next", table_name="sla_clock")
        with op.batch_alter_table("sla_clock", recreate="always") as batch_op:
            batch_op.drop_constraint(CHECK, type_="check")
        _next_index()
    else:
        op.drop_constraint(CHECK, "sla_clock", type_="check")
    op.create_index("ix_sla_clock_open_due", "sla_clock", ["due_at"],
                    **_where("stopped_at IS NULL", "stopped_at IS NULL"))
