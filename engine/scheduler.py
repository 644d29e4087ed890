"""The worker's scheduler: APScheduler 3.x calls `engine.tick()` every few seconds and starts recurring
procedures on their cron schedules. The only module that imports apscheduler."""

from __future__ import annotations

import logging
import math
import re
import threading
from datetime import datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine.clock import SHANGHAI
from engine.errors import DuplicateBusinessKey, PayloadInvalid, StorageUnavailable, WorkflowError
from engine.periods import recurring_variables
from engine.ports import Actor
from engine.runtime import Engine
from engine.views import TickReport

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{\{\s*(year|month|day|date|quarter|half)\s*\}\}")


def recurring_key(template: str, moment: datetime) -> str:
    """The business key of a recurring start: `{{ year }}`, `{{ month }}` (two digits), `{{ day }}`,
    `{{ date }}`, `{{ quarter }}` and `{{ half }}` of the fire time in Asia/Shanghai."""
    local = moment.astimezone(SHANGHAI)
    values = {
        "year": f"{local.year}", "month": f"{local.month:02d}", "day": f"{local.day:02d}",
        "date": local.date().isoformat(), "quarter": f"{(local.month - 1) // 3 + 1}",
        "half": "1" if local.month <= 6 else "2",
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


class EngineScheduler:
    """Runs `engine.tick()` every `interval` seconds (never two at once) and the recurring starts.

    `start()` returns at once; `stop()` waits for a running tick to finish, so a SIGTERM never cuts one.
    """

    def __init__(self, engine: Engine, *, interval: float = 5.0, recurring: bool = True) -> None:
        if not (isinstance(interval, int | float) and math.isfinite(interval) and interval > 0):
            # a zero or negative interval makes every tick due at once: the scheduler spins and never idles
            raise PayloadInvalid("interval", "a positive number of seconds", interval, where="EngineScheduler")
        self.engine = engine
        self.interval = interval
        self.last_report: TickReport | None = None
        self.ticks = 0
        self.errors = 0
        self._failing = 0  # ticks failed in a row for want of the database
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(timezone=SHANGHAI)
        self._scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        self._scheduler.add_job(self._tick, IntervalTrigger(seconds=interval), id="tick", max_instances=1,
                                coalesce=True, next_run_time=datetime.now(SHANGHAI))
        if recurring:
            self._add_recurring()

    def _add_recurring(self) -> None:
        definitions: Any = self.engine.definitions
        for compiled in list(definitions) if hasattr(definitions, "__iter__") else []:
            spec = compiled.spec
            if spec.recurring is None:
                continue
            trigger = CronTrigger.from_crontab(spec.recurring.cron, timezone=SHANGHAI)
            self._scheduler.add_job(self.start_recurring, trigger, args=(spec.id,), id=f"recurring:{spec.id}",
                                    max_instances=1, coalesce=True)
            log.info("recurring start of %s on %r", spec.id, spec.recurring.cron)

    def _tick(self) -> None:
        with self._lock:
            try:
                report = self.engine.tick()
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
            self.ticks += 1
        if report.fired or report.failed or report.dispatched:
            log.info("tick: %s", report)

    def start_recurring(self, workflow_id: str) -> None:
        """Start the recurring workflow for the current period; a second start in the period does nothing."""
        spec = self.engine.definitions.get(workflow_id).spec
        assert spec.recurring is not None
        now = self.engine.clock.now()
        key = recurring_key(spec.recurring.business_key, now)
        try:
            self.engine.start(workflow_id, key, recurring_variables(spec, now), Actor.system())
            log.info("started %s %s", workflow_id, key)
        except DuplicateBusinessKey:
            log.info("%s %s already started", workflow_id, key)  # another worker was first

    def _on_error(self, event: JobExecutionEvent) -> None:
        self.errors += 1
        level = logging.WARNING if isinstance(event.exception, WorkflowError) else logging.ERROR
        log.log(level, "job %s failed: %s", event.job_id, event.exception)

    def start(self) -> None:
        self._scheduler.start()

    def stop(self, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)
