"""Command line of the outbox and the channels: list, dead-letter, retry, dispatch once, send a test alert."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from engine.cli_checks import UsageError, check_db_target, exit_codes
from engine.cli_options import message_limit
from engine.clock import SHANGHAI, SystemClock
from engine.errors import PayloadInvalid, StorageUnavailable, WorkflowError
from engine.validation.reader import did_you_mean
from notifiers.base import Outgoing, find_channel
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import OutboxDispatcher
from notifiers.errors import DeliveryError
from notifiers.rendering import TemplateRenderer
from storage import outbox

DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "example_directory.yaml"
#: The largest message id: the outbox's id column is a 64-bit integer.
MAX_MESSAGE_ID = 2**63 - 1


def _db_target(args: argparse.Namespace) -> str:
    return str(args.db or os.environ.get("SHIXIAN_DB") or "shixian.db")


def _directory_path(args: argparse.Namespace) -> str:
    return str(getattr(args, "directory", None) or os.environ.get("SHIXIAN_DIRECTORY") or DEFAULT_DIRECTORY)


def _engine(args: argparse.Namespace) -> Engine:
    """The database engine with its schema migrated (the store owns opening and migrating); a path with no
    database is refused, not created: a mistyped --db must not read as an empty outbox."""
    from storage import database_missing, no_database
    from storage.sql import SqlInstanceStore

    target = _db_target(args)
    check_db_target(target)
    if database_missing(target):
        raise UsageError(no_database(target).detail)
    return SqlInstanceStore(target).engine


def _row(m: outbox.OutboxMessage) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.astimezone(SHANGHAI).isoformat(timespec="seconds") if value is not None else None

    return {
        "id": m.id, "status": m.status, "kind": m.kind, "channel": m.channel, "recipient": m.recipient,
        "address": m.recipient_address, "template": m.template, "attempts": m.attempts,
        "created_at": when(m.created_at), "next_attempt_at": when(m.next_attempt_at), "sent_at": when(m.sent_at),
        "dedupe_key": m.dedupe_key, "digest_id": m.digest_id, "last_error": m.last_error,
    }


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        print("(no messages)")
        return
    print(f"{'ID':>6}  {'STATUS':<9} {'TRY':>3}  {'KIND':<12} {'CHANNEL':<10} {'RECIPIENT':<20} {'TEMPLATE':<24} "
          "NEXT / SENT  ERROR")
    for r in rows:
        moment = r["sent_at"] or r["next_attempt_at"] or ""
        error = _error_line(r["last_error"] or "", r["channel"], r["recipient"])
        print(f"{r['id']:>6}  {r['status']:<9} {r['attempts']:>3}  {r['kind']:<12} {r['channel']:<10} "
              f"{r['recipient']:<20} {r['template']:<24} {moment}  {error}")


def _error_line(error: str, channel: str, recipient: str) -> str:
    """The error's first line, whole: the reason (HTTP 403, errcode, ...) comes at its end. The opening naming
    channel and recipient is dropped, as they have their own columns; --json gives every line."""
    lines = error.strip().splitlines() or [""]
    first = lines[0].removeprefix(f"channel {channel!r} could not deliver to {recipient!r}: ")
    return first + (f" (+{len(lines) - 1} more line(s): --json)" if len(lines) > 1 else "")


def _list(args: argparse.Namespace) -> int:
    if args.status is not None and args.status not in outbox.STATUSES:
        print(f"error: unknown status {args.status!r}; choose one of {', '.join(outbox.STATUSES)}", file=sys.stderr)
        return 2
    with Session(_engine(args)) as session:
        rows = [_row(m) for m in outbox.list_messages(session, args.status, args.limit)]
    _print_rows(rows, args.json)
    return 0


def _dead(args: argparse.Namespace) -> int:
    args.status = "dead"
    return _list(args)


def _retry(args: argparse.Namespace) -> int:
    if (args.id is None) == (not args.all_dead):
        print("error: give one message ID or --all-dead", file=sys.stderr)
        return 2
    with Session(_engine(args)) as session:
        count = outbox.retry_dead(session, SystemClock().now(), None if args.all_dead else args.id)
        session.commit()
        found = session.get(outbox.OutboxMessage, args.id) if count == 0 and args.id is not None else None
    if count == 0 and args.id is not None:
        if found is None:
            print(f"error: no message {args.id} in the outbox (see `cli.py outbox dead` for the dead ones)",
                  file=sys.stderr)
        else:
            print(f"error: message {args.id} is {found.status}, not dead: only dead messages are retried "
                  "(see `cli.py outbox dead`)", file=sys.stderr)
        return 1
    print(f"{count} message(s) moved from dead to pending; the next dispatch sends them")
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    # real messages go out through the deployment's own channels only, never the example directory's
    path = args.directory or os.environ.get("SHIXIAN_DIRECTORY")
    if not path:
        raise PayloadInvalid("--directory", "the directory YAML whose channels deliver the outbox (or set "
                             "SHIXIAN_DIRECTORY)", None, where="command line")
    db = _engine(args)
    directory = YamlDirectory(path)
    dispatcher = OutboxDispatcher(db, directory.channels, TemplateRenderer(), SystemClock())
    handled = dispatcher.dispatch()
    print(f"{handled} message(s) handled")
    return 0


def _sample(directory: YamlDirectory, person_department: str | None) -> dict[str, Any]:
    now = SystemClock().now()
    due = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    department = person_department or next(iter(directory.departments), "")
    return {
        "workflow_id": "gx.data_request", "workflow_name": "数据需求申请（测试消息）", "business_key": "TEST-0001",
        "instance_id": "test", "state": "provider_approval", "state_title": "提供部门审批",
        "department": department, "department_name": directory.department_name(department) if department else "",
        "assignee_role": "provider.data_auditor", "due": due.isoformat(), "late_by": "", "level": 0,
        "what_to_do": "这是一条测试消息，用于确认通知渠道可用，无需办理。", "outcome": None, "kind": "warning",
    }


def _notify_test(args: argparse.Namespace) -> int:
    directory = YamlDirectory(_directory_path(args))
    channel = find_channel(directory.channels, args.channel)
    person = directory.person(args.recipient)
    if person is not None:
        address = person.contacts.get(args.channel)
        if not address:
            print(f"error: {person.id} ({person.name}) has no contact on channel {args.channel!r}; contacts: "
                  f"{', '.join(sorted(person.contacts)) or 'none'}", file=sys.stderr)
            return 2
        recipient, department = person.id, person.department
    else:
        _check_raw_address(channel, args.channel, args.recipient, [p.id for p in directory.all_people()])
        recipient, address, department = "test", args.recipient, None  # a raw address, for a first try
    rendered = TemplateRenderer().render(args.template, _sample(directory, department))
    key = f"test:{int(SystemClock().now().timestamp())}:{recipient}:{args.channel}"
    try:
        channel.send(Outgoing(args.channel, recipient, address, rendered, key, "warning", args.template))
    except DeliveryError as err:
        # sent directly, not through the outbox: nothing will retry it, whatever the error's own advice says
        print(f"error: {err.problem}; the test message was not sent (nothing retries it: fix the cause and run "
              "notify test again)", file=sys.stderr)
        return 1
    print(f"sent {args.template!r} to {recipient} <{address}> on {args.channel!r} (dedupe key {key})")
    return 0


def _check_raw_address(channel: Any, name: str, recipient: str, people: list[str]) -> None:
    """Refuse a recipient that is neither a person id nor an address the channel takes, or that reads as a
    mistyped person id (close to one, no '@'): sent as an address, the test would "succeed" to nobody."""
    problem = channel.check_address(recipient)
    hint = did_you_mean(recipient, people)
    if problem or (hint and "@" not in recipient):
        reason = f"nor an address on channel {name!r} ({problem})" if problem else "and looks like a mistyped one"
        raise UsageError(f"{recipient!r} is no person id of the directory{hint}, {reason}; give a person id or "
                         "a contact address")


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    # a server or database that fails is no fault of the command line (1); the engine's refusals of its values are (2)
    return exit_codes(command, [(UsageError, 2, None), ((DeliveryError, StorageUnavailable), 1, None),
                                (SQLAlchemyError, 1, _unavailable), (WorkflowError, 2, None)])


def _unavailable(err: BaseException) -> str:
    return str(StorageUnavailable(str(err).splitlines()[0]))


def _message_id(text: str) -> int:
    """`outbox retry ID`: a message id, a whole number from 1 to the largest the outbox holds."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a message id, a whole number (see `outbox dead`)") from None
    if not 1 <= value <= MAX_MESSAGE_ID:
        raise argparse.ArgumentTypeError(f"{text}: a message id is a whole number from 1 to {MAX_MESSAGE_ID}")
    return value


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="DB", help="SQLite path or PostgreSQL URL (default: $SHIXIAN_DB or shixian.db)")


def register(subparsers: Any) -> None:
    """Adds the `outbox` and `notify` command groups."""
    group = subparsers.add_parser("outbox", help="the notification outbox: list, dead-letter, retry, dispatch")
    sub = group.add_subparsers(dest="outbox_command", metavar="SUBCOMMAND", required=True)

    listing = sub.add_parser("list", help="messages, newest first")
    listing.add_argument("--status", metavar="S", help=f"only this status: {', '.join(outbox.STATUSES)}")
    listing.add_argument("--limit", type=message_limit, default=None, metavar="N",
                         help="at most N messages (1 to 10000; default: all)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    _add_db(listing)
    listing.set_defaults(func=_guarded(_list))

    dead = sub.add_parser("dead", help="the dead-letter messages, with their last error")
    dead.add_argument("--limit", type=message_limit, default=None, metavar="N",
                      help="at most N messages (1 to 10000; default: all)")
    dead.add_argument("--json", action="store_true", help="print JSON")
    _add_db(dead)
    dead.set_defaults(func=_guarded(_dead))

    retry = sub.add_parser("retry", help="move a dead message (or all) back to pending, attempts reset")
    retry.add_argument("id", nargs="?", type=_message_id, metavar="ID", help="the message id")
    retry.add_argument("--all-dead", action="store_true", help="every dead message")
    _add_db(retry)
    retry.set_defaults(func=_guarded(_retry))

    dispatch = sub.add_parser("dispatch", help="send what is due now, once (the worker does this every tick)")
    dispatch.add_argument("--directory", metavar="FILE",
                          help="recipient directory YAML whose channels deliver the messages (required; default: "
                               "$SHIXIAN_DIRECTORY)")
    _add_db(dispatch)
    dispatch.set_defaults(func=_guarded(_dispatch))

    notify = subparsers.add_parser("notify", help="try the notification channels")
    nsub = notify.add_subparsers(dest="notify_command", metavar="SUBCOMMAND", required=True)
    test = nsub.add_parser("test", help="render a sample warning and send it now (not through the outbox)")
    test.add_argument("channel", metavar="CHANNEL", help="a channel name under `channels:` in the directory")
    test.add_argument("recipient", metavar="RECIPIENT", help="a person id of the directory, or a raw address")
    test.add_argument("--directory", metavar="FILE",
                      help="recipient directory YAML (default: $SHIXIAN_DIRECTORY or notifiers/example_directory.yaml)")
    test.add_argument("--template", default="sla_warning", metavar="NAME", help="template to render (sla_warning)")
    test.set_defaults(func=_guarded(_notify_test))
