"""A cheap signature of the calendar data folder: the names, sizes and modification times of its year files, so that
a long-running process can tell that a year file was added or changed without reading one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from calendars.data_files import REGION_FOLDERS

#: The folder, then ("region folder/file name", size, mtime in ns) of each year file, sorted by name.
Signature = tuple[str, tuple[tuple[str, int, int], ...]]
#: The endings `calendars.data_files.read_data` reads a year file from.
_YEAR_FILE_ENDINGS = (".yaml", ".yml")


def signature(folder: Path) -> Signature:
    """The year files of the region folders as they stand, read from the directory entries alone. A region folder
    that cannot be listed, or a file gone between listing and looking at it, is left out: the next look sees it."""
    found: list[tuple[str, int, int]] = []
    for region in sorted(REGION_FOLDERS):
        try:
            entries = list(os.scandir(folder / region))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(_YEAR_FILE_ENDINGS):
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue
            found.append((f"{region}/{entry.name}", stat.st_size, stat.st_mtime_ns))
    return str(folder), tuple(sorted(found))


class FolderWatch:
    """Remembers the signature last looked at and says when the folder's is another; `folder` is asked at each
    look, so that a process switched to another folder (`calendars.reload_data(path)`) watches that one."""

    def __init__(self, folder: Callable[[], Path], seen: Signature | None = None) -> None:
        self.folder = folder
        self.seen = seen if seen is not None else signature(folder())

    def changed(self) -> Signature | None:
        """The folder's signature if it differs from the one last looked at (it then becomes that one), else None."""
        now = signature(self.folder())
        if now == self.seen:
            return None
        self.seen = now
        return now


__all__ = ["FolderWatch", "Signature", "signature"]
