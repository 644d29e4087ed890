"""A database that cannot be opened is StorageUnavailable, and the message never shows the URL's password."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import StorageUnavailable
from storage.sql import SqlInstanceStore, shown_url


def test_an_unopenable_url_is_named_without_its_password() -> None:
    """An unknown driver in a URL with a password: the error names the URL with *** for the password."""
    with pytest.raises(StorageUnavailable) as err:
        SqlInstanceStore("postgresql+nosuchdriver://shixian:TopSecretPw@127.0.0.1:1/shixian")
    assert "TopSecretPw" not in str(err.value)
    assert "shixian:***@127.0.0.1:1/shixian" in str(err.value)


def test_a_url_is_shown_without_its_password() -> None:
    """shown_url hides the password of a SQLAlchemy URL and leaves a file path alone."""
    assert shown_url("postgresql+psycopg://u:p4ss@db/x") == "postgresql+psycopg://u:***@db/x"
    assert shown_url("sqlite:///shixian.db") == "sqlite:///shixian.db"


@pytest.mark.parametrize("kind", ["empty_sqlite_file", pytest.param("empty_postgresql", marks=pytest.mark.postgres)])
def test_a_database_the_engine_never_wrote_is_refused_not_migrated(kind: str, request: pytest.FixtureRequest,
                                                                  tmp_path: Path) -> None:
    """require_database refuses an empty SQLite file and an empty PostgreSQL schema, and leaves both untouched:
    no engine tables are created in someone else's database by a command that only reads."""
    from sqlalchemy import create_engine, inspect

    from storage import database_missing, require_database

    if kind == "empty_sqlite_file":
        target = str(tmp_path / "empty.db")
        Path(target).touch()
        url = f"sqlite:///{target}"
    else:
        target = url = request.getfixturevalue("pg_url")
    assert database_missing(target)
    with pytest.raises(StorageUnavailable) as err:
        require_database(target)
    assert "no engine tables there" in str(err.value)
    engine = create_engine(url)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    engine.dispose()
    SqlInstanceStore(target).close()  # once the engine has written it, it is an engine database
    assert not database_missing(target)


def test_an_unreachable_server_is_storage_unavailable_naming_it() -> None:
    """A PostgreSQL URL nobody answers on is StorageUnavailable naming the URL without its password."""
    from storage import database_missing

    with pytest.raises(StorageUnavailable) as err:
        database_missing("postgresql+psycopg://shixian:Secret1@127.0.0.1:1/shixian?connect_timeout=2")
    assert "127.0.0.1:1" in str(err.value) and "Secret1" not in str(err.value)
