"""The loaded calendar data of the process, and the calendars that must follow it when it is reloaded."""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Protocol

from calendars.data_files import DEFAULT_DATA_DIR, CalendarData, load_data
from calendars.watch import Signature, signature

#: Environment variable a deployment may set to keep its calendar data outside the package.
DATA_DIR_ENV = "SHIXIAN_CALENDAR_DATA"


class _Refreshable(Protocol):
    def _refresh(self, data: CalendarData) -> None: ...


_lock = threading.Lock()
_data: CalendarData | None = None
_data_dir: Path | None = None
#: the folder's signature taken just before `_data` was read from it: a file changed while it was read shows later
_signature: Signature | None = None
_followers: weakref.WeakSet[_Refreshable] = weakref.WeakSet()


def data_dir() -> Path:
    """The folder the data is read from: set by `reload_data(path)`, else $SHIXIAN_CALENDAR_DATA, else the package's."""
    if _data_dir is not None:
        return _data_dir
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else DEFAULT_DATA_DIR


def current_data() -> CalendarData:
    """The data as last loaded (loaded on first use); raises CalendarDataError if a file is wrong."""
    global _data, _signature
    if _data is None:
        with _lock:
            if _data is None:
                folder = data_dir()
                seen = signature(folder)
                _data, _signature = load_data(folder), seen
    return _data


def loaded_signature() -> Signature | None:
    """The signature (calendars.watch) of the folder as the data in force was read from it; None before the first
    load."""
    return _signature


def follow(calendar: _Refreshable) -> None:
    """Registers a calendar to be rebuilt when the data is reloaded."""
    _followers.add(calendar)


def reload_data(path: Path | str | None = None) -> None:
    """Re-reads the data folder (or switches to `path`); every live calendar rebuilds its index from it.

    Raises CalendarDataError and keeps the previous data if the folder has a problem.
    """
    global _data, _data_dir, _signature
    with _lock:
        folder = Path(path) if path is not None else data_dir()
        seen = signature(folder)
        fresh = load_data(folder)
        _data, _data_dir, _signature = fresh, (folder if path is not None else _data_dir), seen
        followers = list(_followers)
    for calendar in followers:
        calendar._refresh(fresh)
