"""`cli.py backup`: a checked copy of the engine's SQLite database, made while workers and backends keep writing.

Exit status: 0 when the copy is in place, 1 when it could not be made (a full disk, a failed check, a database a
later release wrote, an unreadable file), 2 when it cannot be made as asked (the source, the target, a server's
URL, a copy already there without --force), 130 when interrupted (Ctrl-C, SIGTERM). Whatever the status, nothing
but a checked copy is ever left under the target's name.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from engine.cli_options import add_database
from engine.errors import WorkflowError

#: The exit status of a backup interrupted by Ctrl-C or SIGTERM: 128 + SIGINT, as the shell reports Ctrl-C.
EXIT_INTERRUPTED = 130


def cmd_backup(args: argparse.Namespace) -> int:
    from storage.backup import BackupRefused, backup_database

    target = Path(args.to).expanduser()
    try:
        with _terminate_as_interrupt():
            result = backup_database(args.db, target, force=args.force)
    except BackupRefused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except WorkflowError as err:  # BackupFailed, DiskFull, SchemaTooNew, StorageUnavailable
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: the backup was interrupted; nothing was written to {target}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps({"source": str(result.source), "path": str(result.path), "bytes": result.bytes,
                          "revision": result.revision, "instances": result.instances,
                          "seconds": round(result.seconds, 3)}, ensure_ascii=False, indent=2))
    else:
        print(f"backed up {result.source} to {result.path}: {result.bytes:,} bytes, schema revision "
              f"{result.revision}, {result.instances} instance(s), in {result.seconds:.2f} s; integrity checked")
    return 0


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager, `timeout`) ends the copy as Ctrl-C does, between two steps, so that its partial
    file is removed rather than left behind."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("backup", help="copy the SQLite database, checked, while the engine keeps writing")
    add_database(p, "the engine's SQLite file (default: $SHIXIAN_DB or shixian.db); a PostgreSQL database is "
                    "backed up with pg_dump")
    p.add_argument("--to", required=True, metavar="COPY",
                   help="the copy's file, in an existing folder; written under this name only once checked")
    p.add_argument("--force", action="store_true", help="replace an existing COPY (never the database itself)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=cmd_backup)
