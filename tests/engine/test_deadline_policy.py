"""One deadline policy per database: the first engine to open it records its own, one given another is refused
(DeadlinePolicyMismatch, nothing written), and the policy changes only on purpose; SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from calendars import DeadlinePolicy
from engine import DeadlinePolicyMismatch, Engine, ManualClock, StorageUnavailable, WorkflowError
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.policy_check import SETTING, PolicyGuard, canonical, policy_text, recorded_policy, replace_deadline_policy
from storage import open_for_reading, open_store
from storage.sql import database_url
from storage.tables import METADATA
from tests.engine.conftest import CONSUMER_ADMIN, DIRECTORY, FLOW, flow_vars
from tests.unwritable import require_unwritable, unwritable

WF = "common.test_flow"
CLOSE_1730 = DeadlinePolicy(business_hours=(time(9), time(17, 30)))
OTHERS = {
    "none": DeadlinePolicy(),
    "other hours": DeadlinePolicy(business_hours=(time(9), time(17))),
    "receipt": DeadlinePolicy(business_hours=(time(9), time(17, 30)), receipt="next_working_day"),
}


def _engine(url: str, policy: Any, clock: ManualClock) -> Engine:
    engine = Engine(open_store(url), DefinitionSet(), clock=clock, directory=DIRECTORY, deadline_policy=policy)
    engine.add_definition(FLOW, "test_flow.yaml")
    return engine


def _refused(url: str, policy: Any, clock: ManualClock) -> DeadlinePolicyMismatch:
    """Open an engine given `policy` on `url`, which must refuse it; the store is closed again."""
    store = open_store(url)
    try:
        with pytest.raises(DeadlinePolicyMismatch) as refused:
            Engine(store, DefinitionSet(), clock=clock, deadline_policy=policy)
    finally:
        store.close()
    return refused.value


def _every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Each of the engine's tables as it stands, rows sorted: what "nothing written" is compared on."""
    engine = sa.create_engine(database_url(url))
    with engine.connect() as conn:
        rows = {name: sorted(conn.execute(sa.select(table)).all(), key=repr) for name, table in METADATA.tables.items()}
    engine.dispose()
    return rows


def test_a_new_database_records_the_first_engines_policy(
        db_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """The first engine on a new database records its policy, when, and says so at INFO."""
    with caplog.at_level(logging.INFO, logger="engine.policy_check"):
        engine = _engine(db_url, CLOSE_1730, clock)
    recorded = engine.store.setting(SETTING)
    engine.close()
    assert recorded is not None
    assert (recorded_policy(recorded), recorded.set_at) == (
        {"business_hours": "09:00-17:30", "receipt": "never_counted", "working_hours": "09:00-17:00"}, clock.now())
    assert any("deadline policy recorded" in r.message and "business hours 09:00-17:30" in r.message
               for r in caplog.records if r.levelno == logging.INFO)


def test_an_engine_given_the_same_policy_opens_and_records_nothing_again(db_url: str, clock: ManualClock) -> None:
    """A second engine with an equal policy (another object) opens and works; the record keeps its first moment."""
    _engine(db_url, CLOSE_1730, clock).close()
    first = open_store(db_url)
    recorded = first.setting(SETTING)
    first.close()
    clock.advance(timedelta(days=3))
    engine = _engine(db_url, DeadlinePolicy(business_hours=(time(9, 0), time(17, 30))), clock)
    inst = engine.start(WF, "SAME-1", flow_vars(), CONSUMER_ADMIN)
    dues = {c.due_at.astimezone(SHANGHAI).time() for c in engine.clocks(inst.id)}
    again = engine.store.setting(SETTING)
    engine.close()
    assert again == recorded
    assert time(17, 30) in dues


@pytest.mark.parametrize("other", OTHERS.values(), ids=OTHERS.keys())
def test_an_engine_given_another_policy_is_refused_and_writes_nothing(
        db_url: str, clock: ManualClock, other: DeadlinePolicy) -> None:
    """No business hours, other hours or another receipt rule: refused with the typed error (a WorkflowError, not
    a storage failure) carrying both policies, and every table is as it was."""
    engine = _engine(db_url, CLOSE_1730, clock)
    engine.start(WF, "OTHER-1", flow_vars(), CONSUMER_ADMIN)
    engine.close()
    before = _every_row(db_url)
    clock.advance(timedelta(hours=1))
    refused = _refused(db_url, other, clock)
    assert _every_row(db_url) == before
    assert isinstance(refused, WorkflowError) and not isinstance(refused, StorageUnavailable)
    assert (refused.recorded_policy, refused.given_policy) == (canonical(CLOSE_1730), canonical(other))
    assert refused.recorded_at == datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)


def test_the_refusal_says_both_policies_in_plain_words_and_what_to_do(db_url: str, clock: ManualClock) -> None:
    """The message names the recorded policy and its date, the one given, the options that give the recorded one,
    and the command that changes it on purpose."""
    _engine(db_url, CLOSE_1730, clock).close()
    message = str(_refused(db_url, DeadlinePolicy(), clock))
    assert ("this database's deadline policy, recorded 2026-03-02: deadlines end at 17:30, close of business "
            "(business hours 09:00-17:30); this process was given another: deadlines end at 24:00 "
            "(no business hours)") in message
    assert "--business-hours 09:00-17:30 or $SHIXIAN_BUSINESS_HOURS=09:00-17:30" in message
    assert "deadline_policy=DeadlinePolicy(business_hours=(time(9, 0), time(17, 30)))" in message
    assert "python cli.py policy --db DB --set" in message


def test_a_policy_replaced_on_purpose_is_then_the_one_accepted(db_url: str, clock: ManualClock) -> None:
    """After a deliberate replacement the new policy opens and the old one is refused; open clocks keep their due
    times (nothing is recomputed)."""
    engine = _engine(db_url, DeadlinePolicy(), clock)
    inst = engine.start(WF, "REPLACE-1", flow_vars(), CONSUMER_ADMIN)
    dues = engine.clocks(inst.id)
    engine.close()
    store = open_store(db_url)
    clock.advance(timedelta(days=1))
    previous = replace_deadline_policy(store, CLOSE_1730, clock.now())
    store.close()
    engine = _engine(db_url, CLOSE_1730, clock)
    kept = engine.clocks(inst.id)
    recorded = engine.store.setting(SETTING)
    engine.close()
    refused = _refused(db_url, DeadlinePolicy(), clock)
    assert previous is not None and previous.set_at == datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    assert recorded is not None and recorded.set_at == clock.now()
    assert kept == dues
    assert refused.given_policy["business_hours"] is None


def test_two_engines_opening_a_new_database_at_once_one_policy_wins(db_url: str, clock: ManualClock) -> None:
    """Two engines with different policies opening a new database at the same moment: exactly one opens, the other
    is refused, and the database records the winner's policy."""
    policies = [DeadlinePolicy(), CLOSE_1730]
    stores = [open_store(db_url) for _ in policies]  # migrated first: the engines race on the record alone
    barrier = threading.Barrier(len(policies))
    outcomes: dict[int, BaseException | Engine] = {}

    def open_engine(n: int) -> None:
        barrier.wait()
        try:
            outcomes[n] = Engine(stores[n], DefinitionSet(), clock=clock, deadline_policy=policies[n])
        except BaseException as err:  # kept, so the test reports whatever it was
            outcomes[n] = err

    threads = [threading.Thread(target=open_engine, args=(n,)) for n in range(len(policies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    recorded = stores[0].setting(SETTING)
    for store in stores:
        store.close()
    opened = [n for n, o in outcomes.items() if isinstance(o, Engine)]
    refused = [n for n, o in outcomes.items() if isinstance(o, DeadlinePolicyMismatch)]
    assert len(opened) == 1 and len(refused) == 1, outcomes
    assert recorded is not None and recorded.value == policy_text(policies[opened[0]])


def test_a_read_only_copy_is_checked_and_never_written(tmp_path: Path, clock: ManualClock) -> None:
    """A copy that cannot be written refuses another policy as the database does; a copy recording none (written
    before anything recorded one) opens and stays as it was."""
    require_unwritable(tmp_path)
    recorded, unrecorded = tmp_path / "recorded.db", tmp_path / "unrecorded.db"
    _engine(str(recorded), CLOSE_1730, clock).close()
    _engine(str(unrecorded), CLOSE_1730, clock).close()
    writer = sa.create_engine(database_url(str(unrecorded)))
    with writer.begin() as conn:
        conn.execute(sa.text("DELETE FROM deployment_setting"))
    writer.dispose()  # the last connection folds the log into the file, as a copy is handed over
    before = unrecorded.read_bytes()
    with unwritable([recorded, unrecorded, tmp_path]):
        store = open_for_reading(str(recorded))
        with pytest.raises(DeadlinePolicyMismatch):
            Engine(store, DefinitionSet(), clock=clock)
        store.close()
        store = open_for_reading(str(unrecorded))
        Engine(store, DefinitionSet(), clock=clock).close()
    assert unrecorded.read_bytes() == before


class Ticking:
    """A monotonic clock the test moves by hand, for the guard's recheck."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def test_a_running_engine_learns_of_a_replaced_policy_within_its_recheck(db_url: str, clock: ManualClock) -> None:
    """An engine left running when the policy is replaced on purpose goes on until its next look (at most 30 s),
    then refuses commands and ticks, writing nothing, until it is opened again with the new policy."""
    engine = _engine(db_url, CLOSE_1730, clock)
    seconds = Ticking()
    engine.policy_guard = PolicyGuard(engine.store, CLOSE_1730, clock.now, monotonic=seconds)
    engine.policy_guard.check()  # looked at second 0
    inst = engine.start(WF, "RUNNING-1", flow_vars(), CONSUMER_ADMIN)
    other = open_store(db_url)
    replace_deadline_policy(other, DeadlinePolicy(), clock.now())
    other.close()
    seconds.seconds = 29.0
    engine.start(WF, "RUNNING-2", flow_vars(), CONSUMER_ADMIN)  # inside the recheck: not looked at again yet
    seconds.seconds = 30.0
    before = _every_row(db_url)
    with pytest.raises(DeadlinePolicyMismatch):
        engine.start(WF, "RUNNING-3", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(DeadlinePolicyMismatch):
        engine.fire(inst.id, "consult", CONSUMER_ADMIN)  # allowed to her in the state the case is in
    with pytest.raises(DeadlinePolicyMismatch):
        engine.tick(clock.now() + timedelta(days=30))
    assert _every_row(db_url) == before
    engine.close()
    reopened = _engine(db_url, DeadlinePolicy(), clock)
    assert reopened.start(WF, "RUNNING-3", flow_vars(), CONSUMER_ADMIN).business_key == "RUNNING-3"
    reopened.close()


def test_a_worker_whose_policy_was_replaced_stops_and_says_why(db_url: str, clock: ManualClock,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """The worker's tick meets the replaced policy: it stops ticking (no tick counted), keeps the error for the
    command line to print and exit 2, and logs it once."""
    from engine.scheduler import EngineScheduler

    engine = _engine(db_url, CLOSE_1730, clock)
    engine.policy_guard = PolicyGuard(engine.store, CLOSE_1730, clock.now, monotonic=Ticking())
    engine.policy_guard.check()  # looked at second 0; the tick below comes an hour later
    scheduler = EngineScheduler(engine, interval=5)
    other = open_store(db_url)
    replace_deadline_policy(other, DeadlinePolicy(), clock.now())
    other.close()
    engine.policy_guard.monotonic.seconds = 3600.0  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="engine.scheduler"):
        scheduler._tick()
        scheduler._tick()  # stopping: no second try, no second log line
    engine.close()
    assert isinstance(scheduler.fatal, DeadlinePolicyMismatch)
    assert scheduler.ticks == 0
    assert [r.message.startswith("stopping: ") for r in caplog.records if r.levelno == logging.ERROR] == [True]
