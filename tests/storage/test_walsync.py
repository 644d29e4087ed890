"""The background sync of SQLite's write-ahead log: when it runs, what it syncs, and that it always ends."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.store import NewTimer
from storage import SqlInstanceStore
from storage.walsync import WalFlusher

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
WAIT = 30.0  # seconds a test waits for the thread at most; it normally answers within milliseconds


def _wal_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER)")
    return conn


def test_the_nth_commit_brings_the_sync_without_waiting_for_the_delay(tmp_path: Path) -> None:
    """Before `every` commits nothing is synced (the delay is far off); the `every`-th commit syncs at once."""
    conn = _wal_database(tmp_path / "x.db")
    flusher = WalFlusher(str(tmp_path / "x.db-wal"), every=3, delay=3600)
    for n in range(2):
        conn.execute("INSERT INTO t VALUES (?)", (n,))
        flusher.committed()
    syncs_early = flusher.syncs
    conn.execute("INSERT INTO t VALUES (2)")
    flusher.committed()
    synced = flusher.wait_for_syncs(1, WAIT)
    flusher.close()
    conn.close()
    assert syncs_early == 0
    assert synced


def test_a_lone_commit_is_synced_after_the_delay(tmp_path: Path) -> None:
    """One commit and no more: the log is synced once the delay has passed, not left for 63 more commits."""
    conn = _wal_database(tmp_path / "x.db")
    flusher = WalFlusher(str(tmp_path / "x.db-wal"), every=1000, delay=0.05)
    conn.execute("INSERT INTO t VALUES (1)")
    flusher.committed()
    synced = flusher.wait_for_syncs(1, WAIT)
    flusher.close()
    conn.close()
    assert synced


def test_every_round_of_commits_wakes_one_more_sync(tmp_path: Path) -> None:
    """Each further `every` commits bring another sync of the log."""
    conn = _wal_database(tmp_path / "x.db")
    flusher = WalFlusher(str(tmp_path / "x.db-wal"), every=2, delay=3600)
    reached = []
    for round_ in range(1, 4):
        for _ in range(2):
            conn.execute("INSERT INTO t VALUES (1)")
            flusher.committed()
        reached.append(flusher.wait_for_syncs(round_, WAIT))
    flusher.close()
    conn.close()
    assert reached == [True, True, True]


def test_a_missing_log_is_nothing_to_sync(tmp_path: Path) -> None:
    """SQLite removes the log when its last connection closes: a flush then syncs nothing and raises nothing."""
    flusher = WalFlusher(str(tmp_path / "gone.db-wal"))
    assert flusher.flush() is False
    assert flusher.syncs == 0


def test_close_stops_the_thread(tmp_path: Path) -> None:
    """After close() the thread has ended; commits after it start no new one."""
    _wal_database(tmp_path / "x.db").close()
    flusher = WalFlusher(str(tmp_path / "x.db-wal"), every=1)
    flusher.committed()
    flusher.close()
    flusher.committed()
    assert not flusher.running


def test_a_flusher_dropped_without_close_lets_its_thread_end(tmp_path: Path) -> None:
    """The thread holds the flusher weakly: dropping the flusher ends the thread, so none is left behind."""
    flusher = WalFlusher(str(tmp_path / "x.db-wal"), every=1)
    flusher.committed()
    thread = flusher._thread
    assert thread is not None
    del flusher
    gc.collect()
    thread.join(WAIT)
    assert not thread.is_alive()


@pytest.mark.parametrize(("every", "delay", "message"), [(0, 1.0, "at least 1"), (64, 0.0, "positive")])
def test_a_flusher_that_would_never_sync_is_refused(tmp_path: Path, every: int, delay: float, message: str) -> None:
    """No commit count below one and no delay of zero or less."""
    with pytest.raises(ValueError, match=message):
        WalFlusher(str(tmp_path / "x.db-wal"), every=every, delay=delay)


@pytest.mark.parametrize(("synchronous", "thread", "has_flusher"), [
    ("NORMAL", True, True), ("FULL", True, False), ("OFF", True, False), ("NORMAL", False, False)])
def test_only_a_normal_sqlite_store_syncs_in_the_background(
        tmp_path: Path, synchronous: str, thread: bool, has_flusher: bool) -> None:
    """FULL syncs at every commit already and OFF asks for no syncs: only NORMAL gets the thread, unless refused."""
    store = SqlInstanceStore(str(tmp_path / "x.db"), synchronous=synchronous, wal_sync_thread=thread)
    flusher = store.wal_flusher
    store.close()
    assert (flusher is not None) == has_flusher


def test_the_stores_commands_drive_the_sync_and_close_ends_it(tmp_path: Path) -> None:
    """Commands committed through the store count towards the sync; closing the store stops the thread."""
    store = SqlInstanceStore(str(tmp_path / "x.db"))
    flusher = store.wal_flusher
    assert flusher is not None
    for n in range(flusher.every):
        with store.transaction() as tx:
            tx.insert_timers([NewTimer(f"i{n}", "timer", NOW, state="a")])
    synced = flusher.wait_for_syncs(1, WAIT)
    store.close()
    assert synced
    assert not flusher.running


def test_reading_through_the_store_starts_no_sync(tmp_path: Path) -> None:
    """A store that only reads (commands that write nothing) never starts the thread: nothing was logged."""
    store = SqlInstanceStore(str(tmp_path / "x.db"))
    flusher = store.wal_flusher
    assert flusher is not None
    found = [store.get_instance(f"{n:032x}") for n in range(3)]
    running = flusher.running
    store.close()
    assert found == [None, None, None]
    assert not running


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_syncs_with_a_thread_and_locks_of_its_own(tmp_path: Path) -> None:
    """Forked while the parent's thread holds the flusher's lock, the child still syncs: it starts afresh."""
    conn = _wal_database(tmp_path / "x.db")
    conn.execute("INSERT INTO t VALUES (1)")
    flusher = WalFlusher(str(tmp_path / "x.db-wal"), every=1, delay=3600)
    flusher.committed()
    assert flusher.wait_for_syncs(1, WAIT)
    with flusher._done:  # as the parent's thread does while it counts a sync
        pid = os.fork()
        if pid == 0:  # the child: a stuck lock would hang it until the alarm kills it
            signal.alarm(int(WAIT))
            flusher.committed()
            os._exit(0 if flusher.wait_for_syncs(2, WAIT) else 1)
    _, status = os.waitpid(pid, 0)
    flusher.close()
    conn.close()
    assert os.waitstatus_to_exitcode(status) == 0
