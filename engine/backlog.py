"""Whether the work due in a database is being done: a worker that stopped sends no warning, breach or escalation,
and nothing else says so. The figures are the database's (storage.backlog), so the check holds however many
workers share it and wherever they run; each worker records its ticks there (storage.workers), so a missing one
shows before anything is late. `cli.py health` prints it for monitoring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.clock import beijing_text

if TYPE_CHECKING:  # the records the store reads; the engine itself never imports the storage layer
    from storage.backlog import Backlog
    from storage.workers import WorkerSeen

#: How long a due moment or message may wait before the check calls its worker missing: a tick every few seconds
#: and a sweep of a large batch take far less.
DEFAULT_GRACE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class BacklogProblem:
    """One thing wrong: `kind` is clock, workers, sweep, dispatch, failing or dead; `text` says what and what to
    do."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Health:
    """The backlog read at a moment and what it shows to be wrong (`Engine.health`, `cli.py health`)."""

    backlog: Backlog
    problems: tuple[BacklogProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def backlog_problems(backlog: Backlog, grace: timedelta = DEFAULT_GRACE, workers: int = 1) -> list[BacklogProblem]:
    """What the backlog shows to be wrong, given how long due work may wait (`grace`) and how many workers must
    tick the database (`workers`): workers whose ticks are dated ahead of `now` and too few workers first, then work
    left waiting, then failures."""
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
    problems = _clocks_apart(backlog, grace) + _too_few_workers(backlog, grace, workers)
    problems += [BacklogProblem(kind, f"{what}, the oldest since {beijing_text(oldest)} ({_age(backlog.now - oldest)} "
                                     f"ago): {why}")
                for kind, oldest, what, why in waiting if oldest is not None and oldest < late_since]
    problems += [BacklogProblem(kind, f"{count} {what}") for kind, count, what in failed if count]
    return problems


def ticking(backlog: Backlog, grace: timedelta) -> list[WorkerSeen]:
    """The workers that ticked the database within `grace` of its `now` and have not stopped since. A tick dated
    further ahead than that is the clocks of two hosts disagreeing, and proves nothing (`ahead`)."""
    now = backlog.now
    return [w for w in backlog.workers if w.stopped_at is None and now - grace <= w.last_tick_at <= now + grace]


def ahead(backlog: Backlog, grace: timedelta) -> list[WorkerSeen]:
    """The workers whose last tick is dated later than `grace` after the check's `now`."""
    return [w for w in backlog.workers if w.stopped_at is None and w.last_tick_at > backlog.now + grace]


def _clocks_apart(backlog: Backlog, grace: timedelta) -> list[BacklogProblem]:
    return [BacklogProblem("clock", f"worker {w.name}'s last tick is dated {beijing_text(w.last_tick_at)}, "
                                    f"{_age(w.last_tick_at - backlog.now)} ahead of this host's clock: the clocks of "
                                    "the two hosts disagree (keep both on NTP), and until they agree this check cannot "
                                    "tell whether that worker still ticks")
            for w in ahead(backlog, grace)]


def _too_few_workers(backlog: Backlog, grace: timedelta, wanted: int) -> list[BacklogProblem]:
    """Fewer than `wanted` workers ticked within `grace` while work waits for one (due or not): the deadlines
    will pass unwatched. A database that holds nothing for a worker needs none."""
    live = ticking(backlog, grace)
    if len(live) >= wanted or backlog.next_work is None:
        return []
    span = _age(grace)
    if backlog.next_work <= backlog.now:
        waiting = f"work is due for a worker (the earliest since {beijing_text(backlog.next_work)})"
    else:
        waiting = f"work waits for a worker (the next at {beijing_text(backlog.next_work)})"
    if live:
        return [BacklogProblem("workers", f"{len(live)} worker(s) ticked this database in the last {span}, "
                                          f"{wanted} are wanted (--workers), and {waiting}: start another "
                                          "`cli.py worker` on it")]
    last = backlog.workers[0] if backlog.workers else None
    if last is None:
        why = "no worker has ever ticked it"
    elif last.stopped_at is not None:
        why = f"the last, {last.name}, was stopped on {beijing_text(last.stopped_at)}"
    else:
        why = (f"the last, {last.name}, last ticked on {beijing_text(last.last_tick_at)} and ended without stopping "
               "(killed, crashed, stopped by an error its log names, or its host or its connection to the database "
               "is down)")
    return [BacklogProblem("workers", f"no worker has ticked this database in the last {span}, and {waiting}: "
                                      f"{why}. Start `cli.py worker` on it")]


def _age(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


__all__ = ["DEFAULT_GRACE", "BacklogProblem", "Health", "ahead", "backlog_problems", "ticking"]
