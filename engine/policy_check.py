"""The deadline policy a database records. Every process on one database must count deadlines alike (a backend
ending them at 24:00 beside a worker ending them at close of business gives one database two kinds of deadline),
so the first engine to open it records its policy, and one opening it with another is refused."""

from __future__ import annotations

import json
import logging
import time as monotonic_time
from collections.abc import Callable, Mapping
from datetime import datetime, time
from typing import Any, Protocol

from engine.errors import DeadlinePolicyMismatch, StoredRowInvalid
from engine.store import Setting

log = logging.getLogger(__name__)

#: The name the policy is recorded under in the database's deployment settings.
SETTING = "deadline_policy"
#: The policy's parts besides the business hours, as `calendars.DeadlinePolicy()` has them.
DEFAULTS: Mapping[str, str] = {"receipt": "never_counted", "working_hours": "09:00-17:00"}
_RECEIPT_WORDS = {
    "never_counted": "the day of receipt never counts",
    "next_working_day": "what arrives on a day off or after close of business counts as received on the next "
                        "working day",
}


class SettingStore(Protocol):
    """What the check needs of the store (engine.store.InstanceStore)."""

    def setting(self, name: str) -> Setting | None: ...
    def record_setting(self, name: str, value: str, at: datetime) -> bool: ...
    def replace_setting(self, name: str, value: str, at: datetime) -> Setting | None: ...


def canonical(policy: Any) -> dict[str, Any]:
    """A `calendars.DeadlinePolicy` as the database records it: the hours as "HH:MM-HH:MM" (None: no business
    hours, deadlines at 24:00), the receipt rule by name."""
    hours = policy.business_hours
    return {"business_hours": _span(hours) if hours is not None else None, "receipt": policy.receipt,
            "working_hours": _span(policy.working_hours)}


def policy_text(policy: Any) -> str:
    """The canonical JSON text of a policy: one policy always gives the same text."""
    return json.dumps(canonical(policy), sort_keys=True, separators=(",", ":"))


def check_deadline_policy(store: SettingStore, policy: Any, at: datetime) -> None:
    """Go on when the database records `policy`; record it when the database records none yet (a new one, or one
    an earlier release wrote), unless another process records its own first; else DeadlinePolicyMismatch."""
    mine = canonical(policy)
    recorded = store.setting(SETTING)
    if recorded is None:
        if store.record_setting(SETTING, policy_text(policy), at):
            log.info("deadline policy recorded in this database: %s; every process on it must be given the same",
                     describe(mine))
            return
        recorded = store.setting(SETTING)
        if recorded is None:  # a read-only copy in which no policy was ever recorded: nothing to compare with
            return
    theirs = recorded_policy(recorded)
    if theirs != mine:
        raise mismatch(theirs, mine, recorded.set_at)


class PolicyGuard:
    """Keeps a long-running process to the database's deadline policy. The policy is checked (or recorded) when
    the engine opens, and read again at most every `recheck` seconds before a command or a tick: a process left
    running after `policy --set` then refuses to count deadlines the old way (DeadlinePolicyMismatch) instead of
    mixing the two kinds in one database until someone restarts it."""

    def __init__(self, store: SettingStore, policy: Any, now: Callable[[], datetime], recheck: float = 30.0,
                 monotonic: Callable[[], float] = monotonic_time.monotonic) -> None:
        self.store, self.policy, self.now, self.recheck, self.monotonic = store, policy, now, recheck, monotonic
        self._checked_at: float | None = None  # when the database last recorded this process's policy

    def check(self) -> None:
        """Read the database's policy again when `recheck` seconds have passed; raise while it is another."""
        moment = self.monotonic()
        if self._checked_at is not None and moment - self._checked_at < self.recheck:
            return
        check_deadline_policy(self.store, self.policy, self.now())
        self._checked_at = moment


def replace_deadline_policy(store: SettingStore, policy: Any, at: datetime) -> Setting | None:
    """Record `policy` as the database's on purpose, whatever it recorded; answer what it recorded before."""
    return store.replace_setting(SETTING, policy_text(policy), at)


def recorded_policy(setting: Setting) -> dict[str, Any]:
    """The recorded policy as `canonical` gives it; StoredRowInvalid when its text is not one (changed by hand)."""
    try:
        value = json.loads(setting.value)
    except ValueError:
        value = None
    if not isinstance(value, dict) or set(value) != {"business_hours", *DEFAULTS}:
        raise StoredRowInvalid(f"deployment setting {setting.name!r}",
                               f"{setting.value[:80]!r} is not a deadline policy the engine records")
    return value


def mismatch(recorded: Mapping[str, Any], given: Mapping[str, Any], recorded_at: datetime) -> DeadlinePolicyMismatch:
    """The refusal, each policy in plain words, naming the parts where they differ."""
    parts = _parts_to_name(recorded, given)
    return DeadlinePolicyMismatch(describe(recorded, parts), describe(given, parts), recorded_at, options(recorded),
                                  recorded, given)


def describe(policy: Mapping[str, Any], parts: frozenset[str] | None = None) -> str:
    """A policy in plain words: where a deadline ends, and the `parts` besides the hours (default: those that are
    not as `DeadlinePolicy()` has them)."""
    parts = _parts_to_name(policy, policy) if parts is None else parts
    hours = policy["business_hours"]
    words = [f"deadlines end at {hours.split('-')[1]}, close of business (business hours {hours})" if hours
             else "deadlines end at 24:00 (no business hours)"]
    if "receipt" in parts:
        words.append(_RECEIPT_WORDS.get(policy["receipt"], f"receipt {policy['receipt']!r}"))
    if "working_hours" in parts:
        words.append(f"an hour period counts in {policy['working_hours']}" if not hours
                     else f"working hours {policy['working_hours']} (not used: business hours are set)")
    return ", ".join(words)


def options(policy: Mapping[str, Any]) -> str:
    """How a process is given `policy`: the command line's option or variable, and a backend's argument."""
    hours = policy["business_hours"]
    backend = f"in a backend, deadline_policy={_python(policy)}"
    if any(policy[name] != default for name, default in DEFAULTS.items()):
        return f"only a backend can be given it (the command line sets business hours alone): {backend}"
    cli = (f"--business-hours {hours} or $SHIXIAN_BUSINESS_HOURS={hours}" if hours
           else "no --business-hours and no $SHIXIAN_BUSINESS_HOURS (unset or empty)")
    return f"on the command line, {cli}; {backend}"


def _parts_to_name(one: Mapping[str, Any], other: Mapping[str, Any]) -> frozenset[str]:
    """The parts besides the hours worth naming: those either policy has otherwise than the default (and so all
    where the two differ)."""
    return frozenset(name for name, default in DEFAULTS.items() if one[name] != default or other[name] != default)


def _python(policy: Mapping[str, Any]) -> str:
    """The `calendars.DeadlinePolicy(...)` expression of a policy, naming only what differs from the default."""
    given = []
    if policy["business_hours"]:
        given.append(f"business_hours={_times(policy['business_hours'])}")
    if policy["receipt"] != DEFAULTS["receipt"]:
        given.append(f"receipt={policy['receipt']!r}")
    if policy["working_hours"] != DEFAULTS["working_hours"]:
        given.append(f"working_hours={_times(policy['working_hours'])}")
    return f"DeadlinePolicy({', '.join(given)})"


def _times(span: str) -> str:
    """"09:00-17:30" as the Python tuple `(time(9, 0), time(17, 30))`."""
    shown = []
    for text in span.split("-"):
        t = time.fromisoformat(text)
        shown.append(f"time({t.hour}, {t.minute}" + (f", {t.second})" if t.second else ")"))
    return f"({', '.join(shown)})"


def _span(hours: tuple[time, time]) -> str:
    return f"{_clock_time(hours[0])}-{_clock_time(hours[1])}"


def _clock_time(moment: time) -> str:
    """HH:MM, or HH:MM:SS for a time with seconds (never shortened: the text must tell policies apart)."""
    return moment.isoformat(timespec="minutes" if not moment.second and not moment.microsecond else "auto")


__all__ = ["SETTING", "PolicyGuard", "canonical", "check_deadline_policy", "describe", "mismatch", "options",
           "policy_text", "recorded_policy", "replace_deadline_policy"]
