"""The instance rows this process committed last, so that the next command on one of them need not read it.

A backend moves a case through its steps one command after another, mostly in the process that ran the last
one, and the row that command committed is the row the next one would read, unless someone else wrote the
instance since. So the store keeps the rows its own commands committed (the most recent `limit`) and a command
takes its instance from here instead of reading it from the database.

A remembered row is trusted no further than the row-version check. Taking an entry removes it, and only a
committed write puts one back, so an entry is used once per write. The command's own write of the instance
(`UPDATE ... WHERE row_version = ?`) confirms the row it took; a command that would end without that write (a
refusal, a moment with nothing to do) or is about to call a hook reads the stored row version first. Either way
a row another writer moved on is never acted on: the command is undone and raises `RowOutOfDate`, and the engine
runs it again on the row read from the database. So every writer of the instance table moves `row_version` on,
as the engine's own statements do; a hand-made change that does not is unseen by a process that remembers the row.
"""

from __future__ import annotations

import threading

from engine.store import InstanceView

#: An instance row as its command committed it: the record (its variables a copy of its own, as a read gives them),
#: its variables as the stored text, the clock ids its row lists, the instance's number.
RememberedRow = tuple[InstanceView, str, str, int]


def remembered_row(view: InstanceView, variables_text: str, clock_ids: str, ordinal: int) -> RememberedRow:
    """The entry of a row just committed. Its variables are copied (lists too: a list variable holds strings),
    so that a caller who changes the record the command handed back changes nothing here."""
    variables = dict(view.variables)
    for name, value in variables.items():
        if type(value) is list:
            variables[name] = list(value)
    kept = InstanceView(view.id, view.workflow_id, view.version, view.business_key, view.state, variables, view.status,
                        view.outcome, view.row_version, view.history_seq, view.history_hash, view.last_error,
                        view.created_at, view.updated_at)
    return kept, variables_text, clock_ids, ordinal


class RememberedRows:
    """At most `limit` rows, the most recently committed; safe to share between the threads of a store."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a store remembers at least one row, or is given none to remember (remember=0)")
        self.limit = limit
        self._rows: dict[str, RememberedRow] = {}
        self._lock = threading.Lock()

    def take(self, instance_id: str) -> RememberedRow | None:
        """The row committed last for the instance, removed: a command uses it once (dict.pop is atomic)."""
        return self._rows.pop(instance_id, None)

    def put(self, row: RememberedRow) -> None:
        """Keep a row just committed, unless a later version of it is kept already (two threads committing one
        instance in turn may come here in the other order); the oldest entry makes room."""
        instance_id = row[0].id
        with self._lock:
            kept = self._rows.pop(instance_id, None)
            if kept is not None and kept[0].row_version > row[0].row_version:
                row = kept
            self._rows[instance_id] = row
            if len(self._rows) > self.limit:
                del self._rows[next(iter(self._rows))]

    def forget(self, instance_id: str) -> None:
        """Drop the instance's entry: its row was written in a way that kept no record of it here."""
        self._rows.pop(instance_id, None)

    def clear(self) -> None:
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)
