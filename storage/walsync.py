"""`WalFlusher`: syncs a SQLite database's write-ahead log to disk in the background as commits add to it.

With `synchronous=NORMAL` SQLite syncs the log only when it checkpoints, inside whichever commit crosses the
checkpoint size: that one commit then waits while the whole log (16 MB) reaches the disk, and until it does a
power cut can take back every commit since the last checkpoint, however long ago. A thread that syncs the log
every few dozen commits, and within a second of any commit, leaves the checkpoint little to sync, off the
command's path, and bounds what a power cut can take back to those commits. PostgreSQL's WAL writer does the
same job for the same reasons.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref

log = logging.getLogger(__name__)

_sync = getattr(os, "fdatasync", os.fsync)  # fdatasync where the platform has it: the log's data, not its times


class WalFlusher:
    """Syncs `wal_path`, on a thread of its own, after every `every` commits reported by `committed()` and at
    most `delay` seconds after any of them.

    The thread starts with the first commit, so a store that only reads never starts one, and once the log is
    synced it sleeps until the next commit: an idle engine costs nothing. A missing log (SQLite removes it when
    the last connection closes) is nothing to sync.
    """

    def __init__(self, wal_path: str, every: int = 64, delay: float = 1.0) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1 commit, not {every}")
        if not delay > 0:
            raise ValueError(f"delay must be a positive number of seconds, not {delay}")
        self.wal_path = wal_path
        self.every = every
        self.delay = delay
        self.syncs = 0  # logs synced so far, by the thread or by flush()
        self._closed = False
        self._begin_afresh()
        _LIVE.add(self)

    def _begin_afresh(self) -> None:
        """No thread and fresh locks: at creation, and in a forked child, which has no threads and whose copies
        of the locks may be held by the parent's thread that is not there to release them."""
        self._pending = 0  # commits not yet covered by a sync that has started
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def committed(self) -> None:
        """Count one commit; the first of a round wakes the thread to keep time, the `every`-th to sync now.

        Called by every command, so it mostly only counts: a lost increment between two threads moves a sync
        by one commit, which harms nothing.
        """
        self._pending += 1
        if self._pending == 1 or self._pending >= self.every:
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


_LIVE: weakref.WeakSet[WalFlusher] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for flusher in list(_LIVE):
        flusher._begin_afresh()


if hasattr(os, "register_at_fork"):  # POSIX: a backend's worker processes forked from a parent that wrote
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _run(ref: weakref.ReferenceType[WalFlusher], wake: threading.Event) -> None:
    """The thread's loop: sleep until a commit, sync after `every` commits or `delay` seconds, and end when the
    flusher is closed or gone."""
    while True:
        wake.wait()  # nothing to sync: sleep until the next commit
        wake.clear()
        flusher = ref()
        if flusher is None or flusher._closed:
            return
        if flusher._pending < flusher.every:  # the first commit of a round: give it company, `delay` at most
            delay = flusher.delay
            del flusher
            wake.wait(delay)
            wake.clear()
            flusher = ref()
            if flusher is None or flusher._closed:
                return
        flusher._pending = 0  # commits from here on wait for the next round
        try:
            flusher.flush()
        except OSError as err:  # a failing disk: SQLite's own sync at the next checkpoint reports it to a command
            log.warning("syncing %s failed: %s", flusher.wal_path, err)
        del flusher
