"""A SQLite database on a full disk is DiskFull, naming the folder and telling to free space there: when it is
created, migrated, or opened (where SQLite itself says only "disk I/O error"), and nothing is changed.

The disk is a small tmpfs filled to the last byte, where this process may mount one (root); elsewhere those
tests skip, and SQLite's own SQLITE_FULL comes from a page limit set on every connection instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import Pool

from engine import DiskFull, StorageUnavailable
from storage import open_store, require_database
from storage.diskfull import SHM_BLOCK
from storage.migrate import downgrade
from storage.sql import database_url
from tests.storage.conftest import SmallDisk


def _revision(path: Path) -> str:
    engine = sa.create_engine(database_url(str(path)))
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    return str(found)


def _assert_names_the_full_folder(err: DiskFull, folder: Path) -> None:
    assert isinstance(err, StorageUnavailable)
    assert err.folder == str(folder)
    message = str(err)
    assert f"the disk holding {folder} is full" in message and "free space on that disk" in message
    assert "disk I/O error" not in message and "check --db" not in message


def test_creating_a_database_on_a_full_disk_says_so_and_where(small_disk: SmallDisk) -> None:
    """open_store of a new file on a full disk is DiskFull naming its folder; with space freed it opens."""
    db = small_disk.folder / "shixian.db"
    small_disk.fill()
    with pytest.raises(DiskFull) as err:
        open_store(str(db))
    _assert_names_the_full_folder(err.value, small_disk.folder)
    assert err.value.free is not None and err.value.free < SHM_BLOCK
    small_disk.free()
    open_store(str(db)).close()
    assert _revision(db)


def test_opening_a_database_on_a_full_disk_is_disk_full_not_a_disk_io_error(small_disk: SmallDisk) -> None:
    """An engine database closed cleanly, then its disk filled: opening it (SQLite: "disk I/O error", no room
    for its -shm) is DiskFull, from open_store and from the check the read commands make first."""
    db = small_disk.folder / "shixian.db"
    open_store(str(db)).close()
    assert not Path(f"{db}-shm").exists()
    small_disk.fill()
    with pytest.raises(DiskFull) as opened:
        open_store(str(db))
    with pytest.raises(DiskFull) as checked:
        require_database(str(db))
    _assert_names_the_full_folder(opened.value, small_disk.folder)
    _assert_names_the_full_folder(checked.value, small_disk.folder)


def test_migrating_a_database_on_a_full_disk_says_so_and_leaves_its_schema(small_disk: SmallDisk) -> None:
    """An older schema on a disk with room to open it but not to migrate it: the migration cannot commit, is
    DiskFull, and the schema stays as it was."""
    db = small_disk.folder / "shixian.db"
    open_store(str(db)).close()
    engine = sa.create_engine(database_url(str(db)))
    downgrade(engine, "0003")  # the next revision rebuilds two tables
    engine.dispose()
    small_disk.fill(leave=SHM_BLOCK + 8192)  # the -shm file and a page or so of log
    with pytest.raises(DiskFull) as err:
        open_store(str(db))
    _assert_names_the_full_folder(err.value, small_disk.folder)
    small_disk.free()
    assert _revision(db) == "0003"


@contextmanager
def _every_sqlite_connection_limited_to(pages: int) -> Iterator[None]:
    """SQLite answers SQLITE_FULL ("database or disk is full") when a file would grow past max_page_count."""

    def limit(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

    sa.event.listen(Pool, "connect", limit)
    try:
        yield
    finally:
        sa.event.remove(Pool, "connect", limit)


def test_sqlite_full_while_creating_the_schema_is_disk_full(tmp_path: Path) -> None:
    """SQLite's SQLITE_FULL while the schema is created is DiskFull naming the file's folder, on any machine."""
    db = tmp_path / "shixian.db"
    with _every_sqlite_connection_limited_to(2), pytest.raises(DiskFull) as err:
        open_store(str(db))
    _assert_names_the_full_folder(err.value, tmp_path)


def test_a_file_that_is_no_database_is_not_called_a_full_disk(tmp_path: Path) -> None:
    """Another fault of the file stays StorageUnavailable with SQLite's reason, not DiskFull."""
    db = tmp_path / "shixian.db"
    db.write_bytes(b"not a database " * 1000)
    with pytest.raises(StorageUnavailable) as err:
        open_store(str(db))
    assert not isinstance(err.value, DiskFull)
    assert "not a database" in str(err.value)
