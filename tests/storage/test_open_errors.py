"""A database that cannot be opened is StorageUnavailable, and the message never shows the URL's password."""

from __future__ import annotations

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
