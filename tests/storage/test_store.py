"""The store contract, one suite on SQLite and PostgreSQL: migrations, optimistic writes, claims, once-only keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from engine import ConcurrentUpdate, DuplicateBusinessKey, InstanceView, StorageUnavailable
from engine.store import ClockView, NewClock, NewTimer
from storage import SqlInstanceStore, database_url, open_store
from storage.migrate import alembic_config

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlInstanceStore]:
    s = open_store(db_url)
    yield s
    s.close()


def _instance(id_: str = "i1", key: str = "K-1") -> InstanceView:
    return InstanceView(id_, "wf.x", "v" * 64, key, "a", {"n": 1, "名": "值"}, "running", None, 1, 0, "", None,
                        NOW, NOW)


def _timers(store: SqlInstanceStore, n: int, at: datetime) -> None:
    with store.transaction() as tx:
        tx.insert_timers([NewTimer("i1", "timer", at + timedelta(seconds=i), state="a") for i in range(n)])


def test_opening_twice_migrates_once(db_url: str) -> None:
    """The schema is at the Alembic head after opening, and opening again changes nothing."""
    open_store(db_url).close()
    again = open_store(db_url)
    with again.engine.connect() as conn:
        heads = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    again.close()
    assert heads == [ScriptDirectory.from_config(alembic_config()).get_current_head()]


def test_instances_round_trip_with_their_variables(store: SqlInstanceStore) -> None:
    """An inserted instance reads back equal, times aware, Chinese text intact."""
    with store.transaction() as tx:
        tx.insert_instance(_instance())
    assert store.get_instance("i1") == _instance()


def test_a_duplicate_business_key_is_refused(store: SqlInstanceStore) -> None:
    """The unique key on (workflow, business key) holds in the database."""
    with store.transaction() as tx:
        tx.insert_instance(_instance())
    with pytest.raises(DuplicateBusinessKey) as err, store.transaction() as tx:
        tx.insert_instance(_instance("i2"))
    assert err.value.instance_id == "i1"


def test_an_update_with_a_stale_row_version_is_refused(store: SqlInstanceStore) -> None:
    """UPDATE ... WHERE row_version = old: a stale version writes nothing and raises ConcurrentUpdate."""
    with store.transaction() as tx:
        tx.insert_instance(_instance())
    with store.transaction() as tx:
        tx.update_instance(dataclasses.replace(_instance(), row_version=2, state="b"), 1)
    with pytest.raises(ConcurrentUpdate), store.transaction() as tx:
        tx.update_instance(_instance(), 1)
    stored = store.get_instance("i1")
    assert stored is not None and (stored.state, stored.row_version) == ("b", 2)


def test_claims_are_exclusive_until_they_expire(store: SqlInstanceStore) -> None:
    """A claimed timer is not handed out again while its lease runs; after the lease it is taken again."""
    _timers(store, 5, NOW - timedelta(minutes=1))
    first = store.claim_timers(NOW, "w1", 60, 3)
    second = store.claim_timers(NOW, "w2", 60, 10)
    assert len(first) == 3 and len(second) == 2
    assert not {t.id for t in first} & {t.id for t in second}
    assert store.claim_timers(NOW + timedelta(seconds=30), "w3", 60, 10) == []
    taken_again = store.claim_timers(NOW + timedelta(seconds=61), "w3", 60, 10)
    assert {t.id for t in taken_again} == {t.id for t in first + second}


def test_only_due_timers_are_claimed_in_order(store: SqlInstanceStore) -> None:
    """Timers due later are left alone; the claimed ones come earliest first."""
    _timers(store, 3, NOW - timedelta(seconds=10))
    _timers(store, 2, NOW + timedelta(hours=1))
    claimed = store.claim_timers(NOW, "w1", 60, 10)
    assert [t.fire_at for t in claimed] == sorted(t.fire_at for t in claimed)
    assert len(claimed) == 3


def test_a_timer_is_marked_fired_once(store: SqlInstanceStore) -> None:
    """The second marking of the same timer answers None: the first worker's firing stands."""
    _timers(store, 1, NOW)
    (timer,) = store.claim_timers(NOW, "w1", 60, 1)
    with store.transaction() as tx:
        assert tx.mark_timer_fired(timer.id, NOW) is not None
    with store.transaction() as tx:
        again = tx.mark_timer_fired(timer.id, NOW)
    assert again is None


def _due_clock(store: SqlInstanceStore, at: datetime) -> ClockView:
    """A running clock whose next moment (its due time) is `at`, claimed by nobody."""
    with store.transaction() as tx:
        clock_id = tx.insert_clock(NewClock("i1", "task", "a", "CN", NOW - timedelta(days=5), at, "2026-03-02",
                                            False, at, "due", 0))
        tx.insert_instance(_instance())  # its row lists the clock
        clock = tx.get_clock(clock_id)
    assert clock is not None
    return clock


def test_a_failed_clock_moment_waits_out_its_back_off_with_its_tries_and_error(store: SqlInstanceStore) -> None:
    """Released after a failure, the moment stays the clock's next, keeps the tries and error and is claimed again
    only after the retry time; released with no retry time (a worker stopping) it is claimed again at once."""
    _due_clock(store, NOW)
    (claimed,) = store.claim_clocks(NOW, "w1", 120, 10)
    store.release_clock(claimed.id, NOW, NOW + timedelta(seconds=60), 3, "LDAP: no answer")
    waiting = store.claim_clocks(NOW + timedelta(seconds=59), "w2", 120, 10)
    (retried,) = store.claim_clocks(NOW + timedelta(seconds=61), "w2", 120, 10)
    store.release_clock(retried.id, NOW, None, retried.fire_attempts, retried.last_error)
    (again,) = store.claim_clocks(NOW + timedelta(seconds=61), "w3", 120, 10)
    assert waiting == []
    assert (retried.next_fire_at, retried.fire_attempts, retried.last_error) == (NOW, 3, "LDAP: no answer")
    assert (again.fire_attempts, again.last_error) == (3, "LDAP: no answer")


def test_a_clock_moved_on_drops_its_back_off_tries_and_error(store: SqlInstanceStore) -> None:
    """A command writing the clock's next moment while it waits out a back-off clears the tries and the wait: the
    new moment is claimed as soon as it is due."""
    _due_clock(store, NOW)
    (claimed,) = store.claim_clocks(NOW, "w1", 120, 10)
    store.release_clock(claimed.id, NOW, NOW + timedelta(hours=1), 8, "LDAP: no answer")
    with store.transaction() as tx:
        current = tx.get_clock(claimed.id)
        assert current is not None
        tx.update_clock(dataclasses.replace(current, status="breached", breached=True,
                                            next_fire_at=NOW + timedelta(minutes=5), next_kind="escalate",
                                            next_level=1))
    (moved,) = store.claim_clocks(NOW + timedelta(minutes=5), "w2", 120, 10)
    assert (current.fire_attempts, current.last_error) == (8, "LDAP: no answer")
    assert (moved.next_kind, moved.fire_attempts, moved.last_error) == ("escalate", 0, None)


def test_a_release_after_the_clock_moved_on_keeps_what_the_command_wrote(store: SqlInstanceStore) -> None:
    """A firing that failed after a command moved the claimed clock on: its release drops the claim and leaves the
    new moment due at once, with no tries or error of the moment left behind."""
    _due_clock(store, NOW)
    (claimed,) = store.claim_clocks(NOW, "w1", 120, 10)
    with store.transaction() as tx:
        tx.update_clock(dataclasses.replace(claimed, status="breached", breached=True,
                                            next_fire_at=NOW + timedelta(minutes=5), next_kind="escalate",
                                            next_level=1))
    store.release_clock(claimed.id, NOW, NOW + timedelta(hours=1), 1, "LDAP: no answer")
    (moved,) = store.claim_clocks(NOW + timedelta(minutes=5), "w2", 120, 10)
    assert (moved.next_kind, moved.fire_attempts, moved.last_error) == ("escalate", 0, None)


def test_sla_events_happen_once(store: SqlInstanceStore) -> None:
    """The unique (clock, kind, level) key answers True once, then False."""
    with store.transaction() as tx:
        first = tx.record_sla_event(7, "i1", "escalation", 2, NOW)
        second = tx.record_sla_event(7, "i1", "escalation", 2, NOW)
        other = tx.record_sla_event(7, "i1", "escalation", 3, NOW)
    assert (first, second, other) == (True, False, True)


def test_a_setting_is_recorded_by_its_first_writer_and_replaced_only_on_purpose(db_url: str,
                                                                                 store: SqlInstanceStore) -> None:
    """`record_setting` writes once, from any connection: later tries answer False and change nothing; and
    `replace_setting` changes it, answering what it replaced."""
    other = open_store(db_url)
    first = store.record_setting("deadline_policy", '{"a":1}', NOW)
    second = other.record_setting("deadline_policy", '{"a":2}', NOW + timedelta(hours=1))
    kept = other.setting("deadline_policy")
    replaced = other.replace_setting("deadline_policy", '{"a":3}', NOW + timedelta(hours=2))
    now = store.setting("deadline_policy")
    other.close()
    assert (first, second, store.setting("elsewhere")) == (True, False, None)
    assert kept is not None and (kept.value, kept.set_at) == ('{"a":1}', NOW)
    assert replaced == kept
    assert now is not None and (now.value, now.set_at) == ('{"a":3}', NOW + timedelta(hours=2))


def _clock(instance_id: str, state: str) -> NewClock:
    return NewClock(instance_id, "task", state, "CN", NOW, NOW + timedelta(days=3), "2026-03-05", False,
                    NOW + timedelta(days=2), "warn", 1)


def test_an_instance_row_lists_its_clocks_and_commands_find_them_by_it(store: SqlInstanceStore) -> None:
    """A clock inserted before its instance's row (a start) is listed by that row; a later command finds the
    instance's open clocks and stops a task's clock through the list, and adds its own clocks to it. Another
    instance's clocks are never among them."""
    with store.transaction() as tx:
        first = tx.insert_clock(_clock("i1", "a"))
        assert [c.id for c in tx.open_clocks("i1")] == [first]  # seen before the row exists
        tx.insert_instance(_instance())
        other = tx.insert_clock(_clock("i2", "a"))
        tx.insert_instance(_instance("i2", "K-2"))
    with store.transaction() as tx:
        inst = tx.get_instance("i1")
        assert inst is not None
        assert [c.id for c in tx.open_clocks("i1")] == [first]
        assert tx.stop_task_clock("i1", "a", NOW + timedelta(days=1))
        second = tx.insert_clock(_clock("i1", "b"))
        tx.update_instance(dataclasses.replace(inst, row_version=2, state="b"), 1)
    with store.transaction() as tx:
        assert tx.get_instance("i1") is not None
        assert [c.id for c in tx.open_clocks("i1")] == [second]
        assert not tx.stop_task_clock("i1", "a", NOW + timedelta(days=1))  # stopped already
    assert [(c.id, c.status) for c in store.clocks("i1")] == [(first, "met"), (second, "running")]
    assert [(c.id, c.status) for c in store.clocks("i2")] == [(other, "running")]
    assert store.clocks("nobody") == []


def test_a_task_clock_older_than_the_newest_is_stopped_too(store: SqlInstanceStore) -> None:
    """The stop tries the newest clock first; a task left for a state its clock pauses in, which started a clock
    of its own, has an older one, and that one is stopped. A clock of another task is left running."""
    with store.transaction() as tx:
        task = tx.insert_clock(_clock("i1", "a"))
        other = tx.insert_clock(_clock("i1", "b"))
        newest = tx.insert_clock(_clock("i1", "c"))
        tx.insert_instance(_instance())
    with store.transaction() as tx:
        assert tx.get_instance("i1") is not None
        assert tx.stop_task_clock("i1", "a", NOW + timedelta(days=1))
        assert not tx.stop_task_clock("i1", "d", NOW + timedelta(days=1))  # no clock of that task
        tx.touch_instance("i1", 1)
    assert [(c.id, c.status) for c in store.clocks("i1")] == [(task, "met"), (other, "running"),
                                                              (newest, "running")]


def test_a_touch_lists_the_clocks_its_command_inserted(store: SqlInstanceStore) -> None:
    """A command that only bumps the row version (the worker's) still lists a clock it inserted."""
    with store.transaction() as tx:
        tx.insert_instance(_instance())
    with store.transaction() as tx:
        clock_id = tx.insert_clock(_clock("i1", "a"))
        tx.touch_instance("i1", 1)
    assert [c.id for c in store.clocks("i1")] == [clock_id]


def test_a_clock_its_instance_row_does_not_list_is_not_committed(store: SqlInstanceStore) -> None:
    """A command that inserts a clock and never writes the instance's row is refused at its commit, whole: a
    clock no row lists would be invisible to every later command."""
    with store.transaction() as tx:
        tx.insert_instance(_instance())
    inserted: list[int] = []
    with pytest.raises(RuntimeError, match="instance i1"), store.transaction() as tx:
        tx.insert_timers([NewTimer("i1", "timer", NOW, state="a")])
        inserted.append(tx.insert_clock(_clock("i1", "a")))
    with store.transaction() as tx:
        assert tx.get_clock(inserted[0]) is None and tx.open_clocks("i1") == []
    assert store.timers("i1") == []


def test_a_failed_transaction_leaves_nothing(store: SqlInstanceStore) -> None:
    """An error inside the transaction rolls back every write of it."""
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert_instance(_instance())
        raise RuntimeError("boom")
    assert store.get_instance("i1") is None


def test_an_unreachable_database_is_storage_unavailable() -> None:
    """A PostgreSQL URL nobody listens on gives StorageUnavailable, not a driver error."""
    with pytest.raises(StorageUnavailable) as err:
        SqlInstanceStore("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    assert "127.0.0.1" in str(err.value) or "connect" in str(err.value)


def test_database_urls() -> None:
    """A plain path is a SQLite file; postgres:// URLs use the psycopg driver."""
    assert database_url("data/shixian.db") == "sqlite:///data/shixian.db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
