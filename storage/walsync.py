"""`WalFlusher`: syncs a SQLite database's write-ahead log to disk in the background as commits add to it.

With `synchronous=NORMAL` SQLite syncs the log only when it checkpoints, inside whichever commit crosses the
checkpoint size: that one commit then waits while the whole log (16 MB) reaches the disk, and until it does a
power cut can take back every commit since the last checkpoint. A thread that syncs the log every few dozen
commits leaves the checkpoint little to sync, off the command's path, and keeps the window a power cut can
take back to those few dozen commits. PostgreSQL's WAL writer does the same job for the same reasons.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref

log = logging.getLogger(__name__)

_sync = getattr(os, "fdatasync", os.fsync)  # fdatasync where the platform has it: the log's data, not its times


class WalFlusher:
    """Syncs `wal_path` after every `every` commits reported by `committed()`, on a thread of its own.

    The thread starts with the first commit, so a store that only reads never starts one, and it sleeps until
    it is woken: an idle engine costs nothing. A missing log (SQLite removes it when the last connection
    closes) is nothing to sync.
    """

    def __init__(self, wal_path: str, every: int = 64) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1 commit, not {every}")
        self.wal_path = wal_path
        self.every = every
        self.syncs = 0  # logs synced so far, by the thread or by flush()
        self._pending = 0  # commits since the thread was last woken
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def committed(self) -> None:
        """Count one commit; every `every` commits, wake the thread to sync the log.

        Called by every command, so it only counts: a lost increment between two threads moves a sync by one
        commit, which harms nothing.
        """
        self._pending += 1
        if self._pending >= self.every:
            self._pending = 0
            if self._thread is None:
                self._start()
            self._wake.set()

    def flush(self) -> bool:
        """Sync the log now; False when there is no log file to sync."""
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            _sync(fd)
        finally:
            os.close(fd)
        with self._done:
            self.syncs += 1
            self._done.notify_all()
        return True

    def wait_for_syncs(self, count: int, timeout: float) -> bool:
        """Wait until `count` syncs have been made in all, at most `timeout` seconds; whether they were."""
        with self._done:
            return self._done.wait_for(lambda: self.syncs >= count, timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread after the sync it may be making; the log is synced once more by SQLite's own close."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            # the thread holds only a weak reference, so a flusher nobody closes still ends with its owner
            thread = threading.Thread(target=_run, args=(weakref.ref(self), self._wake),
                                      name="shixian-wal-sync", daemon=True)
            self._thread = thread
            weakref.finalize(self, self._wake.set)  # dropped without close(): wake the thread so that it ends
            thread.start()


def _run(ref: weakref.ReferenceType[WalFlusher], wake: threading.Event) -> None:
    """The thread's loop: sleep until woken, sync, and end when the flusher is closed or gone."""
    while True:
        wake.wait()
        wake.clear()
        flusher = ref()
        if flusher is None or flusher._closed:
            return
        try:
            flusher.flush()
        except OSError as err:  # a failing disk: SQLite's own sync at the next checkpoint reports it to a command
            log.warning("syncing %s failed: %s", flusher.wal_path, err)
        del flusher
