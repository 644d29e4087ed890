"""A database a later release migrated (its `alembic_version` names a revision this release has not got) is
refused as SchemaTooNew, naming that revision and the newest this release knows, on both databases and as a
read-only copy; nothing is migrated, downgraded or written, and no Alembic exception reaches the caller."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from engine import SchemaTooNew, StorageUnavailable
from storage import open_for_reading, open_store
from storage.migrate import alembic_config, downgrade
from storage.sql import database_url
from tests.unwritable import require_unwritable, unwritable

LATER = "0099_from_a_later_release"


def _newest() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _stamp(target: str, revision: str) -> None:
    """Stamp the schema as the release that knows `revision` would have left it."""
    engine = sa.create_engine(database_url(target))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :rev"), {"rev": revision})
    engine.dispose()


def _stamped(target: str) -> list[str]:
    engine = sa.create_engine(database_url(target))
    with engine.connect() as conn:
        found = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    return found


def _later_database(target: str) -> None:
    open_store(target).close()
    _stamp(target, LATER)


def test_opening_a_database_a_later_release_migrated_is_refused_and_leaves_it_as_it_was(db_url: str) -> None:
    """open_store refuses it with the revision it carries, the newest this release knows and what to do; the
    database keeps the later release's stamp."""
    _later_database(db_url)
    with pytest.raises(SchemaTooNew) as err:
        open_store(db_url)
    assert isinstance(err.value, StorageUnavailable)
    assert (err.value.revision, err.value.newest) == (LATER, _newest())
    message = str(err.value)
    assert f"revision {LATER!r}" in message and f"the newest this release knows is {_newest()!r}" in message
    assert "run that newer release" in message and "never downgrade" in message
    assert _stamped(db_url) == [LATER]


def test_the_refusal_names_the_database_without_its_password(db_url: str) -> None:
    """The error names the SQLite file, or the server's URL with *** for its password."""
    url = sa.engine.make_url(database_url(db_url))
    if url.get_backend_name() != "sqlite" and url.password is None:
        url = url.set(password="TopSecretPw")  # the test server trusts loopback: any password is accepted
    target = url.render_as_string(hide_password=False)
    _later_database(target)
    with pytest.raises(SchemaTooNew) as err:
        open_store(target)
    expected = url.database if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=True)
    assert err.value.database == expected and str(expected) in str(err.value)
    assert url.password is None or str(url.password) not in str(err.value)


def test_a_downgrade_of_a_database_a_later_release_migrated_is_refused(db_url: str) -> None:
    """Going down from a revision this release has not got would drop what that release wrote: refused, the
    stamp kept."""
    _later_database(db_url)
    engine = sa.create_engine(database_url(db_url))
    try:
        with pytest.raises(SchemaTooNew):
            downgrade(engine, "0006")
    finally:
        engine.dispose()
    assert _stamped(db_url) == [LATER]


def test_a_revision_alembic_cannot_find_is_storage_unavailable(db_url: str) -> None:
    """Alembic's own refusal (a revision it cannot locate) reaches the caller as StorageUnavailable."""
    open_store(db_url).close()
    engine = sa.create_engine(database_url(db_url))
    try:
        with pytest.raises(StorageUnavailable) as err:
            downgrade(engine, "0000_no_such_revision")
    finally:
        engine.dispose()
    assert "0000_no_such_revision" in str(err.value)
    assert _stamped(db_url) == [_newest()]


def test_a_read_only_copy_a_later_release_migrated_is_refused_as_newer_not_older(tmp_path: Path) -> None:
    """A copy that cannot be written here, from a later release, is SchemaTooNew naming the copy, never called
    older."""
    require_unwritable(tmp_path)
    (tmp_path / "copy").mkdir()
    copy = tmp_path / "copy" / "shixian.db"
    _later_database(str(copy))
    with unwritable([copy, copy.parent]), pytest.raises(SchemaTooNew) as err:
        open_for_reading(str(copy))
    assert (err.value.database, err.value.revision) == (str(copy), LATER)
    assert "older" not in str(err.value)
