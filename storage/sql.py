"""`SqlInstanceStore`: the engine's storage on SQLite (WAL, one file) or PostgreSQL, through SQLAlchemy Core.

Core rather than ORM sessions on purpose: a command is a handful of single-row statements, and the ORM's
unit of work costs far more than the statements themselves. Driver errors never leave this module raw.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, false, func, or_, select, true, union_all, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import RowOutOfDate, StorageUnavailable, WorkflowError
from engine.store import (
    ClockView,
    HistoryEntry,
    InstanceHistory,
    InstanceQuery,
    InstanceView,
    PauseEntry,
    Setting,
    StoredDefinition,
    TimerView,
)
from storage.backlog import Backlog, read_backlog
from storage.diskfull import disk_full
from storage.histories import history_page
from storage.remembered import RememberedRows
from storage.rows import clock_view, history_entry, instance_view, pause_entry, timer_view
from storage.sqlite_params import bind_plainly
from storage.tables import (
    clock_t,
    definition_t,
    deployment_setting_t,
    history_key_t,
    history_t,
    instance_t,
    pause_t,
    steps_of,
    timer_t,
    worker_t,
)
from storage.tx import Moments, SqlStoreTx, listed_clocks
from storage.walsync import WalFlusher
from storage.workers import record_stop, record_tick

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The instance rows a store keeps of those its commands committed last (storage.remembered): a few MB at most,
#: and more than the cases a backend moves on within minutes of each other.
REMEMBER = 2000


def database_url(target: str) -> str:
    """A SQLAlchemy URL from a URL or a plain SQLite file path (`shixian.db`)."""
    if "://" in target:
        if target.startswith("postgresql://") or target.startswith("postgres://"):
            return "postgresql+psycopg://" + target.split("://", 1)[1]
        return target
    return f"sqlite:///{target}"



def shown_url(url: str) -> str:
    """A database URL as messages and logs may show it: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: hide whatever stands between ':' and '@' after the scheme
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def driver_reason(err: BaseException) -> str:
    """The driver's own first line of an error, without SQLAlchemy's statement and link (or the error's type,
    when it says nothing)."""
    cause = getattr(err, "orig", None) or err
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def _switch_to_wal(cur: Any, patience: float = 60.0) -> None:
    """Put the database in WAL mode, waiting out another process that is switching or creating the same file.

    SQLite answers a journal-mode change that races another connection's with "database is locked" at once,
    without its busy handler, so the wait happens here, bounded by `patience` seconds.
    """
    deadline = time.monotonic() + patience
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

class SqlInstanceStore:
    """The `engine.store.InstanceStore` on SQLAlchemy Core; the schema is migrated up to date when opened."""

    def __init__(self, target: str, *, migrate: bool = True, synchronous: str = "NORMAL", pool_size: int = 5,
                 wal_sync_thread: bool = True, snapshot: bool = False, remember: int = REMEMBER) -> None:
        """`snapshot` reads a SQLite file that cannot be written here as it stands (see storage.snapshot): never
        migrated, and refused unless its schema is this version's. `remember`: how many of the instance rows its
        commands committed last the store keeps, so the next command on one of them skips its read
        (storage.remembered); 0 reads every instance from the database."""
        self.url = database_url(target)
        try:
            url = make_url(self.url)
            self.dialect = url.get_backend_name()
            self.engine: Engine
            if snapshot:
                if self.dialect != "sqlite" or url.database in (None, "", ":memory:"):
                    raise StorageUnavailable("only a SQLite file can be read as a snapshot")
                from storage.snapshot import snapshot_connect

                self.engine = create_engine("sqlite://", creator=snapshot_connect(Path(url.database)),
                                            pool_reset_on_return=None)
            elif self.dialect == "sqlite":
                bind_plainly()
                kwargs: dict[str, Any] = {"connect_args": {"timeout": 60, "check_same_thread": False}}
                if url.database in (None, "", ":memory:"):
                    raise StorageUnavailable("an in-memory SQLite database cannot be shared; give a file path")
                # no rollback when a connection goes back to the pool: every transaction ends in commit or
                # rollback already, and the extra call costs a measurable share of a small command
                self.engine = create_engine(url, pool_reset_on_return=None, **kwargs)
                sync = synchronous.upper()

                @event.listens_for(self.engine, "connect")
                def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                    cur = dbapi_conn.cursor()
                    cur.execute("PRAGMA busy_timeout=60000")
                    _switch_to_wal(cur)
                    cur.execute(f"PRAGMA synchronous={sync}")
                    # a page cache big enough for the hot pages of the indexes (16 MB, bounded); the WAL file is
                    # cut back after each checkpoint. Neither a memory map nor in-memory temp tables: both made a
                    # worker's memory grow with the size of the database (a DISTINCT over 1,000,000 instances)
                    cur.execute("PRAGMA cache_size=-16000")
                    cur.execute("PRAGMA journal_size_limit=67108864")
                    # a checkpoint every 4,000 pages (16 MB of WAL) rather than 1,000: each one costs two fsyncs
                    # and a copy of every page changed since the last, and the hot pages of the indexes are
                    # changed again and again, so fewer checkpoints copy far fewer pages in all (the commits'
                    # mean time fell by about a third, measured on the approval workload)
                    cur.execute("PRAGMA wal_autocheckpoint=4000")
                    cur.close()

                @event.listens_for(self.engine, "handle_error")
                def _file_fault_breaks(ctx: Any) -> None:
                    # a connection that met a fault of the file keeps its broken state after the file is well
                    # again ("attempt to write a readonly database"): treated as a lost connection, it and the
                    # pool's others are replaced (for the claims and reads that run through SQLAlchemy)
                    if _sqlite_file_fault(ctx.original_exception):
                        ctx.is_disconnect = True
            else:
                self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as err:
            shown = shown_url(self.url)
            raise StorageUnavailable(f"cannot open {shown}: {str(err).replace(self.url, shown)}") from err
        self._dbapi: Any = self.engine.dialect.dbapi  # the driver's module: its errors are caught by name
        self._spare: list[Any] = []  # at most one connection kept out of the pool, for the next command
        # a server's connection kept idle longer than this goes back through the pool, whose ping replaces one
        # the server dropped meanwhile (a restart): a backend's first command after it must not fail for that
        self.spare_ping_after: float | None = None if self.dialect == "sqlite" else SPARE_PING_AFTER
        self._monotonic: Callable[[], float] = time.monotonic
        self._spare_since = 0.0
        # NORMAL leaves the log unsynced until a checkpoint: sync it in the background as it grows (FULL syncs
        # at every commit already, OFF never wants a sync); `wal_sync_thread=False` leaves it to SQLite alone
        self._wal = (WalFlusher(os.path.abspath(str(url.database)) + "-wal")
                     if self.dialect == "sqlite" and synchronous.upper() == "NORMAL" and wal_sync_thread
                     and not snapshot else None)
        self._moments = Moments(self.dialect)
        self.remembered = RememberedRows(remember) if remember and not snapshot else None
        self._snapshot = snapshot
        self._closed = False
        # the SQLite file this store writes, as (device, inode): a file removed or replaced under an open store
        # would take every later commit with it, to an inode nobody can open again
        self._path = os.path.abspath(str(url.database)) if self.dialect == "sqlite" else None
        self._file_id: tuple[int, int] | None = None
        try:
            if snapshot:
                self._guard(self._require_current_schema)
            elif migrate:
                from storage.migrate import upgrade

                self._guard(lambda: upgrade(self.engine))
        except BaseException:
            self.engine.dispose()  # a store refused at opening keeps no connection, nor the file, open
            raise

    def _require_current_schema(self) -> None:
        from storage.migrate import schema_is_current

        if not schema_is_current(self.engine):
            raise StorageUnavailable(f"{self._path} holds an older schema than this version of the engine, and it "
                                     "cannot be written here to bring it up to date; open it once where it can be "
                                     "written (any command does), then copy it again")

    @property
    def wal_flusher(self) -> WalFlusher | None:
        """The thread that syncs a SQLite log in the background (synchronous=NORMAL only), else None."""
        return self._wal

    # -- transactions ---------------------------------------------------------------------------------

    def transaction(self) -> CommandTransaction:
        """One command's transaction on a DBAPI connection: committed on success, else rolled back."""
        return CommandTransaction(self, self.remembered)

    def _take(self) -> Any:
        """A DBAPI connection for a command: the one kept from the last command, else one from the pool.

        Checking a connection out of the pool and in again (and, on PostgreSQL, pinging it) for every command
        cost more than a small command's own statements.
        """
        try:
            raw = self._spare.pop()  # list.pop is atomic: two threads never get the same connection
        except IndexError:
            return self._checkout()
        ping_after = self.spare_ping_after
        if ping_after is not None and self._monotonic() - self._spare_since > ping_after:
            raw.close()  # back to the pool
            return self._checkout()
        return raw

    def _checkout(self) -> Any:
        dbapi = self._dbapi
        try:
            return self.engine.raw_connection()
        except (SQLAlchemyError, dbapi.Error) as err:  # a refused connection comes from the driver, unwrapped
            raise self._unavailable(err) from err

    def _unavailable(self, err: BaseException, *, outcome_unknown: bool = False) -> StorageUnavailable:
        """The error a driver's `err` is to the caller: DiskFull, saying where, when the SQLite file's disk is
        full (SQLite calls it a disk I/O error when the file opens), else StorageUnavailable with its first line."""
        full = disk_full(err, self._path)
        if full is not None:
            return full
        return StorageUnavailable(str(err).splitlines()[0], outcome_unknown=outcome_unknown)

    def _committed(self, raw: Any, cursor: Any, wrote: bool) -> None:
        if wrote and self._wal is not None:
            self._wal.committed()
        self._release(raw, cursor, False)

    def _failed(self, raw: Any, cursor: Any, err: BaseException, committing: bool = False) -> None:
        """Roll back after `err`; a connection that failed is invalidated, so the next command takes a fresh one.

        Raises `StorageUnavailable` for a driver error; any other error is the caller's to raise. A server's
        connection that broke during the commit itself leaves the outcome unknown (the server may have
        committed before the answer was lost); SQLite's commit is local, so its failure changed nothing.
        """
        dbapi = self._dbapi
        broken = isinstance(err, dbapi.OperationalError | dbapi.InterfaceError)
        try:
            raw.rollback()
        except dbapi.Error:  # a lost connection: the server drops the transaction itself
            broken = True
        self._release(raw, cursor, broken)
        if isinstance(err, dbapi.Error):
            unknown = committing and self.dialect != "sqlite"
            raise self._unavailable(err, outcome_unknown=unknown) from err

    def _release(self, raw: Any, cursor: Any, broken: bool) -> None:
        """Close the command's cursor; keep the connection for the next command, or invalidate a broken one."""
        try:
            cursor.close()
        except Exception:  # a cursor of a lost connection: nothing is left to close
            broken = True
        if broken:
            _invalidate(raw)
        else:
            self._put_back(raw)

    def _put_back(self, raw: Any) -> None:
        if self._spare or self._closed:
            raw.close()  # back to the pool
        else:
            self._spare_since = self._monotonic()
            self._spare.append(raw)

    def _check_file(self) -> None:
        """Refuse to go on with a SQLite file that was removed or replaced since this store first used it."""
        if self._path is None:
            return
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            if self._file_id is None:
                return  # not created yet: SQLite creates it at the first connection
            raise StorageUnavailable(f"the database file {self._path} was removed while the engine had it open; "
                                     "restore it from a backup and restart the engine") from None
        found = (st.st_dev, st.st_ino)
        if self._file_id is None:
            self._file_id = found
        elif found != self._file_id:
            raise StorageUnavailable(f"the database file {self._path} was replaced while the engine had it open; "
                                     "stop every engine process on it, check the file is the one wanted (its -wal "
                                     "file belongs to the old one), then start them again")

    def _guard(self, fn: Callable[[], T]) -> T:
        self._check_file()
        try:
            return fn()
        except WorkflowError:
            raise
        except SQLAlchemyError as err:
            raise self._unavailable(err) from err

    def _read(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return self._guard(run)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """`fn` in a transaction of its own, committed when it returns; database errors as for `_read`."""
        def run() -> T:
            with self.engine.begin() as conn:
                return fn(conn)

        return self._guard(run)

    # -- timers ---------------------------------------------------------------------------------------

    def claim_timers(self, now: datetime, worker: str, lease_seconds: float, limit: int) -> list[TimerView]:
        """Claim due timers; on PostgreSQL rows another worker holds are skipped (FOR UPDATE SKIP LOCKED)."""
        c = timer_t.c
        due = (c.status == "pending") & (c.fire_at <= now) & or_(c.claim_expires_at.is_(None), c.claim_expires_at < now)
        rows = self._claim(timer_t, due, c.fire_at, worker, now + timedelta(seconds=lease_seconds), limit)
        return sorted((timer_view(r) for r in rows), key=lambda t: (t.fire_at, t.id))

    def claim_clocks(self, now: datetime, worker: str, lease_seconds: float, limit: int) -> list[ClockView]:
        """Claim open clocks whose next moment is due, as `claim_timers` does timers."""
        c = clock_t.c
        due = (c.next_fire_at <= now) & or_(c.claim_expires_at.is_(None), c.claim_expires_at < now)
        rows = self._claim(clock_t, due, c.next_fire_at, worker, now + timedelta(seconds=lease_seconds), limit)
        return sorted((clock_view(r) for r in rows), key=lambda k: (k.next_fire_at, k.id))

    def _claim(self, table: Any, due: Any, order: Any, worker: str, until: datetime, limit: int) -> list[Any]:
        """Mark up to `limit` due rows of `table` as this worker's until `until`, and return them.

        On PostgreSQL the pick locks its rows and skips those another worker holds (FOR UPDATE SKIP LOCKED); the
        update repeats the due condition, so a row claimed elsewhere in between is left alone on SQLite too.
        """
        token = f"{worker[:40]}:{uuid.uuid4().hex[:16]}"

        def claim(conn: Connection) -> list[Any]:
            pick = select(table.c.id).where(due).order_by(order).limit(limit)
            if self.dialect == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            ids = list(conn.execute(pick).scalars())
            if not ids:
                return []
            return list(conn.execute(
                update(table)
                .where(table.c.id.in_(ids) & due)
                .values(claimed_by=token, claim_expires_at=until)
                .returning(*table.c)
            ).all())

        return self._write(claim)

    def release_clock(self, clock_id: int, moment: datetime, retry_at: datetime | None, attempts: int,
                      error: str | None) -> None:
        """Put a claimed clock's moment back for a try at `retry_at`. The moment itself stays as it is: a command
        that pauses or stops the clock meanwhile must see that it is due (the wait is a claim nobody holds). A
        clock a command moved on since the claim only loses the claim: its new moment waits for no back-off."""
        c = clock_t.c

        def release(conn: Connection) -> None:
            kept = conn.execute(
                update(clock_t)
                .where((c.id == clock_id) & (c.next_fire_at == moment))
                .values(claimed_by=None, claim_expires_at=retry_at, fire_attempts=attempts, last_error=error)
            )
            if kept.rowcount == 0:
                conn.execute(
                    update(clock_t)
                    .where((c.id == clock_id) & c.next_fire_at.is_not(None))
                    .values(claimed_by=None, claim_expires_at=None)
                )

        self._write(release)

    def release_timer(self, timer_id: int, fire_at: datetime, attempts: int, error: str | None) -> None:
        """Put a claimed timer back for a later try (after a failure), keeping the error."""

        self._write(lambda conn: conn.execute(
            update(timer_t)
            .where((timer_t.c.id == timer_id) & (timer_t.c.status == "pending"))
            .values(fire_at=fire_at, attempts=attempts, last_error=error, claimed_by=None, claim_expires_at=None)
        ))

    # -- queries --------------------------------------------------------------------------------------

    def get_instance(self, instance_id: str) -> InstanceView | None:
        """An instance as stored, read with the commands' own statement (a backend reads far more than it
        writes, and SQLAlchemy's statement building cost ten times the read itself)."""
        with CommandTransaction(self, None) as tx:  # what the database holds, not what this process wrote
            return tx.get_instance(instance_id)

    def find_instance(self, workflow_id: str, business_key: str) -> InstanceView | None:
        """The instance holding a business key, read as `get_instance` reads (on a connection of its own when a
        command holds the kept one)."""
        with self.transaction() as tx:
            return tx.find_instance(workflow_id, business_key)

    def history(self, instance_id: str) -> list[HistoryEntry]:
        """The instance's steps in order: the range of history keys its ordinal owns."""
        i = instance_t.c
        stmt = (select(history_t).select_from(instance_t.join(history_t, steps_of(i.ordinal)))
                .where(i.id == instance_id).order_by(history_t.c.hid))
        return self._read(lambda conn: [history_entry(r) for r in conn.execute(stmt) if r.instance_id == instance_id])

    def histories(self, workflow_id: str | None = None, batch: int = 200) -> Iterator[InstanceHistory]:
        """Page through the instances by id, `batch` at a time, each page read with its steps in one statement.

        One statement per page, not two: an instance read apart from its steps could meet a command that wrote a
        step in between, and its last hash would then seem to lack a step (both databases give one statement a
        single snapshot). The page is picked by key (id after the last one seen), so each costs the same however
        far the walk has gone."""
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        after: str | None = None
        while True:
            page = self._read(partial(history_page, workflow_id=workflow_id, after=after, limit=batch))
            yield from page
            if len(page) < batch:
                return
            after = page[-1].instance_id

    def clocks(self, instance_id: str) -> list[ClockView]:
        """Every clock of the instance, oldest first: those its row lists (see `storage.tx`), read by key."""
        c = clock_t.c

        def read(conn: Connection) -> list[ClockView]:
            listed = conn.execute(select(instance_t.c.clock_ids).where(instance_t.c.id == instance_id)).scalar()
            return sorted((clock_view(r) for r in _rows_by_key(conn, clock_t, c.id, listed_clocks(listed))),
                          key=lambda clock: clock.id)

        return self._read(read)

    def pauses(self, clock_id: int) -> list[PauseEntry]:
        c = pause_t.c
        return self._read(
            lambda conn: [
                pause_entry(r) for r in conn.execute(select(pause_t).where(c.clock_id == clock_id).order_by(c.id))
            ]
        )

    def timers(self, instance_id: str) -> list[TimerView]:
        c = timer_t.c
        return self._read(
            lambda conn: [
                timer_view(r) for r in conn.execute(select(timer_t).where(c.instance_id == instance_id).order_by(c.id))
            ]
        )

    def list_instances(self, query: InstanceQuery) -> list[InstanceView]:
        c = instance_t.c
        stmt = select(instance_t)
        if query.workflow_id is not None:
            stmt = stmt.where(c.workflow_id == query.workflow_id)
        if query.status is not None:
            stmt = stmt.where(c.status == query.status)
        if query.state is not None:
            stmt = stmt.where(c.state == query.state)
        if query.business_key_prefix:
            stmt = stmt.where(c.business_key.startswith(query.business_key_prefix, autoescape=True))
        for name, value in query.variable_equals.items():
            # the stored JSON value's type must match too, on both databases alike: `False` finds `false`, not
            # `0` or the text "false"; `7` finds the number 7, not the text "7"
            sqlite_type, pg_type, text = _json_kind(value)
            if self.dialect == "postgresql":
                doc = func.cast(c.variables, _json_type())
                stmt = stmt.where((func.json_typeof(doc.op("->")(name)) == pg_type) & (doc.op("->>")(name) == text))
            else:
                path = f'$."{name}"'  # names are checked by the engine: lower-case letters, digits and _
                # json_extract gives true/false as 1/0 and numbers as numbers
                extracted = value if isinstance(value, str) else int(value)
                stmt = stmt.where((func.json_type(c.variables, path) == sqlite_type)
                                  & (func.json_extract(c.variables, path) == extracted))
        stmt = stmt.order_by(c.created_at, c.id).limit(query.limit).offset(query.offset)
        return self._read(lambda conn: [instance_view(r) for r in conn.execute(stmt)])

    def overdue_clocks(self, now: datetime, limit: int, workflow_id: str | None = None,
                       offset: int = 0) -> list[tuple[ClockView, InstanceView]]:
        """Clocks still open whose due time has come, each with its instance, the most overdue first (of one
        workflow's instances); ordered by due time and clock id, so that pages taken with `offset` follow on.
        A paused clock stands still and its due time will move on, so it is overdue only if it was late before
        its pause.

        Two statements in one read: the clocks, then their instances by key. A join would let the planner start
        from the workflow's instances, all of them, and sort. The clocks come from two indexes, merged in order:
        - the breached ones still open, from their own index;
        - the running ones past due that no tick has caught yet. The database holds every such clock armed at
          or before its due time (`ck_sla_clock_next_by_due`), so they are among the clocks due to the worker,
          in the next-moment index: as few as the worker's backlog."""
        c, i = clock_t.c, instance_t.c
        late = c.stopped_at.is_(None) & (c.due_at <= now)
        breached = select(clock_t).where(late & (c.breached == true()))
        uncaught = select(clock_t).where((c.next_fire_at <= now) & late & (c.breached == false())
                                         & (c.status != "paused"))
        if workflow_id is not None:  # filtered before the limit, so that other workflows do not crowd it out
            of_workflow = select(i.id).where((i.id == c.instance_id) & (i.workflow_id == workflow_id)).exists()
            breached, uncaught = breached.where(of_workflow), uncaught.where(of_workflow)
        stmt = union_all(breached, uncaught).order_by("due_at", "id").limit(limit).offset(offset)

        def read(conn: Connection) -> list[tuple[ClockView, InstanceView]]:
            clocks = [clock_view(r) for r in conn.execute(stmt)]
            wanted = list({clock.instance_id for clock in clocks})
            instances = {r.id: instance_view(r) for r in _rows_by_key(conn, instance_t, i.id, wanted)}
            return [(clock, instances[clock.instance_id]) for clock in clocks if clock.instance_id in instances]

        return self._read(read)

    def backlog(self, now: datetime) -> Backlog:
        """What is due at `now` and not yet done (storage.backlog): the figures `cli.py health` judges."""
        return self._read(lambda conn: read_backlog(conn, now))

    def record_tick(self, token: str, worker_id: str, at: datetime, *, first: bool = False) -> None:
        """Record that the worker process drawing `token`, named `worker_id`, ticks this database at `at`
        (storage.workers); a read-only copy records nothing."""
        if not self._snapshot:
            insert = self._dialect_insert(worker_t)
            self._write(lambda conn: record_tick(conn, insert, token, worker_id, at, first=first))

    def record_worker_stop(self, token: str, at: datetime) -> None:
        """Record that the worker process drawing `token` stopped on purpose at `at`."""
        if not self._snapshot:
            self._write(lambda conn: record_stop(conn, token, at))

    def provisional_clocks(self) -> Iterator[ClockView]:
        c = clock_t.c
        # the terms of `ix_sla_clock_provisional`'s WHERE, as SQLite must see them to read it
        stmt = select(clock_t).where(c.stopped_at.is_(None) & (c.provisional == true())).order_by(c.id)
        return iter(self._read(lambda conn: [clock_view(r) for r in conn.execute(stmt)]))

    def provisional_timers(self) -> list[TimerView]:
        """Timer transitions not yet fired whose moment was counted on a year without data."""
        c = timer_t.c
        stmt = (select(timer_t).where(c.provisional.is_(True) & c.status.in_(("pending", "held")))
                .order_by(c.id))
        return self._read(lambda conn: [timer_view(r) for r in conn.execute(stmt)])

    # -- definitions ----------------------------------------------------------------------------------

    def save_definition(self, definition: StoredDefinition) -> None:
        """Keep a version's source; saving a version already stored changes nothing."""
        from datetime import UTC

        self._insert_once(definition_t, ["workflow_id", "version"], workflow_id=definition.workflow_id,
                          version=definition.version, source=definition.source,
                          source_path=definition.source_path, created_at=datetime.now(UTC))

    def save_history_key(self, key_id: str, at: datetime) -> None:
        self._insert_once(history_key_t, ["id"], id=key_id, first_sealed_at=at)

    def _insert_once(self, table: Any, key: list[str], **values: Any) -> bool:
        """Insert a row in a transaction of its own, unless a row with the same `key` columns is there already
        (also one another process inserts meanwhile, which the insert waits for); True when this one inserted."""
        stmt = (self._dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=key)
                .returning(*(table.c[name] for name in key)))  # a row back: this one inserted (rowcount may be -1)

        return self._write(lambda conn: conn.execute(stmt).first() is not None)

    def _dialect_insert(self, table: Any) -> Any:
        """The database's own INSERT, which has ON CONFLICT (both SQLite's and PostgreSQL's)."""
        from sqlalchemy.dialects import postgresql, sqlite

        module: Any = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(table)

    # -- deployment settings --------------------------------------------------------------------------

    def setting(self, name: str) -> Setting | None:
        c = deployment_setting_t.c
        row = self._read(lambda conn: conn.execute(select(deployment_setting_t).where(c.name == name)).first())
        return Setting(row.name, row.value, row.set_at) if row is not None else None

    def record_setting(self, name: str, value: str, at: datetime) -> bool:
        """Record the setting unless one is there (a read-only copy records nothing): see engine.store."""
        if self._snapshot:
            return False
        return self._insert_once(deployment_setting_t, ["name"], name=name, value=value, set_at=at)

    def replace_setting(self, name: str, value: str, at: datetime) -> Setting | None:
        """Replace the setting in one transaction, which locks its row: answers the one it replaced."""
        c = deployment_setting_t.c
        stmt = self._dialect_insert(deployment_setting_t).values(name=name, value=value, set_at=at)
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value, "set_at": at})
        pick = select(deployment_setting_t).where(c.name == name)
        if self.dialect == "postgresql":
            pick = pick.with_for_update()

        def run() -> Setting | None:
            with self.engine.begin() as conn:
                if self.dialect == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before the read, as a migration takes it
                before = conn.execute(pick).first()
                conn.execute(stmt)
            return Setting(before.name, before.value, before.set_at) if before is not None else None

        return self._guard(run)

    def history_keys(self) -> dict[str, datetime]:
        c = history_key_t.c
        return self._read(lambda conn: {r.id: r.first_sealed_at for r in conn.execute(select(c.id, c.first_sealed_at))})

    def definitions_in_use(self) -> list[StoredDefinition]:
        """The stored versions that instances not yet finished still run on."""
        d, i = definition_t.c, instance_t.c
        used = select(i.workflow_id, i.version).where(i.status.in_(("running", "suspended"))).distinct().subquery()
        stmt = select(definition_t).join(
            used, (d.workflow_id == used.c.workflow_id) & (d.version == used.c.version)
        )
        return self._read(
            lambda conn: [
                StoredDefinition(r.workflow_id, r.version, r.source, r.source_path) for r in conn.execute(stmt)
            ]
        )

    def stored_definitions(self) -> list[StoredDefinition]:
        return self._read(
            lambda conn: [
                StoredDefinition(r.workflow_id, r.version, r.source, r.source_path)
                for r in conn.execute(select(definition_t))
            ]
        )

    def close(self) -> None:
        self._closed = True
        if self._wal is not None:
            self._wal.close()
        while self._spare:
            with suppress(Exception):
                self._spare.pop().close()
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlInstanceStore({self.engine.url.render_as_string(hide_password=True)!r})"


class CommandTransaction:
    """The context of one command: `with store.transaction() as tx:` commits at the end or rolls back.

    A plain context manager rather than a generator one: it is entered for every command, and a generator's
    frame and throw-in cost more than the two methods here.
    """

    __slots__ = ("_conn", "_cursor", "_raw", "_remembered", "_store", "_tx")

    def __init__(self, store: SqlInstanceStore, remembered: RememberedRows | None) -> None:
        self._store = store
        self._remembered = remembered

    def __enter__(self) -> SqlStoreTx:
        store = self._store
        store._check_file()
        self._raw = raw = store._take()
        # a fresh cursor each time, straight from the driver's connection: closing it ends its statements, so
        # no read snapshot outlives the command
        # (the pool's wrapper defines __getattr__, which makes each attribute read on it slow: read once)
        self._conn = conn = raw.dbapi_connection
        self._cursor = cursor = conn.cursor()
        self._tx = tx = SqlStoreTx(cursor, store.dialect, store._dbapi.IntegrityError, store.find_instance,
                                   store._moments, self._remembered)
        return tx

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, _tb: object) -> None:
        store, raw, cursor, tx = self._store, self._raw, self._cursor, self._tx
        if err is not None:
            # a refusal met on a remembered row that another writer had moved on may be the stale row's: the
            # command is to run again on the stored one (the engine does)
            stale = tx.out_of_date() if isinstance(err, WorkflowError) and not isinstance(err, RowOutOfDate) else None
            store._failed(raw, cursor, err)
            if stale is not None:
                raise stale from err
            return  # the body's own error goes on as it was
        try:
            tx.confirm_all()  # a command that did not write a remembered row it took acted on it as stored
        except BaseException as stale:
            store._failed(raw, cursor, stale)
            raise
        if unlisted := tx.unlisted_clocks():
            # a clock its instance's row does not list would be invisible to every later command: not committed
            problem = RuntimeError(f"SLA clocks were inserted for instance {unlisted[0]} but its row was not "
                                   "written in the same command; nothing was committed")
            store._failed(raw, cursor, problem)
            raise problem
        conn = self._conn
        # sqlite3 opens a transaction at a command's first write: only then has the log grown
        wrote = store._wal is not None and conn.in_transaction
        try:
            conn.commit()
        except BaseException as commit_err:
            store._failed(raw, cursor, commit_err, committing=True)
            raise
        store._committed(raw, cursor, wrote)
        tx.remember_written()


def _rows_by_key(conn: Connection, table: Any, key: Any, values: list[Any]) -> Iterator[Any]:
    """The rows of `table` whose `key` is one of `values`, read 500 keys a statement (well under any driver's
    limit of parameters)."""
    for at in range(0, len(values), 500):
        yield from conn.execute(select(table).where(key.in_(values[at:at + 500])))


#: Seconds a server's connection may wait idle between commands before it is checked again (see `_take`).
SPARE_PING_AFTER = 1.0


#: SQLite's primary result codes that mean the file failed under a connection (I/O, read-only, full, corrupt,
#: cannot open, not a database), not a busy or locked moment that passes by itself
_FILE_FAULTS = frozenset({8, 10, 11, 13, 14, 26})


def _sqlite_file_fault(err: BaseException) -> bool:
    code = getattr(err, "sqlite_errorcode", None)
    return isinstance(err, sqlite3.Error) and isinstance(code, int) and code & 0xFF in _FILE_FAULTS


def _invalidate(raw: Any) -> None:
    """Close a failed pooled connection for good, so the pool opens a new one."""
    with suppress(Exception):
        raw.invalidate()


def _json_kind(value: Any) -> tuple[str, str, str]:
    """(SQLite json_type, PostgreSQL json_typeof, the value's text as `->>` gives it) of a search value."""
    if isinstance(value, bool):
        word = "true" if value else "false"
        return word, "boolean", word
    if isinstance(value, int):
        return "integer", "number", str(value)
    return "text", "string", str(value)


def _json_type() -> Any:
    from sqlalchemy.dialects.postgresql import JSON

    return JSON()


__all__ = ["SqlInstanceStore", "database_url"]
