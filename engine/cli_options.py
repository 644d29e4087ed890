"""The worker's and the listings' option values, read from the command line: each refusal is argparse's exit 2
with a message saying what is expected."""

from __future__ import annotations

import argparse
import math
import os
from datetime import time
from typing import Any

from engine.arguments import LIST_LIMIT_MAX

#: The shortest `worker --interval`: a tick every 100 ms is already more than any deadline needs.
MIN_INTERVAL = 0.1
#: `worker --backoff` by default: the first retry after 30 s, doubling, at most 1 h apart (notifiers.Backoff).
DEFAULT_BACKOFF = (30.0, 3600.0)


def seconds(text: str, least: float, what: str) -> float:
    """A number of seconds, finite and at least `least` (argparse exits 2 with the message, which ends `what`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < least:
        raise argparse.ArgumentTypeError(f"{text} s: give at least {least:g} s {what}")
    return value


def interval(text: str) -> float:
    """`worker --interval` seconds: at least MIN_INTERVAL."""
    return seconds(text, MIN_INTERVAL, "between ticks")


def add_database(parser: argparse.ArgumentParser,
                 help_text: str = "SQLite file or PostgreSQL URL (default: $SHIXIAN_DB or shixian.db)") -> None:
    """`--db`, defaulting to $SHIXIAN_DB, else shixian.db: the one way every command is pointed at its database."""
    parser.add_argument("--db", default=os.environ.get("SHIXIAN_DB", "shixian.db"), help=help_text)


def clock_time(text: str) -> time:
    """HH:MM (24-hour) as a time of day; ValueError otherwise."""
    hours, sep, minutes = text.strip().partition(":")
    if sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60:
        return time(int(hours), int(minutes))
    raise ValueError(text)


def digest_time(text: str) -> time:
    """`--daily-digest HH:MM`: the Beijing time the daily overdue list goes out."""
    try:
        return clock_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write a time of day as HH:MM, e.g. 09:00") from None


class FromEnvironment(str):
    """An option's default read from $SHIXIAN_BUSINESS_HOURS, so that its refusal names the variable."""

    __slots__ = ()


def deadline_policy(hours: tuple[time, time] | None) -> Any:
    """The deadline policy a command line gives: `--business-hours` (None: deadlines end at 24:00), the rest as
    `calendars.DeadlinePolicy()` has it."""
    from calendars import DeadlinePolicy

    return DeadlinePolicy(business_hours=hours)


def add_business_hours(parser: argparse.ArgumentParser, help_end: str) -> None:
    """`--business-hours OPEN-CLOSE`, defaulting to $SHIXIAN_BUSINESS_HOURS: the one way every command that counts
    deadlines is given them, so that a deployment sets the variable once."""
    parser.add_argument("--business-hours", type=business_hours, metavar="OPEN-CLOSE",
                        default=FromEnvironment(os.environ.get("SHIXIAN_BUSINESS_HOURS") or "") or None,
                        help="e.g. 09:00-17:30: deadlines end at close of business (default: $SHIXIAN_BUSINESS_HOURS, "
                             f"else at 24:00); {help_end}")


def business_hours(text: str) -> tuple[time, time]:
    """`--business-hours OPEN-CLOSE` (HH:MM-HH:MM, open before close): deadlines end at close of business."""
    given = f"$SHIXIAN_BUSINESS_HOURS={str(text)!r}" if isinstance(text, FromEnvironment) else repr(text)
    first, _, last = text.partition("-")
    try:
        opens, closes = clock_time(first), clock_time(last)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{given}: write OPEN-CLOSE as HH:MM-HH:MM, e.g. 09:00-17:00") from None
    if not opens < closes:
        raise argparse.ArgumentTypeError(f"{given}: the opening time must come before the closing time, e.g. "
                                         "09:00-17:00")
    return opens, closes


def count(text: str, least: int, other: str = "") -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least {least}{other}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text}: give a whole number of at least {least}{other}")
    return value


def page_size(text: str) -> int:
    """`--limit N` of a listing that pages with `--offset`: 1 to the engine's largest page."""
    return _page(text, "; page on with --offset")


def message_limit(text: str) -> int:
    """`outbox list --limit N`: the same page sizes as `show` and `overdue`, newest messages first."""
    return _page(text, "")


def _page(text: str, hint: str) -> int:
    value = count(text, 1, f" and at most {LIST_LIMIT_MAX}")
    if value > LIST_LIMIT_MAX:
        raise argparse.ArgumentTypeError(f"{text}: give a whole number of at least 1 and at most {LIST_LIMIT_MAX}"
                                         + hint)
    return value


def skip(text: str) -> int:
    """`--offset N` of a listing: how many of the first rows to skip."""
    return count(text, 0)


def max_attempts(text: str) -> int:
    """`--max-attempts N`: how often a message is tried before dead-letter (at least 1)."""
    return count(text, 1)


def digest_threshold(text: str) -> int | None:
    """`--digest-threshold N|off`: pending alerts for one person on one channel folded into one digest."""
    if text.strip().lower() == "off":
        return None
    return count(text, 2, ", or off")


def calendar_warn_days(text: str) -> int | None:
    """`worker --calendar-warn-days DAYS|off`: how far ahead a missing calendar year is told (None: never)."""
    if text.strip().lower() == "off":
        return None
    return count(text, 1, " (days), or off")


def backoff(text: str) -> tuple[float, float]:
    """`--backoff SECONDS[:MAX_SECONDS]`: the first retry's wait, doubling up to the maximum (default 3600 s,
    or the first wait when that is longer)."""
    first, sep, last = text.partition(":")
    try:
        base = float(first)
        maximum = float(last) if sep else max(base, DEFAULT_BACKOFF[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write SECONDS or SECONDS:MAX_SECONDS, e.g. 30:3600") from None
    if not (math.isfinite(base) and math.isfinite(maximum) and 0 < base <= maximum):
        raise argparse.ArgumentTypeError(f"{text}: the first wait must be more than 0 s and at most the maximum, "
                                         "e.g. 30:3600")
    return base, maximum
