"""The whole database's histories page by page, for an audit of every chain: the one read of history that spans
instances, kept apart from the commands' statements."""

from __future__ import annotations

from itertools import groupby

from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.store import InstanceHistory
from storage.rows import history_entry
from storage.tables import history_t, instance_t, steps_of


def history_page(conn: Connection, workflow_id: str | None, after: str | None, limit: int) -> list[InstanceHistory]:
    """Up to `limit` instances with ids after `after` (of `workflow_id`), each with its steps in order."""
    i, h = instance_t.c, history_t.c
    picked = select(i.id.label("of_instance"), i.workflow_id, i.business_key, i.history_seq, i.history_hash,
                    i.ordinal.label("of_ordinal"))
    if workflow_id is not None:
        picked = picked.where(i.workflow_id == workflow_id)
    if after is not None:
        picked = picked.where(i.id > after)
    page = picked.order_by(i.id).limit(limit).subquery()
    joined = page.outerjoin(history_t, steps_of(page.c.of_ordinal))
    stmt = select(page, history_t).select_from(joined).order_by(page.c.of_instance, h.hid)
    found: list[InstanceHistory] = []
    for _, group in groupby(conn.execute(stmt), key=lambda r: r.of_instance):
        rows = list(group)
        first = rows[0]
        # an instance without steps: one empty row; a step in its range of keys under another id is not its own
        steps = [history_entry(r) for r in rows if r.seq is not None and r.instance_id == first.of_instance]
        found.append(InstanceHistory(first.of_instance, first.workflow_id, first.business_key, first.history_seq,
                                     first.history_hash, steps))
    return found
