"""The arguments of the engine's API, checked before any database sees them: a value one database would store
and another reject, or answer wrongly, is refused here with the field and what is expected
(engine.errors.PayloadInvalid), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import MAXYEAR, MINYEAR, datetime
from typing import Any

from engine.errors import PayloadInvalid
from engine.fields import check_identifier, is_clean_text
from engine.ports import Actor
from engine.store import InstanceQuery
from engine.validation.keys import NAME_RE  # the names definitions give variables


def check_keys(where: str, actor: Actor, idempotency_key: str | None) -> None:
    """Refuse, before any database sees them, keys that one database would store and another reject."""
    check_identifier(actor.id, "actor.id", 120, where)
    if actor.department is not None:  # kept in the history with each step the actor takes
        check_identifier(actor.department, "actor.department", 120, where)
    if idempotency_key is not None:
        check_identifier(idempotency_key, "idempotency_key", 200, where)


#: the longest reason an administrator may give for cancelling, suspending or resuming (kept in the history)
REASON_MAX = 2000
#: the most rows one listing returns; a backend pages with `offset`
LIST_LIMIT_MAX = 10_000


def check_page(limit: Any, offset: Any, where: str) -> None:
    """A page of a listing: a LIMIT that is neither negative nor beyond any page, an OFFSET from 0."""
    for name, value, most in (("limit", limit, LIST_LIMIT_MAX), ("offset", offset, 2**62)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            raise PayloadInvalid(name, f"a whole number from 0 to {most}", value, where=where)


def check_filter_text(name: str, value: Any, where: str) -> None:
    """A text filter (None: no filter) the databases can compare: no NUL, no lone surrogate."""
    if value is not None and (not isinstance(value, str) or "\x00" in value or not is_clean_text(value)):
        raise PayloadInvalid(name, "a text without NUL characters", value, where=where)


def check_query(query: InstanceQuery) -> None:
    """Refuse filters a database would choke on or answer wrongly: a type or NUL it cannot compare, a lone
    surrogate, a LIMIT that is negative or beyond any page, a variable name that is no variable's name."""
    check_page(query.limit, query.offset, "list_instances")
    for name in ("workflow_id", "status", "state", "business_key_prefix"):
        check_filter_text(name, getattr(query, name), "list_instances")
    for name, value in query.variable_equals.items():
        if not isinstance(name, str) or NAME_RE.match(name) is None:
            raise PayloadInvalid(f"variable name {name!r}", "a variable's name: lower-case letters, digits and _",
                                 value, where="search")
        if isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**53):
            continue  # compared as the JSON value it is stored as
        if not isinstance(value, str) or "\x00" in value or not is_clean_text(value):
            raise PayloadInvalid(f"variable {name!r}", "a text, a whole number or true/false", value,
                                 where="search")


def aware(moment: datetime, where: str) -> datetime:
    """A moment the engine can count from: timezone-aware, and inside the years a calendar can span, with room
    for the deadlines, leases and ladders counted on from it (datetime ends at the year 9999)."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise PayloadInvalid("now", "a timezone-aware datetime, e.g. datetime(..., tzinfo=SHANGHAI)", moment,
                             where=where)
    if not MINYEAR < moment.year < MAXYEAR - 1:
        raise PayloadInvalid("now", f"a moment between the years {MINYEAR + 1} and {MAXYEAR - 2}", moment,
                             where=where)
    return moment


def check_batch(batch: Any, max_batches: Any) -> None:
    """A tick's batch size (at least 1: the sweep stops at the first batch that is not full) and its bound."""
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= LIST_LIMIT_MAX:
        raise PayloadInvalid("batch", f"a whole number from 1 to {LIST_LIMIT_MAX}", batch, where="tick")
    if max_batches is not None and (isinstance(max_batches, bool) or not isinstance(max_batches, int)
                                    or max_batches < 1):
        raise PayloadInvalid("max_batches", "a whole number of at least 1, or None for no bound", max_batches,
                             where="tick")


__all__ = ["LIST_LIMIT_MAX", "REASON_MAX", "aware", "check_batch", "check_filter_text", "check_keys", "check_page",
           "check_query"]
