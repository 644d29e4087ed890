"""The data folder's signature changes with its year files, and only with them."""

from __future__ import annotations

import os
from pathlib import Path

from calendars import reload_data
from calendars.store import loaded_signature
from calendars.watch import FolderWatch, signature


def test_a_year_file_added_changed_or_removed_is_seen_once(data_copy: Path) -> None:
    """Each change to a year file is told at the next look, and only at that one."""
    watch = FolderWatch(lambda: data_copy)
    assert watch.changed() is None
    added = data_copy / "cn" / "2027.yaml"
    added.write_text("region: CN\n", encoding="utf-8")
    assert watch.changed() == signature(data_copy)
    assert watch.changed() is None
    added.write_text("region: CN\nyear: 2027\n", encoding="utf-8")  # rewritten: another size
    assert watch.changed() is not None
    stat = added.stat()
    os.utime(added, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # the same size, saved again
    assert watch.changed() is not None
    added.unlink()
    assert watch.changed() is not None
    assert watch.changed() is None


def test_files_that_are_no_year_files_do_not_count(data_copy: Path) -> None:
    """A note beside the year files, or a file outside the region folders, changes nothing the data is read from."""
    before = signature(data_copy)
    (data_copy / "cn" / "README.txt").write_text("notes", encoding="utf-8")
    (data_copy / "2027.yaml").write_text("region: CN\n", encoding="utf-8")
    assert signature(data_copy) == before


def test_the_signature_of_the_data_in_force_is_the_folder_it_was_read_from(data_copy: Path) -> None:
    """reload_data records the folder as it read it, so that a watch started later still sees what changed since."""
    reload_data(data_copy)
    assert loaded_signature() == signature(data_copy)
    (data_copy / "cn-gx" / "2027.yaml").write_text("region: CN-GX\n", encoding="utf-8")
    assert FolderWatch(lambda: data_copy, loaded_signature()).changed() == signature(data_copy)
