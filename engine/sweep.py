"""The worker's sweep: every due SLA moment and timer, claimed in the database and fired once each.

`Engine.tick` and `Engine.recompute_provisional` run these. A claim is a lease on the row (`FOR UPDATE SKIP
LOCKED` on PostgreSQL), so any number of workers can sweep one database; firing re-checks the row inside its own
transaction, so a moment another worker fired, or a command moved on, is skipped rather than fired twice.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from engine.commands import Run, armed_moment, timer_moment
from engine.errors import ConcurrentUpdate, StorageUnavailable, WorkflowError
from engine.fields import decode_values
from engine.spec import EVENT_TIMER
from engine.store import ClockView, InstanceStore, StoreTx, TimerView
from engine.views import TickReport

if TYPE_CHECKING:
    from engine.runtime import Engine
    from engine.sla import SlaCalculator

log = logging.getLogger(__name__)


def tick(engine: Engine, now: datetime, *, batch: int, max_batches: int | None,
         stop: threading.Event | None = None) -> TickReport:
    """Claim and fire due clocks and timers in batches until none is left (or `max_batches`), then dispatch.

    A set `stop` ends the sweep after the moment in hand: the moments claimed and not fired go back unclaimed, due
    at once for another worker (a backlog of thousands would otherwise outlive a service manager's stop timeout),
    and nothing is dispatched.
    """
    counts = {"fired": 0, "skipped": 0, "failed": 0, "lost": 0}
    lease = engine.claim_lease.total_seconds()
    store = engine.store
    batches = 0
    while max_batches is None or batches < max_batches:
        if stop is not None and stop.is_set():
            return _report(counts, stopped=True)
        if batches:
            _record_progress(engine)
        clocks = store.claim_clocks(now, engine.worker_id, lease, batch)
        timers = store.claim_timers(now, engine.worker_id, lease, batch)
        batches += 1
        if batches == 1 and batch in (len(clocks), len(timers)):
            # after an outage a sweep can run for minutes: the log says why the worker is busy
            log.info("a backlog of due moments: sweeping it %d clocks and %d timers at a time", batch, batch)
        claimed = [*(_claimed_clock(engine, c, now) for c in clocks), *(_claimed_timer(engine, t, now) for t in timers)]
        for done, moment in enumerate(claimed):
            if stop is not None and stop.is_set():
                return _report(counts, released=_hand_back(claimed[done:]), stopped=True)
            _attempt(counts, moment)
        if len(clocks) < batch and len(timers) < batch:
            break
    dispatched = engine.dispatcher.dispatch(now) if engine.dispatcher is not None else 0
    return _report(counts, dispatched=dispatched)


#: How often a long sweep records that its worker still ticks (its tick recorded itself at its start): well
#: within the grace `cli.py health` allows by default.
PROGRESS_EVERY = timedelta(seconds=60)


def _record_progress(engine: Engine) -> None:
    """Between the batches of a long sweep (a backlog after an outage), record the tick again once PROGRESS_EVERY
    has passed on the engine's clock since the last record, so that a health check does not take a busy worker
    for a lost one."""
    at = engine.clock.now()
    last = engine.last_tick_recorded
    if last is None or at - last >= PROGRESS_EVERY:
        engine.record_tick(at)


def _report(counts: dict[str, int], *, dispatched: int = 0, released: int = 0, stopped: bool = False) -> TickReport:
    return TickReport(fired=counts["fired"], skipped=counts["skipped"], failed=counts["failed"],
                      dispatched=dispatched, lost=counts["lost"], released=released, stopped=stopped)


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A moment this worker claimed: its name in the log, its failed tries, and how to fire it, put it back after
    a failure (a delay, the tries, the error) and hand it back unfired, as it was."""

    what: str
    instance_id: str
    attempts: int
    fire: Callable[[], bool | str | None]
    release: Callable[[timedelta, int, str], None]
    hand_back: Callable[[], None]


def _claimed_clock(engine: Engine, clock: ClockView, now: datetime) -> _Claimed:
    assert clock.next_fire_at is not None
    store = engine.store
    return _Claimed(f"SLA clock {clock.id}", clock.instance_id, clock.fire_attempts,
                    partial(_fire_clock, engine, clock, now), partial(_release_clock, store, clock, now),
                    partial(store.release_clock, clock.id, clock.next_fire_at, None, clock.fire_attempts,
                            clock.last_error))


def _claimed_timer(engine: Engine, timer: TimerView, now: datetime) -> _Claimed:
    store = engine.store
    return _Claimed(f"timer {timer.id} ({timer.kind})", timer.instance_id, timer.attempts,
                    partial(_fire_timer, engine, timer, now), partial(_release_timer, store, timer.id, now),
                    partial(store.release_timer, timer.id, timer.fire_at, timer.attempts, timer.last_error))


def _hand_back(claimed: Sequence[_Claimed]) -> int:
    """Give back moments claimed and not fired, each as it was and claimed by nobody; how many. If the database
    fails meanwhile the error ends the tick, and the claims not given back run out with their lease."""
    for moment in claimed:
        moment.hand_back()
    return len(claimed)


def _attempt(counts: dict[str, int], moment: _Claimed) -> None:
    """Fire one claimed moment, counting the outcome; a failure puts it back for a later try.

    `fire` answers True (acted), False (nothing left to do), None (another worker had it), or the error of a
    hook that failed again: its retry is armed already, inside the committed transaction, so it counts as
    failed without being released.
    """
    what, instance_id, attempts, release = moment.what, moment.instance_id, moment.attempts, moment.release
    try:
        outcome = moment.fire()
    except (ConcurrentUpdate, StorageUnavailable) as err:
        # not the moment's fault: a command moved the instance meanwhile, or the database failed. It goes back as
        # it was for the next tick, with no attempt counted and no back-off. If the database cannot take it back
        # either, the tick ends here (the worker says so) and the claim's lease runs out, so the moment is taken
        # again once the database answers
        counts["failed"] += 1
        if isinstance(err, StorageUnavailable):
            log.warning("%s of instance %s: the database failed, tried again shortly: %s", what, instance_id, err)
        release(timedelta(seconds=1), attempts, str(err))
        return
    except Exception as err:
        # the moment's own failure (a hook, an expression), or one nobody foresaw (a backend's directory that
        # raised, a fault in the engine): it goes back with back-off and the tick goes on, so that one instance
        # never holds up every moment claimed after it
        counts["failed"] += 1
        delay = retry_delay(attempts)
        if isinstance(err, WorkflowError):
            log.warning("%s of instance %s failed (attempt %d), retried in %d s: %s", what, instance_id,
                        attempts + 1, delay.total_seconds(), err)
        elif attempts == 0:
            log.exception("%s of instance %s failed unexpectedly, retried in %d s: %s", what, instance_id,
                          delay.total_seconds(), err)
        else:  # its traceback was logged at the first attempt: the same one again says nothing new
            log.warning("%s of instance %s failed unexpectedly again (attempt %d), retried in %d s: %s", what,
                        instance_id, attempts + 1, delay.total_seconds(), err)
        release(delay, attempts + 1, str(err) or type(err).__name__)
        return
    if isinstance(outcome, str):
        counts["failed"] += 1
        log.warning("%s of instance %s: the hook failed again (attempt %d), retried later: %s", what, instance_id,
                    attempts + 1, outcome)
        return
    counts["lost" if outcome is None else "fired" if outcome else "skipped"] += 1


def retry_delay(attempts: int) -> timedelta:
    """The wait before the next try of a moment that failed `attempts` times before this failure: 30 s, doubling
    up to an hour, so that a moment that keeps failing costs a line an hour rather than one every tick."""
    return timedelta(seconds=min(30 * 2 ** min(attempts, 10), 3600))


def _release_clock(store: InstanceStore, clock: ClockView, now: datetime, delay: timedelta, attempts: int,
                   error: str) -> None:
    assert clock.next_fire_at is not None
    store.release_clock(clock.id, clock.next_fire_at, now + delay, attempts, error)


def _release_timer(store: InstanceStore, timer_id: int, now: datetime, delay: timedelta, attempts: int,
                   error: str) -> None:
    store.release_timer(timer_id, now + delay, attempts, error)


def _fire_clock(engine: Engine, clock: ClockView, now: datetime) -> bool | None:
    """Act on what a claimed clock has due, in one transaction; None when it moved on meanwhile."""
    assert clock.next_fire_at is not None
    with engine.store.transaction() as tx:
        current = tx.take_clock(clock.id, clock.next_fire_at)
        if current is None:
            return None  # stopped, paused or fired elsewhere since the claim
        inst = tx.get_instance(current.instance_id)
        if inst is None:
            return False
        run = Run(engine.parts, tx, engine.machine(inst.workflow_id, inst.version), inst, now)
        done = run.sla_due(current)
        # a command that read this instance's clocks before this commit must not write them back as it read them
        # (a breach lost, a stopped clock running again): its row-version check fails instead
        tx.touch_instance(inst.id, inst.row_version)
        run.flush()  # its outbox rows
        events = run.events
    engine.bus.publish(events)
    return bool(done)


def _fire_timer(engine: Engine, timer: TimerView, now: datetime) -> bool | str | None:
    """Fire one claimed timer in one transaction with its marking; None when another worker fired it, the
    error when a hook retry failed again."""
    with engine.store.transaction() as tx:
        if tx.mark_timer_fired(timer.id, now) is None:
            return None  # fired elsewhere, cancelled, or held by a suspension meanwhile
        inst = tx.get_instance(timer.instance_id)
        if inst is None or inst.status != "running" or inst.state != timer.state:
            return False
        run = Run(engine.parts, tx, engine.machine(inst.workflow_id, inst.version), inst, now)
        if timer.kind == "timer":
            dest = run.machine.step(inst.id, inst.state, EVENT_TIMER, run.vars)
            run.transition(EVENT_TIMER, dest, "system")
        else:
            run.run_hook(inst.state, attempts=timer.attempts)
        row = run.finish()
        tx.update_instance(row, inst.row_version)
        run.flush()
        events = run.events
    engine.bus.publish(events)
    if timer.kind == "hook" and row.state == timer.state and row.last_error is not None:
        return row.last_error  # still at the automatic step: the hook failed again
    return True


def recompute_provisional(engine: Engine, *, reload: bool = True) -> int:
    """Recompute the due time and next moment of every open clock whose due time was provisional (the data read
    again first, unless `reload` is False), then the moment of every provisional timer.

    Safe when several workers on one database run it at once (each does after it reloads the data): each clock is
    computed from its start and stored pauses, so two runs write the same values; a run whose instance another
    committed meanwhile fails its row-version check and reads it again (`_recompute_clock`). A moment re-armed
    twice is told once (an SLA event is recorded once per clock, kind and level) and a timer fires once
    (`mark_timer_fired`)."""
    calc = engine.parts.sla
    if reload:
        calc.reload()
    changed = 0
    for clock in engine.store.provisional_clocks():
        for attempt in range(1, RECOMPUTE_TRIES + 1):
            try:
                changed += _recompute_clock(engine, calc, clock.id, clock.instance_id)
                break
            except ConcurrentUpdate:  # a command moved the instance meanwhile: read it again
                if attempt == RECOMPUTE_TRIES:
                    raise
    return changed + _recompute_timers(engine)


#: Tries of one clock's recomputation that commands on its instance keep overtaking, before the error is raised.
RECOMPUTE_TRIES = 5


def _recompute_clock(engine: Engine, calc: SlaCalculator, clock_id: int, instance_id: str) -> int:
    """One open clock's due time and next moment computed again, in one transaction; 1 if it was, else 0."""
    with engine.store.transaction() as tx:
        current = tx.get_clock(clock_id)
        inst = tx.get_instance(instance_id)
        if current is None or current.stopped_at is not None or inst is None:
            return 0
        run = Run(engine.parts, tx, engine.machine(inst.workflow_id, inst.version), inst, engine._now())
        sla, _ = run.clock_sla(current)
        if sla is None:
            return 0
        base = calc.due(current.calendar, current.started_at, sla.due, run.vars)
        paused = _recount_pauses(tx, calc, current)
        due = calc.extend(current.calendar, base, paused)
        # armed from the clock's start, not from now: a due time the year's data moved into the past (a
        # make-up working day) has moments no tick fired, and the next tick fires them (each once)
        ladder = calc.ladder(current.calendar, due, sla)
        at, kind, level = (armed_moment(ladder, due.due, current.started_at)
                           if current.status != "paused" else (None, None, 0))
        # still provisional while the due time, or any moment of its ladder, rests on a year without data
        provisional = due.provisional or calc.ladder_provisional(current.calendar, due, ladder)
        tx.update_clock(dataclasses.replace(
            current, base_due_at=base.due, due_at=due.due, last_day=due.last_day.isoformat(),
            paused_working_days=paused, provisional=provisional, next_fire_at=at, next_kind=kind,
            next_level=level))
        # the clock was read before this write: a command that stopped or moved it meanwhile bumped the
        # instance, and this fails rather than bring back the clock as it was read
        tx.touch_instance(inst.id, inst.row_version)
    return 1


def _recount_pauses(tx: StoreTx, calc: SlaCalculator, clock: ClockView) -> int:
    """The working days the clock's ended pauses covered, counted again on the calendar as it now stands (a
    pause over a year without data was counted on a guess); each ledger row whose count changed is corrected."""
    total = 0
    for pause_id, started, ended, counted in tx.closed_pauses(clock.id):
        days = calc.working_days_between(clock.calendar, started, ended)
        if days != counted:
            tx.set_pause_days(pause_id, days)
        total += days
    return total


def _recompute_timers(engine: Engine) -> int:
    """Recompute the moment of every timer transition (e.g. a publicity's end) counted on a year without data."""
    changed = 0
    for timer in engine.store.provisional_timers():
        if timer.armed_at is None or timer.state is None:
            continue
        with engine.store.transaction() as tx:
            inst = tx.get_instance(timer.instance_id)
            if inst is None or inst.state != timer.state:
                continue
            spec = engine.machine(inst.workflow_id, inst.version).spec
            due = timer_moment(engine.parts.sla, spec.calendar, spec.states[timer.state], timer.armed_at,
                               decode_values(spec, inst.variables))
            changed += tx.reschedule_timer(timer.id, due.due, due.provisional)
    return changed
