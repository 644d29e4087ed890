"""`history-keys`: make and rotate the keyring that seals history steps (engine.history_keys)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli_checks import exit_codes
from engine.errors import WorkflowError
from engine.history_keys import HistoryKeyring, add_new_key


def cmd_new(args: argparse.Namespace) -> int:
    made = add_new_key(args.file)
    print(f"history key {made} now seals new steps; {args.file} keeps any older keys to check the steps they "
          "sealed. Give the file to every engine process on the database (--history-keys or "
          "$SHIXIAN_HISTORY_KEYS) and restart them; keep a copy where the database's backups are not")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    keyring = HistoryKeyring.load(args.file)
    for key_id in keyring.keys:
        print(f"{key_id}  {'seals new steps' if key_id == keyring.sealing_id else 'checks older steps'}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("history-keys", help="make or rotate the keyring that seals history steps")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="add a fresh key that seals from now on (makes the file, owner-only, if missing)")
    new.add_argument("file", help="the keyring file (the one --history-keys and $SHIXIAN_HISTORY_KEYS name)")
    new.set_defaults(func=exit_codes(cmd_new, [(WorkflowError, 1, None)]))
    show = sub.add_parser("show", help="the ids of a keyring's keys (never the keys)")
    show.add_argument("file", help="the keyring file")
    show.set_defaults(func=exit_codes(cmd_show, [(WorkflowError, 1, None)]))
