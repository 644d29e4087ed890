"""`policy`: the deadline policy a database records, which every engine process on it must be given (see
engine.policy_check), shown, or changed on purpose."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.cli_checks import UsageError, exit_codes, open_to_read, require_engine_db
from engine.cli_options import add_business_hours, add_database, deadline_policy
from engine.clock import SHANGHAI, SystemClock
from engine.errors import WorkflowError
from engine.policy_check import SETTING, canonical, describe, options, recorded_policy, replace_deadline_policy
from engine.store import Setting


def _store(args: argparse.Namespace) -> Any:
    """The store on `--db`, which must hold the engine's database already: this command never creates one."""
    from storage import open_store

    require_engine_db(args.db)
    return open_store(args.db) if args.set else open_to_read(args.db)


def _when(setting: Setting) -> str:
    return setting.set_at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def cmd_policy(args: argparse.Namespace) -> int:
    from storage.sql import shown_url

    store = _store(args)
    try:
        if args.set:
            return _replace(store, args, shown_url(args.db))
        return _show(store.setting(SETTING), args, shown_url(args.db))
    finally:
        store.close()


def _show(setting: Setting | None, args: argparse.Namespace, db: str) -> int:
    """The recorded policy, and whether the business hours given here (option or variable) are the same."""
    here = canonical(deadline_policy(args.business_hours))
    recorded = recorded_policy(setting) if setting is not None else None
    if args.json:
        print(json.dumps({"database": db, "recorded": recorded, "recorded_at": _when(setting) if setting else None,
                          "given_here": here}, ensure_ascii=False, indent=2))
        return 0
    if setting is None or recorded is None:
        print(f"no deadline policy is recorded in {db} yet: the first engine process to open it records its own")
        return 0
    print(f"deadline policy of {db}, recorded {_when(setting)}: {describe(recorded)}")
    print(f"give every process on it the same: {options(recorded)}")
    if here == recorded:
        print("the business hours given here (--business-hours or $SHIXIAN_BUSINESS_HOURS) are the same")
    else:
        print(f"the business hours given here differ ({describe(here)}): engine commands run with them are refused")
    return 0


def _replace(store: Any, args: argparse.Namespace, db: str) -> int:
    """Record the policy given here in place of the database's, and say what that does and does not change."""
    policy = deadline_policy(args.business_hours)
    now = canonical(policy)
    before = replace_deadline_policy(store, policy, SystemClock().now())
    was = recorded_policy(before) if before is not None else None
    if args.json:
        print(json.dumps({"database": db, "previous": was, "recorded": now}, ensure_ascii=False, indent=2))
        return 0
    if was == now:
        print(f"deadline policy of {db} unchanged: {describe(now)}")
        return 0
    print(f"deadline policy of {db} changed from {describe(was) if was is not None else 'none recorded'} "
          f"to {describe(now)}.")
    print("Deadlines already computed keep their times: open clocks are not recomputed; deadlines computed from "
          "now on follow the new policy.")
    print(f"Restart every process on this database (workers, backends) with the new value: {options(now)}. "
          "A process still running learns of the change within 30 seconds and then refuses (a worker stops); one "
          "started with the old value is refused.")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("policy", help="the deadline policy a database records, shown or changed on purpose")
    add_database(p)
    p.add_argument("--set", action="store_true",
                   help="record the business hours given here as the database's policy, in place of the one it "
                        "records (deadlines already computed keep their times)")
    add_business_hours(p, "with --set, the policy recorded")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=exit_codes(cmd_policy, [(UsageError, 2, None), (WorkflowError, 1, None)]))


__all__ = ["cmd_policy", "register"]
