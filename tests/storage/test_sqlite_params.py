"""The adapters that spare the driver its failed lookups for None and bool bind the values it bound before."""

from __future__ import annotations

import sqlite3

from storage.sqlite_params import bind_plainly


def test_none_and_bools_are_stored_as_before() -> None:
    bind_plainly()
    bind_plainly()  # a second store opened in the process registers them again: the same adapters
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE TABLE t (a, b, c, d INTEGER, e TEXT)")
        conn.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", (None, True, False, 7, "x"))
        row = conn.execute("SELECT a, b, c, d, e, typeof(a), typeof(b), typeof(c) FROM t").fetchone()
    finally:
        conn.close()
    assert row == (None, 1, 0, 7, "x", "null", "integer", "integer")
    assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)](None) is None
    assert sqlite3.adapters[(bool, sqlite3.PrepareProtocol)] is int
