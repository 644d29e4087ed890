"""Keeps a long-running process on the calendar data folder as it stands: a year file added (the State Council's
schedule of the next year) or corrected is taken up within `recheck` seconds without a restart, and a wrong one is
refused, logged once, while the data in force stays."""

from __future__ import annotations

import logging
import threading
import time as monotonic_time
from collections.abc import Callable
from typing import Any

from calendars.data_files import shown_path
from calendars.store import current_data, data_dir, loaded_signature
from calendars.watch import FolderWatch
from engine.errors import CalendarDataInvalid

log = logging.getLogger(__name__)


class CalendarDataGuard:
    """Looks at the calendar data folder's signature (calendars.watch) at most every `recheck` seconds, before a
    command or a tick, and calls `reload` (SlaCalculator.reload) when it changed. A folder with a problem never
    stops a command: the data loaded before stays in force, the problem is logged once for that state of the
    folder, and the folder is read again when it changes again.

    `reloads` counts the reloads that succeeded, so that a worker can tell that deadlines computed before are to
    be computed again (EngineScheduler compares it at each tick); a backend's engine only reloads."""

    def __init__(self, reload: Callable[[], None], recheck: float = 30.0,
                 monotonic: Callable[[], float] = monotonic_time.monotonic) -> None:
        self.reload, self.recheck, self.monotonic = reload, recheck, monotonic
        self.reloads = 0
        # the folder as the data in force was read from it; before the first load, as it is now (the first load
        # reads it as it is then, and a change before that only costs one reload more)
        self._watch = FolderWatch(data_dir, loaded_signature())
        self._looked_at: float | None = None
        self._looking = threading.Lock()

    def check(self) -> None:
        """Look at the folder when `recheck` seconds have passed since the last look; reload it when it changed.
        Never raises for the data: a command goes on with the data in force."""
        moment = self.monotonic()
        if self._looked_at is not None and moment - self._looked_at < self.recheck:
            return
        if not self._looking.acquire(blocking=False):
            return  # another thread of the process is looking: this command goes on with the data in force
        try:
            self._looked_at = moment
            if self._watch.changed() is not None:
                self._take_up()
        finally:
            self._looking.release()

    def _take_up(self) -> None:
        """Reload the changed folder; log what it now covers, or the problem and that the old data stays."""
        folder = shown_path(data_dir())
        try:
            self.reload()
        except CalendarDataInvalid as err:
            log.error("the calendar data in %s changed and is refused, so the data loaded before stays in force: "
                      "%s. Correct the file (see every problem with `python cli.py calendar check`); it is read "
                      "again when it changes", folder, "; ".join(err.problems))
            return
        self.reloads += 1
        log.info("calendar data reloaded from %s: years with complete data: %s", folder, current_data().coverage())


#: The deployment setting that records the years the database's provisional deadlines were last recomputed for.
COVERAGE_SETTING = "calendar_coverage"


def recompute_for_coverage(engine: Any) -> tuple[str, int] | None:
    """Recompute the provisional deadlines when the calendar data in force covers other years than those the
    database's were last recomputed for, and record what it covers: (the years covered, how many clocks and
    timers were recomputed); None when it is the same. Kept in the database,
    not the process, so that a year file added while no worker ran (a release that ships it, a worker restarted
    after the file was copied in) is taken up by the next worker to start, and by one only once it is recorded."""
    coverage = current_data().coverage()
    recorded = engine.store.setting(COVERAGE_SETTING)
    if recorded is not None and recorded.value == coverage:
        return None
    changed = int(engine.recompute_provisional(reload=False))
    engine.store.replace_setting(COVERAGE_SETTING, coverage, engine.clock.now())
    return coverage, changed


__all__ = ["COVERAGE_SETTING", "CalendarDataGuard", "recompute_for_coverage"]
