"""Whether the work due in a database is being done: a worker that stopped sends no warning, breach or escalation,
and nothing else says so. The figures are the database's (storage.backlog), so the check holds however many
workers share it and wherever they run; `cli.py health` prints it for monitoring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.clock import SHANGHAI
from storage.backlog import Backlog

#: How long a due moment or message may wait before the check calls its worker missing: a tick every few seconds
#: and a sweep of a large batch take far less.
DEFAULT_GRACE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class BacklogProblem:
    """One thing wrong: `kind` is sweep, failing, dispatch or dead; `text` says what and what to do."""

    kind: str
    text: str


def backlog_problems(backlog: Backlog, grace: timedelta = DEFAULT_GRACE) -> list[BacklogProblem]:
    """What the backlog shows to be wrong, given how long due work may wait (`grace`): work left waiting first,
    then failures."""
    waiting = [
        ("sweep", backlog.oldest_sweep_work,
         f"{backlog.moments_due} SLA moment(s) and {backlog.timers_due} timer(s) are due",
         "no worker is ticking this database, or the workers cannot keep up. Start `cli.py worker` on it (any "
         "number of workers may share it)"),
        ("dispatch", backlog.oldest_message, f"{backlog.messages_due} message(s) are due to be sent",
         "nothing sends the outbox. Run a worker with --directory and without --no-dispatch, or `cli.py outbox "
         "dispatch`"),
    ]
    failed = [
        ("failing", backlog.moments_failing, "SLA moment(s) failed and wait to be tried again: the worker's log "
         "names each error, and `cli.py show ID` the instance's clocks"),
        ("dead", backlog.messages_dead, "message(s) were given up on after their last try: `cli.py outbox dead` "
         "lists them with their errors, `cli.py outbox retry` sends them again"),
    ]
    late_since = backlog.now - grace
    problems = [BacklogProblem(kind, f"{what}, the oldest since {_when(oldest)} ({_age(backlog.now - oldest)} "
                                     f"ago): {why}")
                for kind, oldest, what, why in waiting if oldest is not None and oldest < late_since]
    problems += [BacklogProblem(kind, f"{count} {what}") for kind, count, what in failed if count]
    return problems


def _when(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _age(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


__all__ = ["DEFAULT_GRACE", "BacklogProblem", "backlog_problems"]
