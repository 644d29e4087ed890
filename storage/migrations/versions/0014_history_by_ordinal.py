"""each instance gets a number (its ordinal) and each history step one integer key, (ordinal << 20) | step; on
SQLite the key is the rowid, so the history's inner pages hold keys, not whole rows

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# written out, not imported: a revision keeps the shape it had when it was written
STEP_BITS = 20

_HISTORY_REST = ["instance_id", "seq", "at", "actor", "event", "from_state", "to_state", "payload", "prev_hash", "hash",
                 "actor_role", "actor_department", "key_id"]


def _history_columns(with_key: bool) -> list[sa.Column]:  # type: ignore[type-arg]
    key = [sa.Column("hid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False,
                     autoincrement=False)] if with_key else []
    return key + [
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
        sa.Column("actor_role", sa.String(length=120), nullable=True),
        sa.Column("actor_department", sa.String(length=120), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=True),
    ]


def _count(sql: str) -> int:
    return int(op.get_bind().execute(sa.text(sql)).scalar_one())


def _refuse_orphans() -> None:
    """A step whose instance is gone has no ordinal to be keyed by: refuse, changing nothing, rather than drop it."""
    orphans = _count("SELECT COUNT(*) FROM history WHERE NOT EXISTS "
                     "(SELECT 1 FROM instance WHERE instance.id = history.instance_id)")
    if orphans:
        raise RuntimeError(f"{orphans} history steps belong to no instance; this revision keys each step by its "
                           "instance's number. Restore the instances from a backup, or export and remove those "
                           "steps, then upgrade again")


def _number_instances() -> None:
    """Every instance's ordinal, 1, 2, ... in order of id (time-ordered ids: the order they started in)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE TEMP TABLE instance_numbers (id VARCHAR(32) PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
        op.execute("INSERT INTO instance_numbers SELECT id, row_number() OVER (ORDER BY id) FROM instance")
        op.execute("UPDATE instance SET ordinal = (SELECT n FROM instance_numbers WHERE instance_numbers.id = instance.id)")
        op.execute("DROP TABLE instance_numbers")
    else:
        op.execute("UPDATE instance SET ordinal = numbered.n FROM "
                   "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM instance) AS numbered "
                   "WHERE numbered.id = instance.id")


def _copy_history(with_key: bool) -> None:
    """SQLite: the history rebuilt, keyed by `hid` (a rowid table) or by (instance_id, seq) (WITHOUT ROWID)."""
    rest = ", ".join(_HISTORY_REST)
    before = _count("SELECT COUNT(*) FROM history")
    if with_key:
        op.create_table("history_new", *_history_columns(True), sa.PrimaryKeyConstraint("hid"))
        op.execute(f"INSERT INTO history_new (hid, {rest}) SELECT (instance.ordinal << {STEP_BITS}) | history.seq, "
                   f"{', '.join('history.' + c for c in _HISTORY_REST)} FROM history "
                   "JOIN instance ON instance.id = history.instance_id ORDER BY 1")
    else:
        op.create_table("history_new", *_history_columns(False), sa.PrimaryKeyConstraint("instance_id", "seq"),
                        sqlite_with_rowid=False)
        op.execute(f"INSERT INTO history_new ({rest}) SELECT {rest} FROM history ORDER BY instance_id, seq")
    after = _count("SELECT COUNT(*) FROM history_new")
    if after != before:  # the transaction rolls back: nothing is lost
        raise RuntimeError(f"the history copy holds {after} steps of {before}; nothing was changed")
    op.drop_table("history")
    op.rename_table("history_new", "history")


def upgrade() -> None:
    _refuse_orphans()
    op.add_column("instance", sa.Column("ordinal", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
    _number_instances()
    if op.get_bind().dialect.name == "sqlite":
        _copy_history(with_key=True)
    else:
        op.execute("CREATE SEQUENCE instance_ordinal AS BIGINT")
        op.execute("SELECT setval('instance_ordinal', (SELECT COALESCE(MAX(ordinal), 0) + 1 FROM instance), false)")
        op.add_column("history", sa.Column("hid", sa.BigInteger(), nullable=True))
        op.execute(f"UPDATE history SET hid = (instance.ordinal << {STEP_BITS}) | history.seq FROM instance "
                   "WHERE instance.id = history.instance_id")
        op.alter_column("history", "hid", nullable=False)
        op.drop_constraint("history_pkey", "history", type_="primary")
        op.create_primary_key("history_pkey", "history", ["hid"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_history(with_key=False)
    else:
        op.drop_constraint("history_pkey", "history", type_="primary")
        op.drop_column("history", "hid")
        op.create_primary_key("history_pkey", "history", ["instance_id", "seq"])
        op.execute("DROP SEQUENCE instance_ordinal")
    op.drop_column("instance", "ordinal")
