"""The bounded set of rows a store remembers (storage.remembered): what it keeps, for how long, and of whom."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.store import InstanceView
from storage.remembered import RememberedRows, remembered_row

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _view(instance_id: str, row_version: int, variables: dict[str, object] | None = None) -> InstanceView:
    return InstanceView(instance_id, "wf", "v1", f"bk-{instance_id}", "review", variables or {}, "running", None,
                        row_version, row_version, "h", None, AT, AT)


def test_the_oldest_entry_makes_room_and_a_taken_entry_is_gone() -> None:
    rows = RememberedRows(2)
    for name in ("a", "b", "c"):
        rows.put(remembered_row(_view(name, 1), "{}", "", 1))
    assert (rows.take("a"), len(rows)) == (None, 2)
    taken = rows.take("b")
    assert taken is not None and taken[0].id == "b"
    assert rows.take("b") is None  # used once


def test_a_row_committed_earlier_never_replaces_a_later_one() -> None:
    """Two threads commit one instance in turn and come to `put` in the other order: the later version stays."""
    rows = RememberedRows(4)
    rows.put(remembered_row(_view("a", 3), "{}", "", 1))
    rows.put(remembered_row(_view("a", 2), "{}", "", 1))
    kept = rows.take("a")
    assert kept is not None and kept[0].row_version == 3


def test_the_variables_kept_are_a_copy_lists_included() -> None:
    """A caller who changes the record its command handed back (a list variable too) changes nothing kept."""
    handed_back = _view("a", 1, {"tags": ["x"], "note": "n"})
    rows = RememberedRows(1)
    rows.put(remembered_row(handed_back, '{"note":"n","tags":["x"]}', "", 1))
    handed_back.variables["tags"].append("y")  # type: ignore[attr-defined]
    handed_back.variables["note"] = "changed"
    kept = rows.take("a")
    assert kept is not None and kept[0].variables == {"tags": ["x"], "note": "n"}


def test_a_store_remembers_at_least_one_row_or_none() -> None:
    with pytest.raises(ValueError, match="remember=0"):
        RememberedRows(0)
