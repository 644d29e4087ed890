#!/usr/bin/env python3
"""Which B-trees a command writes: WAL frames per commit of the durable approval, by table and index.

    python bench/wal_pages.py [--cases 50]

Runs warm-up cases, checkpoints, then runs `--cases` more with automatic checkpoints off, reads the page number of
every frame from the WAL's frame headers, and names each page's B-tree with SQLite's `dbstat` table.
"""

from __future__ import annotations

import argparse
import collections
import logging
import sqlite3
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench as bench

WAL_HEADER, FRAME_HEADER = 32, 24


def frames_by_commit(wal: Path, page_size: int) -> list[list[int]]:
    """The page numbers of the WAL's frames, grouped by commit (a commit frame carries the database size)."""
    data = wal.read_bytes()
    commits: list[list[int]] = []
    current: list[int] = []
    offset = WAL_HEADER
    while offset + FRAME_HEADER <= len(data):
        page, size_after_commit = struct.unpack(">II", data[offset:offset + 8])
        current.append(page)
        if size_after_commit:
            commits.append(current)
            current = []
        offset += FRAME_HEADER + page_size
    return commits


def frames_per_commit(pragma: Callable[[str], object], run: Callable[[], object], wal: Path,
                      page_size: int) -> float:
    """WAL frames per commit of what `run` writes, with automatic checkpoints off while it runs; `pragma` runs a
    pragma on the connection that writes, whose log is `wal`."""
    pragma("PRAGMA wal_autocheckpoint=0")
    pragma("PRAGMA wal_checkpoint(TRUNCATE)")
    run()
    commits = frames_by_commit(wal, page_size)
    pragma("PRAGMA wal_autocheckpoint=4000")
    return sum(map(len, commits)) / len(commits)


def main() -> None:
    logging.getLogger("engine.notify").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--warm", type=int, default=500, help="cases run before the measured ones")
    a = ap.parse_args()
    path = Path(tempfile.mkdtemp(prefix="shixian-wal-")) / "wal.db"
    engine = bench.make_engine(str(path))
    for _ in range(a.warm):
        bench.approval(engine)
    with engine.store.transaction() as tx:  # the engine's own connection: its WAL is the one read below
        tx.cur.execute("PRAGMA wal_autocheckpoint=0")
    engine.store.engine.dispose()  # type: ignore[attr-defined]
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    for _ in range(a.cases):
        bench.approval(engine)
    commits = frames_by_commit(Path(f"{path}-wal"), page_size)
    engine.close()  # checkpoints: every page is in the database file again, where dbstat can name it
    con = sqlite3.connect(path)
    owner = {page: name for page, name in con.execute("SELECT pageno, name FROM dbstat")}
    con.close()
    counts = collections.Counter(owner.get(page, "?") for commit in commits for page in commit)
    print(f"{len(commits)} commits, {sum(map(len, commits)) / len(commits):.2f} frames per commit")
    for name, n in counts.most_common():
        print(f"  {name:36s} {n / len(commits):.2f}")


if __name__ == "__main__":
    main()
