"""`SqlStoreTx`: the reads and writes of one engine command, as prepared SQL on the DBAPI cursor.

The hot path of every command, so it skips SQLAlchemy's statement building (which costs more than the
statements themselves) and runs fixed SQL texts with positional parameters. On SQLite the driver opens the
transaction at the first write, so a command's first read sees the last commit and the row-version check of
its write decides (optimistic locking); on PostgreSQL the transaction runs at READ COMMITTED.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from engine.canonical import canonical_json
from engine.errors import ConcurrentUpdate, DuplicateBusinessKey, RowOutOfDate, StepLimitReached
from engine.store import ClockView, HistoryEntry, InstanceView, NewClock, NewTimer, OutboxItem, TimerView
from storage.remembered import RememberedRow, RememberedRows, remembered_row
from storage.rows import instance_variables
from storage.tables import MAX_STEP, STEP_BITS, history_key

# `clock_ids` last: the ids of the instance's SLA clocks, each followed by a comma ("12,13,"), so that a command
# finds its clocks by key and appends new ones by concatenation (no index of the clocks by instance to keep)
INSTANCE_COLS = ("id, workflow_id, version, business_key, state, variables, status, outcome, row_version, "
                 "history_seq, history_hash, last_error, created_at, updated_at, clock_ids")
# and the instance's number, which keys its history (`storage.tables.history_key`)
READ_INSTANCE_COLS = f"{INSTANCE_COLS}, ordinal"
CLOCK_COLS = ("id, instance_id, scope, state, calendar, started_at, base_due_at, due_at, last_day, "
              "paused_working_days, paused_since, status, breached, provisional, stopped_at, next_fire_at, next_kind, "
              "next_level, fire_attempts, last_error")
TIMER_COLS = "id, instance_id, clock_id, kind, level, state, fire_at, status, attempts, last_error"

SQL = {
    "get_instance": f"SELECT {READ_INSTANCE_COLS} FROM instance WHERE id = ?",
    "find_instance": f"SELECT {READ_INSTANCE_COLS} FROM instance WHERE workflow_id = ? AND business_key = ?",
    # the new instance's number: one past the highest its history keys hold (read off the key B-tree's last
    # page; SQLite has one writer at a time), or past one this command numbered already; PostgreSQL: below
    "insert_instance": (f"INSERT INTO instance ({INSTANCE_COLS}, ordinal) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        f"max((SELECT COALESCE(MAX(hid), 0) >> {STEP_BITS} FROM history) + 1, ?)) RETURNING ordinal"),
    "update_instance": ("UPDATE instance SET status = ?, state = ?, variables = ?, outcome = ?, row_version = ?, "
                        "history_seq = ?, history_hash = ?, last_error = ?, updated_at = ?, "
                        "clock_ids = clock_ids || ? WHERE id = ? AND row_version = ?"),
    # the same when the status stays: SQLite rewrites the entries of every index on a column the statement
    # sets, changed or not, so leaving `status` out spares the status index a page on most commands
    "update_instance_same_status": ("UPDATE instance SET state = ?, variables = ?, outcome = ?, row_version = ?, "
                                    "history_seq = ?, history_hash = ?, last_error = ?, updated_at = ?, "
                                    "clock_ids = clock_ids || ? WHERE id = ? AND row_version = ? AND status = ?"),
    "touch_instance": ("UPDATE instance SET row_version = row_version + 1, clock_ids = clock_ids || ? "
                       "WHERE id = ? AND row_version = ?"),
    # what a command keeps of an instance row it did not read: its clocks' ids and its number (`_row_keys`)
    "instance_keys": "SELECT clock_ids, ordinal FROM instance WHERE id = ?",
    # the stored row version of an instance a command took from the rows its process remembers
    "instance_version": "SELECT row_version FROM instance WHERE id = ?",
    "insert_history": ("INSERT INTO history (hid, instance_id, seq, at, actor, event, from_state, to_state, "
                       "payload, prev_hash, hash, actor_role, actor_department, key_id) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    "insert_clock": ("INSERT INTO sla_clock (instance_id, scope, state, calendar, started_at, base_due_at, due_at, "
                     "last_day, paused_working_days, status, breached, provisional, next_fire_at, next_kind, "
                     "next_level) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'running', ?, ?, ?, ?, ?) RETURNING id"),
    "update_clock": ("UPDATE sla_clock SET base_due_at = ?, due_at = ?, last_day = ?, paused_working_days = ?, "
                     "paused_since = ?, status = ?, breached = ?, provisional = ?, stopped_at = ?, next_fire_at = ?, "
                     "next_kind = ?, next_level = ?, fire_attempts = 0, last_error = NULL, "
                     # a back-off wait (a claim nobody holds) was for the moment left behind
                     "claim_expires_at = CASE WHEN claimed_by IS NULL THEN NULL ELSE claim_expires_at END "
                     "WHERE id = ?"),
    # `{ids}`: a mark for each of the instance's clock ids, read by key (PostgreSQL: one array, below)
    "open_clocks": f"SELECT {CLOCK_COLS} FROM sla_clock WHERE id IN ({{ids}}) AND stopped_at IS NULL ORDER BY id",
    "get_clock": f"SELECT {CLOCK_COLS} FROM sla_clock WHERE id = ?",
    "take_clock": ("UPDATE sla_clock SET claimed_by = NULL, claim_expires_at = NULL "
                   f"WHERE id = ? AND next_fire_at = ? AND stopped_at IS NULL RETURNING {CLOCK_COLS}"),
    "stop_task_clock": ("UPDATE sla_clock SET status = CASE WHEN breached THEN 'breached' ELSE 'met' END, "
                        "stopped_at = ?, paused_since = NULL, next_fire_at = NULL, next_kind = NULL, next_level = 0, "
                        "fire_attempts = 0, last_error = NULL "
                        "WHERE id IN ({ids}) AND scope = 'task' AND state = ? "
                        "AND stopped_at IS NULL AND status <> 'paused' AND (breached OR due_at > ?)"),
    "insert_pause": "INSERT INTO sla_pause (clock_id, state, started_at) VALUES (?, ?, ?)",
    "close_pause": ("UPDATE sla_pause SET ended_at = ?, working_days = ? "
                    "WHERE clock_id = ? AND ended_at IS NULL"),
    "closed_pauses": ("SELECT id, started_at, ended_at, working_days FROM sla_pause "
                      "WHERE clock_id = ? AND ended_at IS NOT NULL ORDER BY id"),
    "set_pause_days": "UPDATE sla_pause SET working_days = ? WHERE id = ?",
    "insert_timer": ("INSERT INTO timer (instance_id, clock_id, kind, level, state, fire_at, status, attempts, "
                     "last_error, provisional, armed_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)"),
    "reschedule_timer": ("UPDATE timer SET fire_at = ?, provisional = ?, claimed_by = NULL, claim_expires_at = NULL "
                         "WHERE id = ? AND status IN ('pending', 'held')"),
    "cancel_timers": ("UPDATE timer SET status = 'cancelled' WHERE instance_id = ? "
                      "AND status IN ('pending', 'held')"),
    "hold_timers": "UPDATE timer SET status = 'held' WHERE instance_id = ? AND status = 'pending'",
    "unhold_timers": "UPDATE timer SET status = 'pending' WHERE instance_id = ? AND status = 'held'",
    "mark_fired": ("UPDATE timer SET status = 'fired', fired_at = ? WHERE id = ? AND status = 'pending' "
                   f"RETURNING {TIMER_COLS}"),
    "sla_event": ("INSERT INTO sla_event (clock_id, instance_id, kind, level, at) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT DO NOTHING RETURNING id"),
    "outbox": ("INSERT INTO outbox_message (created_at, instance_id, channel, recipient, recipient_address, "
               "template, data, kind, dedupe_key, status, attempts, next_attempt_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT DO NOTHING RETURNING id"),
    "get_idempotency": "SELECT digest, result FROM idempotency WHERE key = ?",
    "put_idempotency": "INSERT INTO idempotency (key, digest, instance_id, result, created_at) VALUES (?, ?, ?, ?, ?)",
}
# the same stop on one clock, the newest of the instance: the task's own in all but rare cases (see stop_task_clock)
SQL["stop_newest_task_clock"] = SQL["stop_task_clock"].replace("id IN ({ids})", "id = ?")
SQL_PG = {name: text.replace("?", "%s") for name, text in SQL.items()}
# PostgreSQL numbers instances from a sequence: its writers run side by side, and a sequence never repeats
SQL_PG["insert_instance"] = (f"INSERT INTO instance ({INSTANCE_COLS}, ordinal) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                             "%s, %s, %s, %s, %s, %s, %s, %s, nextval('instance_ordinal')) RETURNING ordinal")
#: the statements that name an instance's clocks by id, one text per number of ids (SQLite) or one array
BY_IDS = ("open_clocks", "stop_task_clock")
for _name in BY_IDS:
    SQL_PG[_name] = SQL_PG[_name].replace("IN ({ids})", "= ANY(%s)")
# SQLite tells the new clock's id through the cursor (lastrowid), sparing RETURNING's result row
SQL["insert_clock"] = SQL["insert_clock"].removesuffix(" RETURNING id")


#: SQLite's texts of the statements of `BY_IDS`, by statement and number of ids (a few: an instance has few clocks)
_SQLITE_BY_IDS: dict[tuple[str, int], str] = {}

_DECODE = json.JSONDecoder().decode  # what json.loads does with a text, without its checks of other types


def clock_list(ids: Sequence[int]) -> str:
    """An instance row's list of clock ids as stored: each id followed by a comma ("12,13,"), so that a list
    grows by concatenation."""
    return "".join(f"{clock_id}," for clock_id in ids)


def listed_clocks(text: str | None) -> list[int]:
    """The clock ids of a stored list (`clock_list`), oldest first."""
    return [int(part) for part in (text or "").split(",") if part]


def newest_listed(text: str) -> int | None:
    """The newest clock id of a stored list (`clock_list`): the one after its last comma but one."""
    return int(text[text.rfind(",", 0, -1) + 1:-1]) if text else None


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys, text as UTF-8 (`engine.canonical`); an empty object, what most steps carry,
    without the encoder."""
    if type(value) is dict and not value:
        return "{}"
    return canonical_json(value)


class Moments:
    """How a dialect stores a moment: SQLite as UTC text in SQLAlchemy's format, PostgreSQL as timestamptz.

    One per store: the texts of recent moments are kept, since a command writes its `now` many times and the
    clocks of cases started on one day share their due times and warnings.
    """

    KEEP = 512  # moments remembered; the memory stays flat however many instances there are

    def __init__(self, dialect: str) -> None:
        self.text = dialect == "sqlite"
        self._texts: dict[datetime, str] = {}

    def put(self, value: datetime | None) -> Any:
        if value is None or not self.text:
            return value
        text = self._texts.get(value)  # equal moments (the same instant) have equal texts
        if text is None:
            # SQLAlchemy's SQLite format, so that its reads parse these and text order is time order
            text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            if len(self._texts) >= self.KEEP:
                self._texts.clear()  # each dict operation is atomic: threads sharing the store see no torn state
            self._texts[value] = text
        return text

    def get(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if type(value) is str:
            if len(value) == 26 and value[19] == ".":
                # the form written here and by SQLAlchemy (UTC, no offset, six digits of microseconds): read
                # with its offset appended, which costs a fraction of `replace(tzinfo=...)`
                return datetime.fromisoformat(value + "+00:00")
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class SqlStoreTx:
    """One command's rows (see `engine.store.StoreTx` for the contract of each method)."""

    def __init__(self, cursor: Any, dialect: str, integrity_error: type[Exception],
                 lookup: Callable[[str, str], InstanceView | None] | None = None,
                 moments: Moments | None = None, remembered: RememberedRows | None = None) -> None:
        self.cur = cursor
        self._lookup = lookup
        self.dialect = dialect
        self.sql = SQL_PG if dialect == "postgresql" else SQL
        self.t = moments if moments is not None else Moments(dialect)
        self._integrity_error = integrity_error
        # per instance read in this command: its status, and its variables as read with their stored text
        self._read: dict[str, tuple[str, Any, str]] = {}
        # per instance: its clock ids as stored (read, or as this command wrote them), and the ids of the clocks
        # this command inserted that its row does not list yet
        self._clock_ids: dict[str, str] = {}
        self._new_clocks: dict[str, list[int]] = {}
        # per instance read or inserted in this command: its number, the high bits of its history keys
        self._ordinals: dict[str, int] = {}
        # the rows this process committed last (storage.remembered), of which this command took the ones in
        # `_unconfirmed` (by id: the row version taken) and will give back the rows it writes (`_written`)
        self._remembered = remembered
        self._unconfirmed: dict[str, int] = {}
        self._written: dict[str, RememberedRow] = {}
        self._touched: set[str] = set()

    def _one(self, name: str, params: Sequence[Any]) -> Any:
        self.cur.execute(self.sql[name], params)
        return self.cur.fetchone()

    # -- instances --------------------------------------------------------------------------------------

    def _instance(self, r: Any) -> InstanceView:
        g = self.t.get
        try:
            variables = _DECODE(r[5])
        except (ValueError, TypeError):
            variables = instance_variables(r[0], r[5])  # raises, naming the instance
        if type(variables) is not dict:
            variables = instance_variables(r[0], r[5])
        self._read[r[0]] = (r[6], variables, r[5])
        self._clock_ids[r[0]] = r[14]
        self._ordinals[r[0]] = r[15]
        return InstanceView(r[0], r[1], r[2], r[3], r[4], variables, r[6], r[7], r[8], r[9], r[10], r[11],
                            g(r[12]), g(r[13]))  # type: ignore[arg-type]

    def get_instance(self, instance_id: str) -> InstanceView | None:
        if self._remembered is not None and (kept := self._remembered.take(instance_id)) is not None:
            return self._taken(kept)
        self.cur.execute(self.sql["get_instance"], (instance_id,))  # every command's first read: no helper between
        r = self.cur.fetchone()
        return self._instance(r) if r is not None else None

    def _taken(self, kept: RememberedRow) -> InstanceView:
        """A row from the ones this process committed, kept as `_instance` keeps a row it read, to be confirmed.
        The entry is this command's alone now (taking removed it), its variables a mapping no caller holds."""
        view, text, self._clock_ids[view.id], self._ordinals[view.id] = kept
        self._read[view.id] = (view.status, view.variables, text)
        self._unconfirmed[view.id] = view.row_version
        return view

    def confirm_current(self, instance_id: str) -> None:
        """Before an act no rollback undoes (a hook): an instance taken from the remembered rows must still be
        the stored one, else RowOutOfDate. A row read from the database in this command needs no check."""
        expected = self._unconfirmed.get(instance_id)
        if expected is None:
            return
        r = self._one("instance_version", (instance_id,))
        if r is None or r[0] != expected:
            raise RowOutOfDate(instance_id, expected)
        del self._unconfirmed[instance_id]

    def confirm_all(self) -> None:
        """Before the commit: every remembered row this command took and did not write is still stored as taken."""
        if self._unconfirmed:
            for instance_id in list(self._unconfirmed):
                self.confirm_current(instance_id)

    def out_of_date(self) -> RowOutOfDate | None:
        """After a command failed: whether a remembered row it took was out of date (then its failure may be the
        stale row's, and it is to run again on the stored one); None when every such row is current, or the
        database cannot tell now."""
        try:
            self.confirm_all()
        except RowOutOfDate as stale:
            return stale
        except Exception:  # the command's own error is the one to report
            return None
        return None

    def remember_written(self) -> None:
        """After the commit: the rows this command wrote become the remembered ones; a row it only moved on
        (touch_instance) is forgotten."""
        remembered = self._remembered
        if remembered is None:
            return
        for row in self._written.values():
            remembered.put(remembered_row(*row))
        for instance_id in self._touched:
            remembered.forget(instance_id)

    def find_instance(self, workflow_id: str, business_key: str) -> InstanceView | None:
        r = self._one("find_instance", (workflow_id, business_key))
        return self._instance(r) if r is not None else None

    def insert_instance(self, inst: InstanceView) -> None:
        p = self.t.put
        row: tuple[Any, ...] = (
            inst.id, inst.workflow_id, inst.version, inst.business_key, inst.state, dumps(inst.variables),
            inst.status, inst.outcome, inst.row_version, inst.history_seq, inst.history_hash, inst.last_error,
            p(inst.created_at), p(inst.updated_at), self._listed(inst.id))
        if self.dialect == "sqlite":  # the least number it may take: past any this command gave already
            row = (*row, max(self._ordinals.values(), default=0) + 1)
        try:
            self.cur.execute(self.sql["insert_instance"], row)
            self._ordinals[inst.id] = ordinal = self.cur.fetchone()[0]
            self._clock_ids[inst.id] = row[14]  # all it lists: the clocks this command started
            if self._remembered is not None:
                self._written[inst.id] = (inst, row[5], row[14], ordinal)
        except self._integrity_error as err:
            # PostgreSQL has aborted this transaction: name the holder from a connection of its own
            other = self._lookup(inst.workflow_id, inst.business_key) if self._lookup is not None else None
            raise DuplicateBusinessKey(inst.workflow_id, inst.business_key, other.id if other else "?") from err

    def update_instance(self, inst: InstanceView, expected_version: int) -> None:
        read = self._read.get(inst.id)
        # the variables read in this command handed back as they were (the same mapping, which the engine never
        # changes in place: it works on a copy) are written as the text they were read from
        text = read[2] if read is not None and read[1] is inst.variables else dumps(inst.variables)
        row = (inst.state, text, inst.outcome, inst.row_version, inst.history_seq, inst.history_hash,
               inst.last_error, self.t.put(inst.updated_at), self._listed(inst.id), inst.id, expected_version)
        if read is not None and read[0] == inst.status:  # the row version check covers the status as well
            self.cur.execute(self.sql["update_instance_same_status"], (*row, inst.status))
        else:
            self.cur.execute(self.sql["update_instance"], (inst.status, *row))
        self._checked(inst.id, expected_version)
        if self._remembered is not None and (ordinal := self._ordinals.get(inst.id)) is not None:
            self._written[inst.id] = (inst, text, self._clock_ids[inst.id], ordinal)

    def touch_instance(self, instance_id: str, expected_version: int) -> None:
        self.cur.execute(self.sql["touch_instance"], (self._listed(instance_id), instance_id, expected_version))
        self._checked(instance_id, expected_version)
        self._written.pop(instance_id, None)
        self._touched.add(instance_id)

    def _checked(self, instance_id: str, expected_version: int) -> None:
        """After a write of the instance's row at `expected_version`: it was written (which confirms a remembered
        row taken), else RowOutOfDate for a remembered row, ConcurrentUpdate for one read."""
        if self.cur.rowcount != 1:
            if instance_id in self._unconfirmed:
                raise RowOutOfDate(instance_id, expected_version)
            raise ConcurrentUpdate(instance_id, expected_version)
        self._unconfirmed.pop(instance_id, None)

    def append_history(self, entries: Sequence[HistoryEntry]) -> None:
        if len(entries) == 1:  # most commands: one step, no executemany setup
            self.cur.execute(self.sql["insert_history"], self._history_row(entries[0]))
        elif entries:
            self.cur.executemany(self.sql["insert_history"], [self._history_row(e) for e in entries])

    def _history_row(self, e: HistoryEntry) -> tuple[Any, ...]:
        if not 0 < e.seq <= MAX_STEP:
            raise StepLimitReached(e.instance_id, MAX_STEP)
        ordinal = self._ordinals.get(e.instance_id)
        if ordinal is None:  # an instance this command neither read nor started (none of the engine's commands)
            self._row_keys(e.instance_id)
            ordinal = self._ordinals[e.instance_id]
        return (history_key(ordinal, e.seq), e.instance_id, e.seq, self.t.put(e.at), e.actor, e.event, e.from_state,
                e.to_state, dumps(e.payload), e.prev_hash, e.hash, e.actor_role, e.actor_department, e.key_id)

    # -- clocks ---------------------------------------------------------------------------------------------

    def _clock(self, r: Any) -> ClockView:
        g = self.t.get
        return ClockView(r[0], r[1], r[2], r[3], r[4], g(r[5]), g(r[6]), g(r[7]), r[8], r[9],  # type: ignore[arg-type]
                         g(r[10]), r[11], bool(r[12]), bool(r[13]), g(r[14]), g(r[15]), r[16], r[17], r[18], r[19])

    def insert_clock(self, clock: NewClock) -> int:
        p = self.t.put
        due = p(clock.due_at)  # also the base due time: a new clock has not been extended
        self.cur.execute(self.sql["insert_clock"], (
            clock.instance_id, clock.scope, clock.state, clock.calendar, p(clock.started_at), due, due,
            clock.last_day, False, clock.provisional, p(clock.next_fire_at), clock.next_kind, clock.next_level))
        clock_id = int(self.cur.fetchone()[0] if self.dialect == "postgresql" else self.cur.lastrowid)
        self._new_clocks.setdefault(clock.instance_id, []).append(clock_id)
        return clock_id

    def update_clock(self, clock: ClockView) -> None:
        p = self.t.put
        self.cur.execute(self.sql["update_clock"], (
            p(clock.base_due_at), p(clock.due_at), clock.last_day, clock.paused_working_days, p(clock.paused_since),
            clock.status, clock.breached, clock.provisional, p(clock.stopped_at), p(clock.next_fire_at),
            clock.next_kind, clock.next_level, clock.id))

    def open_clocks(self, instance_id: str) -> list[ClockView]:
        self.cur.execute(*self._by_ids("open_clocks", self._ids(instance_id), (), ()))
        return [self._clock(r) for r in self.cur.fetchall()]

    def _listed(self, instance_id: str) -> str:
        """The ids of the clocks inserted for the instance since its row was last written, as the text its row's
        list grows by; from now on they count as listed there."""
        new = self._new_clocks.pop(instance_id, None)
        if not new:
            return ""
        suffix = clock_list(new)
        stored = self._clock_ids.get(instance_id)
        if stored is not None:
            self._clock_ids[instance_id] = stored + suffix
        return suffix

    def _listed_ids(self, instance_id: str) -> str:
        """The clock ids the instance's row lists, as stored."""
        stored = self._clock_ids.get(instance_id)
        if stored is None:  # not read in this command (or not yet inserted: then it lists none)
            self._row_keys(instance_id)
            stored = self._clock_ids[instance_id]
        return stored

    def _row_keys(self, instance_id: str) -> None:
        """Keep what a command needs of an instance row it did not read, as `_instance` keeps it of one it read:
        the clock ids it lists ("" before the row is inserted) and its number (none then)."""
        r = self._one("instance_keys", (instance_id,))
        self._clock_ids[instance_id] = r[0] if r is not None else ""
        if r is not None:
            self._ordinals[instance_id] = r[1]

    def _ids(self, instance_id: str) -> list[int]:
        """All the instance's clock ids, oldest first: those its row lists and those this command inserted."""
        ids = listed_clocks(self._listed_ids(instance_id))
        ids.extend(self._new_clocks.get(instance_id, ()))
        return ids

    def _by_ids(self, name: str, ids: list[int], before: tuple[Any, ...],
                after: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        """A statement of `BY_IDS` over clock ids, with its parameters: on SQLite a mark per id (the clocks are
        then found by key, as many as the instance has), on PostgreSQL one array."""
        if self.dialect == "postgresql":
            return self.sql[name], (*before, ids, *after)
        sql = _SQLITE_BY_IDS.get((name, len(ids)))
        if sql is None:
            sql = _SQLITE_BY_IDS[name, len(ids)] = SQL[name].format(ids=", ".join("?" * len(ids)))
        return sql, (*before, *ids, *after)

    def unlisted_clocks(self) -> list[str]:
        """The instances with clocks inserted in this command that their rows do not list (none, once each row
        inserted or updated): committing then would hide those clocks from every later command."""
        return list(self._new_clocks)  # an instance's entry goes when its row is written (`_listed`)

    def get_clock(self, clock_id: int) -> ClockView | None:
        r = self._one("get_clock", (clock_id,))
        return self._clock(r) if r is not None else None

    def take_clock(self, clock_id: int, fire_at: datetime) -> ClockView | None:
        r = self._one("take_clock", (clock_id, self.t.put(fire_at)))
        return self._clock(r) if r is not None else None

    def stop_task_clock(self, instance_id: str, state: str, now: datetime) -> bool:
        """The newest clock first: a task's clock starts when the task is entered, so it is the newest unless the
        task was left for a state its clock pauses in that started a clock of its own; then the older ones."""
        stamp = self.t.put(now)
        new = self._new_clocks.get(instance_id)
        newest = new[-1] if new else newest_listed(self._listed_ids(instance_id))  # the list is not parsed
        if newest is None:
            return False
        self.cur.execute(self.sql["stop_newest_task_clock"], (stamp, newest, state, stamp))
        if self.cur.rowcount == 1:
            return True
        older = self._ids(instance_id)[:-1]
        if not older:
            return False
        self.cur.execute(*self._by_ids("stop_task_clock", older, (stamp,), (state, stamp)))
        return bool(self.cur.rowcount == 1)

    def insert_pause(self, clock_id: int, state: str, started_at: datetime) -> None:
        self.cur.execute(self.sql["insert_pause"], (clock_id, state, self.t.put(started_at)))

    def close_pause(self, clock_id: int, ended_at: datetime, working_days: int) -> None:
        self.cur.execute(self.sql["close_pause"], (self.t.put(ended_at), working_days, clock_id))

    def closed_pauses(self, clock_id: int) -> list[tuple[int, datetime, datetime, int]]:
        self.cur.execute(self.sql["closed_pauses"], (clock_id,))
        g = self.t.get
        return [(r[0], g(r[1]), g(r[2]), r[3]) for r in self.cur.fetchall()]  # type: ignore[misc]

    def set_pause_days(self, pause_id: int, working_days: int) -> None:
        self.cur.execute(self.sql["set_pause_days"], (working_days, pause_id))

    # -- timers ---------------------------------------------------------------------------------------------

    def insert_timers(self, timers: Sequence[NewTimer]) -> None:
        if not timers:
            return
        p = self.t.put
        self.cur.executemany(self.sql["insert_timer"], [
            (t.instance_id, t.clock_id, t.kind, t.level, t.state, p(t.fire_at), t.attempts, t.last_error,
             t.provisional, p(t.armed_at))
            for t in timers])

    def cancel_timers(self, instance_id: str, *, kinds: Sequence[str] = ()) -> None:
        sql, params = self.sql["cancel_timers"], [instance_id]
        mark = "%s" if self.dialect == "postgresql" else "?"
        if kinds:
            sql += f" AND kind IN ({', '.join(mark for _ in kinds)})"
            params.extend(kinds)
        self.cur.execute(sql, params)

    def hold_timers(self, instance_id: str, held: bool) -> None:
        self.cur.execute(self.sql["hold_timers" if held else "unhold_timers"], (instance_id,))

    def reschedule_timer(self, timer_id: int, fire_at: datetime, provisional: bool) -> bool:
        self.cur.execute(self.sql["reschedule_timer"], (self.t.put(fire_at), provisional, timer_id))
        return bool(self.cur.rowcount == 1)

    def mark_timer_fired(self, timer_id: int, now: datetime) -> TimerView | None:
        r = self._one("mark_fired", (self.t.put(now), timer_id))
        if r is None:
            return None
        return TimerView(r[0], r[1], r[2], r[3], r[4], r[5], self.t.get(r[6]), r[7], r[8], r[9])  # type: ignore[arg-type]

    # -- once-only events, outbox, idempotency ---------------------------------------------------------------

    def record_sla_event(self, clock_id: int, instance_id: str, kind: str, level: int, at: datetime) -> bool:
        return self._one("sla_event", (clock_id, instance_id, kind, level, self.t.put(at))) is not None

    def insert_outbox(self, items: Sequence[OutboxItem], now: datetime) -> int:
        count = 0
        stamp = self.t.put(now)
        for i in items:
            r = self._one("outbox", (stamp, i.instance_id, i.channel, i.recipient, i.recipient_address, i.template,
                                     json.dumps(_plain(i.data), ensure_ascii=False, sort_keys=True), i.kind,
                                     i.dedupe_key, stamp))
            count += r is not None
        return count

    def get_idempotency(self, key: str) -> tuple[str, str] | None:
        r = self._one("get_idempotency", (key,))
        return (r[0], r[1]) if r is not None else None

    def put_idempotency(self, key: str, digest: str, instance_id: str, result: str, now: datetime) -> None:
        self.cur.execute(self.sql["put_idempotency"], (key, digest, instance_id, result, self.t.put(now)))


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in data.items()}
