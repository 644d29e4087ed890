"""The worker's scheduler: APScheduler 3.x calls `engine.tick()` every few seconds, starts recurring
procedures on their cron schedules (catching up a round missed while the worker or the database was away) and
sends the daily overdue list. The only module that imports apscheduler."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.cron.expressions import WEEKDAYS
from apscheduler.triggers.interval import IntervalTrigger

from engine.calendar_check import recompute_for_coverage
from engine.clock import SHANGHAI, beijing_text
from engine.daily_digest_job import DailyDigest, DigestRun, send_daily_digest
from engine.errors import (
    ConcurrentUpdate,
    DeadlinePolicyMismatch,
    DuplicateBusinessKey,
    HistoryKeysRequired,
    PayloadInvalid,
    StorageUnavailable,
    WorkflowError,
)
from engine.horizon_job import HorizonRun, HorizonWatch, look_ahead
from engine.periods import recurring_business_key, recurring_variables
from engine.ports import Actor
from engine.runtime import Engine
from engine.views import TickReport

log = logging.getLogger(__name__)

#: How far back `latest_fire_time` looks for a cron's last moment, widening each time nothing fired: five cron
#: fields repeat within four years, or eight when 29 February skips a century year (2100).
_LOOKBACK = (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1), timedelta(days=31), timedelta(days=366),
             timedelta(days=4 * 366), timedelta(days=8 * 366))


#: A numeric item of a crontab weekday field: `*`, `n` or `n-m`, with an optional `/step`.
_NUMERIC_WEEKDAYS = re.compile(r"(?:(?P<every>\*)|(?P<first>\d+)(?:-(?P<last>\d+))?)(?:/(?P<step>\d+))?")
#: An item of names, `mon` or `mon-fri`: APScheduler reads only the start of an item it matches, so `mon-5`
#: or `mon-fri/2` would quietly mean `mon` or `mon-fri` there.
_NAMED_WEEKDAYS = re.compile(r"[a-z]+(?:-[a-z]+)?", re.IGNORECASE)


def crontab_weekdays(field: str) -> str:
    """An ordinary crontab weekday field (0 or 7 = Sunday, 1 = Monday; ranges, lists, steps) in the weekday names
    of APScheduler 3, which counts its numbers from Monday = 0 (its `from_crontab` warns of the mismatch):
    `1-5` → `mon-fri`, `0,6` → `sun,sat`, `*/2` → `tue,thu,sat-sun`. Names and `*` mean the same to both and
    stay. Raises ValueError for a number out of 0-7, a backward range, a zero step, a step after one number, or
    an item of names and numbers or a step after names (which APScheduler would read only in part)."""
    if field == "*":
        return field
    return ",".join(_weekday_names(item) for item in field.split(","))


def _weekday_names(item: str) -> str:
    match = _NUMERIC_WEEKDAYS.fullmatch(item)
    if match is None:
        if _NAMED_WEEKDAYS.fullmatch(item) is None:
            raise ValueError(f"weekday {item!r}: write numbers (0 to 7) or names (mon to sun), each alone or as a "
                             "range, a step only after numbers")
        return item  # names mean the same to both; APScheduler refuses one it does not know
    step = int(match["step"] or 1)
    if match["every"]:
        first, last = 0, 7
    elif match["last"] is None and match["step"] is not None:
        raise ValueError(f"weekday {item!r}: a step follows a range or *, as in {match['first']}-7/{step}")
    else:
        first = int(match["first"])
        last = int(match["last"] or first)
    if last > 7 or first > last or step == 0:
        raise ValueError(f"weekday {item!r}: days are 0 to 7 (0 and 7 are Sunday), a range goes upwards, a step is "
                         "above 0")
    runs: list[list[int]] = []  # APScheduler's day numbers (Monday = 0), consecutive ones as a range
    for day in sorted({(crontab_day - 1) % 7 for crontab_day in range(first, last + 1, step)}):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join("-".join(dict.fromkeys((WEEKDAYS[run[0]], WEEKDAYS[run[-1]]))) for run in runs)


def cron_trigger(cron: str) -> BaseTrigger:
    """`cron` read as an ordinary crontab in Asia/Shanghai time: the one way the loader's check, the worker's
    jobs and `latest_fire_time` read a recurring start's cron, so that they agree on its days.

    Two rules of crontab that APScheduler 3's `CronTrigger` reads otherwise: weekdays count from Sunday = 0
    (`crontab_weekdays`), and when both the day of month and the weekday are restricted (neither starts with
    `*`), a day matching either fires: `0 9 1 * 1` is the 1st of each month and every Monday."""
    fields = cron.split()
    if len(fields) != 5:
        return CronTrigger.from_crontab(cron, timezone=SHANGHAI)  # it says how many fields it wants
    minute, hour, day, month, weekday = fields
    names = crontab_weekdays(weekday)

    def trigger(days: str, weekdays: str) -> CronTrigger:
        return CronTrigger(minute=minute, hour=hour, day=days, month=month, day_of_week=weekdays, timezone=SHANGHAI)

    if day.startswith("*") or weekday.startswith("*"):
        return trigger(day, names)
    return OrTrigger([trigger(day, "*"), trigger("*", names)])


def cron_problem(cron: str) -> str | None:
    """What keeps a recurring start's cron from ever starting anything, as the worker's scheduler reads it: a
    value out of its field's range, or a day that never comes (31 February); None when it fires. The loader
    asks, so that `validate` says it at the file's line rather than the worker failing at its start."""
    try:
        trigger = cron_trigger(cron)
    except ValueError as err:
        return f"bad cron {cron!r}: {err}"
    # five cron fields repeat every four years at the longest (29 February): from any moment will do
    if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=SHANGHAI)) is None:
        return f"cron {cron!r} never fires: no such day comes (check the day and month fields)"
    return None


def latest_fire_time(cron: str, now: datetime) -> datetime | None:
    """The latest moment at or before `now` at which `cron` fires (Asia/Shanghai): the moment whose round a
    worker owes when it was not running then. APScheduler 3 only looks forward, so this looks forward from ever
    earlier starts until one finds a fire time not after `now`, then walks to the last such; None if it never fires."""
    trigger = cron_trigger(cron)
    for back in _LOOKBACK:
        fire: datetime | None = trigger.get_next_fire_time(None, now - back)
        if fire is None or fire > now:
            continue
        while (later := trigger.get_next_fire_time(fire, fire)) is not None and later <= now:
            fire = later
        return fire
    return None


class EngineScheduler:
    """Runs `engine.tick()` every `interval` seconds (never two at once), the recurring starts and, given a
    `DailyDigest`, the daily overdue list at its Beijing time (at `start()` too when that time has passed today).
    At `start()`, and when a tick reaches the database again after a round failed for want of it, each recurring
    workflow's round of its latest cron moment is started if no one started it and the deployment ran the
    workflow before that moment (`catch_up_recurring`). After the engine took up changed calendar data (a year
    file added), the tick recomputes the provisional deadlines, once per reload (`recompute_after_reload`).

    `start()` returns at once. `request_stop()` (a worker's SIGTERM) ends a running tick after the moment in hand,
    its other claims handed back for another worker, and no tick starts after it; `stop()` asks that and waits
    for the tick, so a stop never cuts a moment's transaction and never waits out a backlog.
    """

    def __init__(self, engine: Engine, *, interval: float = 5.0, recurring: bool = True,
                 daily_digest: DailyDigest | None = None, horizon: HorizonWatch | None = None) -> None:
        if not (isinstance(interval, int | float) and math.isfinite(interval) and interval > 0):
            # a zero or negative interval makes every tick due at once: the scheduler spins and never idles
            raise PayloadInvalid("interval", "a positive number of seconds", interval, where="EngineScheduler")
        self.engine = engine
        self.interval = interval
        self.last_report: TickReport | None = None
        self.ticks = 0
        self.errors = 0
        #: what stopped the worker for good: its deadline policy or its keyring no longer fits the database
        self.fatal: DeadlinePolicyMismatch | HistoryKeysRequired | None = None
        self._failing = 0  # ticks failed in a row for want of the database
        self.daily_digest = daily_digest
        self.last_digest: DigestRun | None = None
        self._digest_owed: date | None = None  # the day whose digest failed for want of the database
        self.horizon = horizon
        self.last_horizon: HorizonRun | None = None
        self._recurring: list[str] = []  # the workflows this scheduler starts on their cron
        self._rounds_owed: dict[str, datetime] = {}  # workflow → cron moment whose round failed for the database
        self._catch_ups_owed: set[str] = set()  # workflows whose catch-up check failed for the database
        # the reloads of the engine's calendar data (its calendar_guard) whose provisional deadlines are recomputed;
        # None until the first tick compares the data in force with what the database last recomputed for
        self._recomputed_for: int | None = None
        self._recompute_failing = False  # a recompute owed failed for want of the database (said once)
        self._owed_lock = threading.Lock()  # the cron jobs, the catch-ups and the retry each settle rounds
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._scheduler = BackgroundScheduler(timezone=SHANGHAI)
        self._scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        self._scheduler.add_job(self._tick, IntervalTrigger(seconds=interval), id="tick", max_instances=1,
                                coalesce=True, next_run_time=datetime.now(SHANGHAI))
        if recurring:
            self._add_recurring()
        if daily_digest is not None:
            at = daily_digest.at
            # misfire_grace_time=None: a run held up (a long tick, a suspended host) still happens, once
            self._scheduler.add_job(self.run_daily_digest, CronTrigger(hour=at.hour, minute=at.minute,
                                                                       timezone=SHANGHAI),
                                    id="daily_digest", max_instances=1, coalesce=True, misfire_grace_time=None)
        if horizon is not None:
            self._scheduler.add_job(self.run_horizon, CronTrigger(hour=horizon.at.hour, minute=horizon.at.minute,
                                                                  timezone=SHANGHAI),
                                    id="calendar_horizon", max_instances=1, coalesce=True, misfire_grace_time=None)

    def _add_recurring(self) -> None:
        definitions: Any = self.engine.definitions
        for compiled in list(definitions) if hasattr(definitions, "__iter__") else []:
            spec = compiled.spec
            if spec.recurring is None:
                continue
            trigger = cron_trigger(spec.recurring.cron)
            # misfire_grace_time=None: a run held up (a long tick, a suspended host) still happens, once, and
            # starts the round of the moment it was held up from
            self._scheduler.add_job(self.start_recurring, trigger, args=(spec.id,), id=f"recurring:{spec.id}",
                                    max_instances=1, coalesce=True, misfire_grace_time=None)
            self._recurring.append(spec.id)
            log.info("recurring start of %s on %r", spec.id, spec.recurring.cron)

    def _tick(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            try:
                report = self.engine.tick(stop=self._stopping)
            except (DeadlinePolicyMismatch, HistoryKeysRequired) as err:
                # this process no longer fits its database: its policy was changed on purpose (`policy --set`),
                # or history keys came into use and it has none. Every tick would fail alike, so it stops and
                # says how to start it again
                self.errors += 1
                self.fatal = err
                log.error("stopping: %s", err)
                self.request_stop()
                return
            except StorageUnavailable as err:
                # an outage fails every tick until the database is back: say so once, not every few seconds
                self.errors += 1
                self._failing += 1
                if self._failing == 1:
                    log.warning("ticks fail while the database is unavailable (trying again every %g s): %s",
                                self.interval, err)
                return
            if self._failing:
                log.warning("the database is back after %d failed tick(s)", self._failing)
                self._failing = 0
            self.last_report = report
            if not report.stopped and not self._stopping.is_set():
                self.recompute_after_reload()
            self.ticks += 1  # counted once the tick's work is done, the recompute it owed included
        if self._digest_owed is not None and self._scheduler.running:
            # the database answers again: the digest it kept from going out is sent now, once
            self._scheduler.add_job(self.run_daily_digest, id="daily_digest:owed", replace_existing=True,
                                    max_instances=1, misfire_grace_time=None)
        if self._catch_ups_owed and self._scheduler.running:
            # and the catch-up at start it kept from checking what the deployment ran
            with self._owed_lock:
                owed_catch_ups = sorted(self._catch_ups_owed)
            self._scheduler.add_job(self.catch_up_recurring, args=(owed_catch_ups,), id="recurring:catch_up",
                                    replace_existing=True, max_instances=1, misfire_grace_time=None)
        if self._rounds_owed and self._scheduler.running:
            # and the recurring rounds it kept from starting
            self._scheduler.add_job(self.start_owed_rounds, id="recurring:owed", replace_existing=True,
                                    max_instances=1, misfire_grace_time=None)
        if report.fired or report.failed or report.dispatched:
            log.info("tick: %s", report)
        if report.stopped:
            log.info("stopping: %d claimed moment(s) released, the rest of the sweep left to other workers",
                     report.released)

    def recompute_after_reload(self) -> None:
        """Run by the tick job, at the first tick and after the engine took up changed calendar data (a year file
        added): recompute the provisional deadlines when the years the data covers are not those the database
        last recomputed for (engine.calendar_check.recompute_for_coverage), so a file added while no worker ran
        counts too. A database outage (or a command overtaking it) leaves it owed to a later tick, said once;
        another error is logged, and the next reload or start tries again. Several workers on one database may
        each run it: it is safe twice (engine.sweep)."""
        reloads = self.engine.calendar_guard.reloads
        if reloads == self._recomputed_for:
            return
        try:
            recomputed = recompute_for_coverage(self.engine)  # on the data in force: the guard has just read it
        except (StorageUnavailable, ConcurrentUpdate, DeadlinePolicyMismatch, HistoryKeysRequired) as err:
            # owed: the database answers again, or the next tick stops this worker for its policy or keys
            self.errors += 1
            if not self._recompute_failing:
                self._recompute_failing = True
                log.warning("the provisional deadlines are recomputed for the reloaded calendar data at a later "
                            "tick (one that reaches the database): %s", err)
            return
        except WorkflowError as err:
            self.errors += 1
            log.error("the provisional deadlines were not recomputed for the reloaded calendar data (tried again "
                      "at its next change; `Engine.recompute_provisional()` does it at once): %s", err)
        except Exception:  # a fault nobody foresaw: logged whole, and the worker goes on
            self.errors += 1
            log.exception("the recompute of the provisional deadlines for the reloaded calendar data failed")
        else:
            if recomputed is not None:
                log.info("calendar data covers %s: %d provisional clock(s) and timer(s) recomputed", *recomputed)
        self._recomputed_for = reloads
        self._recompute_failing = False

    def start_recurring(self, workflow_id: str) -> None:
        """The cron job: start the round of the workflow's cron moment that has just come (its latest); a second
        start in the period does nothing."""
        moment = self._latest_moment(workflow_id)
        if moment is not None:
            self.start_round(workflow_id, moment)

    def catch_up_recurring(self, workflow_ids: Iterable[str] | None = None) -> None:
        """At worker start: start each recurring workflow's round of its latest cron moment, which no worker
        started if none was running then (a start already made is a no-op). Only the latest period: a worker
        down for longer leaves the older rounds to a start by hand. A workflow the deployment did not run before
        that moment owes no round (`ran_before`): a first start leaves its latest past moment alone. A check the
        database kept from answering is made again when a tick reaches it."""
        for workflow_id in self._recurring if workflow_ids is None else list(workflow_ids):
            moment = self._latest_moment(workflow_id)
            if moment is None:
                continue
            try:
                owed = self.ran_before(workflow_id, moment)
            except StorageUnavailable as err:
                self.errors += 1
                with self._owed_lock:
                    news = not self._catch_ups_owed
                    self._catch_ups_owed.add(workflow_id)
                if news:
                    log.warning("the catch-up of the recurring rounds waits for the database (it is made once a "
                                "tick reaches the database again): %s", err)
                continue
            with self._owed_lock:
                self._catch_ups_owed.discard(workflow_id)
            if not owed:
                log.info("not caught up: the round of %s of %s, as the deployment did not run %s before its moment "
                         "(no instance of it had started by then)", workflow_id, beijing_text(moment), workflow_id)
                continue
            self.start_round(workflow_id, moment, late="no round of that moment had started when this worker "
                             "started (no worker ran then, or the database was unavailable)")

    def ran_before(self, workflow_id: str, moment: datetime) -> bool:
        """Whether the deployment ran `workflow_id` before `moment`, so that a worker down then owes its round:
        an instance of it started before then. A worker that ran through an earlier cron moment started that
        round, so its instance is there; a stored definition version proves no more, as a version is stored when
        an instance starts (or one is added by hand), not when a worker loads the file."""
        earliest = self.engine.list_instances(workflow_id=workflow_id, limit=1)  # ordered by start
        return bool(earliest) and earliest[0].created_at < moment

    def start_owed_rounds(self) -> None:
        """A tick reached the database again: start the rounds the outage kept from starting, each of its
        workflow's latest cron moment (an outage over more than one moment starts only the latest round)."""
        with self._owed_lock:
            owed_rounds = list(self._rounds_owed.items())
        for workflow_id, owed in owed_rounds:
            moment = self._latest_moment(workflow_id)
            if moment is None:
                continue
            if moment != owed:
                log.warning("the round of %s of %s was not started: the database was unavailable until after "
                            "its next cron moment, %s, whose round is started instead", workflow_id, beijing_text(owed),
                            beijing_text(moment))
            self.start_round(workflow_id, moment, late="the database was unavailable at that moment")

    def start_round(self, workflow_id: str, moment: datetime, *, late: str | None = None) -> None:
        """Start the round of `workflow_id` that fires at `moment`: its business key and variables (due dates
        among them) are that moment's, while the engine records the start, and starts its clocks, at its own
        now. `late` says why a round starts after its moment, for the log. Never raises: a database outage owes
        the round to the first tick that reaches the database again (said once per outage)."""
        try:
            key = self._start(workflow_id, moment)
        except StorageUnavailable as err:
            self.errors += 1
            if self._owe(workflow_id, moment):
                log.warning("the round of %s of %s waits for the database (it is started once a tick reaches "
                            "the database again): %s", workflow_id, beijing_text(moment), err)
            return
        self._settle(workflow_id, moment)  # started, found started, or refused for good
        if key is None:
            return
        if late is None:
            log.info("started %s %s", workflow_id, key)
        else:
            log.warning("caught up %s %s, the round of its cron moment %s (its variables are that moment's): %s",
                        workflow_id, key, beijing_text(moment), late)

    def _owe(self, workflow_id: str, moment: datetime) -> bool:
        """Keep the round of `moment` for the retry, unless one as late is kept already; whether that is news."""
        with self._owed_lock:
            owed = self._rounds_owed.get(workflow_id)
            if owed is not None and owed >= moment:
                return False
            self._rounds_owed[workflow_id] = moment
            return True

    def _settle(self, workflow_id: str, moment: datetime) -> None:
        """The round of `moment` is dealt with: a round owed for it or an earlier moment is owed no more (a later
        one, failed meanwhile in another job, still is)."""
        with self._owed_lock:
            owed = self._rounds_owed.get(workflow_id)
            if owed is not None and owed <= moment:
                del self._rounds_owed[workflow_id]

    def _start(self, workflow_id: str, moment: datetime) -> str | None:
        """The business key of the round started at `moment`; None, logged, when it is started already (another
        worker, an earlier run) or cannot start (an error of the definition or of a plug-in: the worker goes on)."""
        spec = self.engine.definitions.get(workflow_id).spec
        try:
            key = recurring_business_key(spec, moment)
            self.engine.start(workflow_id, key, recurring_variables(spec, moment), Actor.system())
        except DuplicateBusinessKey as err:
            log.info("%s %s already started", workflow_id, err.business_key)
            return None
        except StorageUnavailable:
            raise  # owed, by start_round
        except WorkflowError as err:
            self.errors += 1
            log.warning("the round of %s of %s was not started: %s", workflow_id, beijing_text(moment), err)
            return None
        except Exception:  # a fault of a hook or directory plug-in: logged whole, and the worker goes on
            self.errors += 1
            log.exception("the round of %s of %s failed to start", workflow_id, beijing_text(moment))
            return None
        return key

    def _latest_moment(self, workflow_id: str) -> datetime | None:
        recurring = self.engine.definitions.get(workflow_id).spec.recurring
        assert recurring is not None
        return latest_fire_time(recurring.cron, self.engine.clock.now())

    def catch_up_due(self, now: datetime | None = None) -> bool:
        """Whether a worker starting at `now` sends today's digest at once: its time of day has passed already
        (the run itself skips a day off; the dedupe key makes a digest another worker sent a no-op)."""
        if self.daily_digest is None:
            return False
        moment = now if now is not None else self.engine.clock.now()
        return moment.astimezone(SHANGHAI).time() >= self.daily_digest.at

    def run_daily_digest(self) -> DigestRun | None:
        """Enqueue today's overdue lists (on a working day); log what happened, never raise: an error of the
        digest must not stop the worker. A database outage is said once and the digest is sent when a tick
        reaches the database again (the same day)."""
        if self.daily_digest is None:
            return None
        now = self.engine.clock.now()
        today = now.astimezone(SHANGHAI).date()
        owed, self._digest_owed = self._digest_owed, None
        if owed is not None and owed != today:
            log.warning("the daily digest of %s was not sent: the database was unavailable until %s", owed, today)
            if not self.catch_up_due(now):
                return None  # today's goes out at its time
        try:
            run = send_daily_digest(self.engine, self.daily_digest.directory, now)
        except StorageUnavailable as err:
            self.errors += 1
            self._digest_owed = today
            if owed != today:  # said once per outage, not again at each retry
                log.warning("the daily digest of %s waits for the database (it is sent once a tick reaches the "
                            "database again): %s", today, err)
            return None
        except WorkflowError as err:
            self.errors += 1
            log.warning("the daily digest of %s was not sent: %s", today, err)
            return None
        except Exception:  # a fault of a directory or template plug-in: logged whole, and the worker goes on
            self.errors += 1
            log.exception("the daily digest of %s failed", today)
            return None
        self.last_digest = run
        guess = f" ({run.day.year} has no calendar data: a guess from weekends and fixed-date holidays)" \
            if run.guessed else ""
        if not run.working_day:
            log.info("no daily digest on %s: not a working day%s", run.day, guess)
        else:
            log.info("daily digest of %s: %d overdue case(s), %d new message(s)%s", run.day, run.overdue,
                     run.enqueued, guess)
        return run

    def run_horizon(self) -> HorizonRun | None:
        """Look at how far the calendar data reaches (engine.horizon_job); log what it found, never raise: a
        missing year must be told, not stop the worker. Notices that the database refuses come at the next look
        (the next day, or the next start)."""
        if self.horizon is None:
            return None
        try:
            run = look_ahead(self.engine, self.horizon)
        except StorageUnavailable as err:
            self.errors += 1
            log.warning("the calendar notice waits for the next look (tomorrow or the next start): %s", err)
            return None
        except WorkflowError as err:
            self.errors += 1
            log.warning("the calendar's reach was not checked: %s", err)
            return None
        except Exception:  # a fault of a directory plug-in: logged whole, and the worker goes on
            self.errors += 1
            log.exception("the calendar's reach could not be checked")
            return None
        self.last_horizon = run
        if run.enqueued:
            log.info("calendar notice of %s: %d new message(s)", run.day, run.enqueued)
        return run

    def _on_error(self, event: JobExecutionEvent) -> None:
        self.errors += 1
        level = logging.WARNING if isinstance(event.exception, WorkflowError) else logging.ERROR
        log.log(level, "job %s failed: %s", event.job_id, event.exception)

    def start(self) -> None:
        self._scheduler.start()
        if self._recurring:  # a round whose moment passed while no worker ran: started now, once
            self._scheduler.add_job(self.catch_up_recurring, id="recurring:catch_up", max_instances=1,
                                    misfire_grace_time=None)
        if self.horizon is not None:  # a worker started in December says at once that next year is missing
            self._scheduler.add_job(self.run_horizon, id="calendar_horizon:start", max_instances=1,
                                    misfire_grace_time=None)
        if self.catch_up_due():  # started after today's time: today's digest now (a day off sends nothing)
            self._scheduler.add_job(self.run_daily_digest, id="daily_digest:catch_up", max_instances=1,
                                    misfire_grace_time=None)

    def request_stop(self) -> None:
        """Ask a running tick to end after the moment in hand, and no tick to start; safe in a signal handler."""
        self._stopping.set()

    def stop(self, wait: bool = True) -> None:
        """Stop ticking; with `wait`, once the tick in hand has ended, record in the database that this worker
        stopped on purpose, so that `cli.py health` tells a stopped worker from a lost one (not after a `fatal`
        error: that worker did not stop on purpose, and starting it again as it was would fail alike)."""
        self.request_stop()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        if wait and self.fatal is None:  # a worker that cannot go on did not stop on purpose: its log says why
            try:
                self.engine.record_stop()
            except WorkflowError as err:  # the database is away: health will say the worker was lost, not stopped
                log.warning("the worker's stop was not recorded in the database: %s", err)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)
