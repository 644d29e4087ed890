"""fewer pages written per command: history keyed by (instance, step); on SQLite instances and history live in
their primary keys' B-trees (WITHOUT ROWID); the clock indexes hold open clocks only and no column a command
changes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _history_columns(with_id: bool) -> list[sa.Column]:  # type: ignore[type-arg]
    cols = [sa.Column("id", sa.Integer(), nullable=False)] if with_id else []
    return cols + [
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("event", sa.String(length=120), nullable=False),
        sa.Column("from_state", sa.String(length=120), nullable=True),
        sa.Column("to_state", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    ]


def _instance_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workflow_id", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=120), nullable=False),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=60), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.Column("history_seq", sa.Integer(), nullable=False),
        sa.Column("history_hash", sa.String(length=64), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _instance_constraints() -> list[sa.Constraint]:
    return [sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("workflow_id", "business_key", name="uq_instance_business_key")]


def _copy_table(name: str, columns: list[sa.Column], constraints: list[sa.Constraint],  # type: ignore[type-arg]
                with_rowid: bool, order_by: str = "") -> None:
    """SQLite: rebuild `name` with the given shape, rows copied over in `order_by` order (its indexes go with the
    old table). The columns both shapes have are copied; one the old table lacks (a surrogate key) is numbered by
    the new one."""
    old = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(name)}
    names = ", ".join(c.name for c in columns if c.name in old)
    order = f" ORDER BY {order_by}" if order_by else ""
    op.create_table(f"{name}_new", *columns, *constraints, sqlite_with_rowid=with_rowid)
    op.execute(f"INSERT INTO {name}_new ({names}) SELECT {names} FROM {name}{order}")
    op.drop_table(name)
    op.rename_table(f"{name}_new", name)


def _clock_indexes(open_only: bool) -> None:
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clock_instance")
        batch_op.drop_index("ix_sla_clock_open_due")
        batch_op.drop_index("ix_sla_clock_next")
    if open_only:
        where_open: dict[str, Any] = {f"{d}_where": sa.text("stopped_at IS NULL") for d in ("sqlite", "postgresql")}
        where_next: dict[str, Any] = {f"{d}_where": sa.text("next_fire_at IS NOT NULL") for d in ("sqlite", "postgresql")}
        op.create_index("ix_sla_clock_instance", "sla_clock", ["instance_id"])
        op.create_index("ix_sla_clock_open_due", "sla_clock", ["due_at"], **where_open)
        op.create_index("ix_sla_clock_next", "sla_clock", ["next_fire_at"], **where_next)
    else:
        op.create_index("ix_sla_clock_instance", "sla_clock", ["instance_id", "status"])
        op.create_index("ix_sla_clock_open_due", "sla_clock", ["stopped_at", "due_at"])
        op.create_index("ix_sla_clock_next", "sla_clock", ["next_fire_at"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_table("history", _history_columns(False), [sa.PrimaryKeyConstraint("instance_id", "seq")], False)
        _copy_table("instance", _instance_columns(), _instance_constraints(), False)
        op.create_index("ix_instance_status_workflow", "instance", ["status", "workflow_id"])
    else:
        op.drop_constraint("uq_history_seq", "history", type_="unique")
        op.drop_column("history", "id")  # its primary key goes with it
        op.create_primary_key("history_pkey", "history", ["instance_id", "seq"])
    _clock_indexes(open_only=True)


def downgrade() -> None:
    _clock_indexes(open_only=False)
    if op.get_bind().dialect.name == "sqlite":
        _copy_table("instance", _instance_columns(), _instance_constraints(), True)
        op.create_index("ix_instance_status_workflow", "instance", ["status", "workflow_id"])
        # the old surrogate key is numbered again, in step order
        _copy_table("history", _history_columns(True), [
            sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("instance_id", "seq", name="uq_history_seq"),
        ], True, order_by="instance_id, seq")
    else:
        op.drop_constraint("history_pkey", "history", type_="primary")
        op.add_column("history", sa.Column("id", sa.Integer(), sa.Identity(), nullable=False))
        op.create_primary_key("history_pkey", "history", ["id"])
        op.create_unique_constraint("uq_history_seq", "history", ["instance_id", "seq"])
