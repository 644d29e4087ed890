"""Contenders for the concurrency tests: each fires conflicting events at the same instances and reports
what it won and how it lost; runnable in a thread or in a process of its own."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from engine import ConcurrentUpdate, Engine, InstanceNotRunning, ManualClock, TransitionNotAllowed, WorkflowError
from tests.faults.harness.flow import START, WF, actor, build_engine, flow_vars

#: The typed ways to lose a race: someone else changed the row first, or the state has moved on.
LOSSES = (ConcurrentUpdate, TransitionNotAllowed, InstanceNotRunning)
#: Conflicting events of the review task: approving moves on, refusing ends the instance.
REVIEW_EVENTS = ("approve", "refuse")


def contend(db: str | Engine, name: str, instance_ids: list[str], seed: int, barrier: Any = None) -> dict[str, Any]:
    """Fire approve or refuse at every instance, in a shuffled order; answer wins, losses by type, others.

    `db` is a database (the contender opens its own engine and closes it) or an engine to share.
    """
    own = not isinstance(db, Engine)
    engine = build_engine(db, ManualClock(START), worker_id=name) if isinstance(db, str) else db
    rng = random.Random(seed)
    order = list(instance_ids)
    rng.shuffle(order)
    wins: list[tuple[str, str]] = []
    losses: Counter[str] = Counter()
    unexpected: list[str] = []
    who = actor("auditor", name)
    if barrier is not None:
        barrier.wait(120)
    try:
        for round_ in range(2):  # the second round meets instances the first left in later states
            for instance_id in order:
                event = rng.choice(REVIEW_EVENTS)
                payload = {"reason": f"{name} refuses"} if event == "refuse" else {"note": name}
                try:
                    engine.fire(instance_id, event, who, payload)
                    wins.append((instance_id, event))
                except LOSSES as err:
                    losses[type(err).__name__] += 1
                except WorkflowError as err:
                    unexpected.append(f"round {round_}: {type(err).__name__}: {err}")
                except Exception as err:  # the point of the test: nothing untyped may escape
                    unexpected.append(f"round {round_}: untyped {type(err).__module__}.{type(err).__name__}: {err}")
    finally:
        if own:
            engine.close()
    return {"name": name, "wins": wins, "losses": dict(losses), "unexpected": unexpected}


def contend_in_process(db: str, name: str, instance_ids: list[str], seed: int, barrier: Any, out: Any) -> None:
    out.put(contend(db, name, instance_ids, seed, barrier))


#: The two events that move an instance between the meeting and the publicity and back, each fired by its role.
LOOP_EVENTS = {"settle": "reviewer", "object": "consumer"}


def contend_in_loop(db: str, name: str, instance_ids: list[str], seed: int, passes: int, barrier: Any,
                    out: Any) -> None:
    """In a process of its own: `passes` times over the instances, fire settle or object at each, so that each
    instance goes back and forth and this process's remembered rows (storage.remembered) are overtaken again and
    again by the others' steps. Reports wins, losses by type, anything else, and how many commands found their
    remembered row out of date and ran again on the stored one."""
    import engine.runtime as runtime
    from engine import RowOutOfDate

    reruns = [0]

    def counting(command: Any) -> Any:  # engine.runtime.on_stored_row, counting the second runs
        try:
            return command()
        except RowOutOfDate:
            reruns[0] += 1
            return command()

    runtime.on_stored_row = counting  # type: ignore[assignment]
    engine = build_engine(db, ManualClock(START), worker_id=name)
    rng = random.Random(seed)
    wins: list[tuple[str, str]] = []
    losses: Counter[str] = Counter()
    unexpected: list[str] = []
    actors = {event: actor(kind, f"{name}-{kind}") for event, kind in LOOP_EVENTS.items()}
    barrier.wait(120)
    try:
        for _ in range(passes):
            for instance_id in rng.sample(instance_ids, len(instance_ids)):
                event = rng.choice(list(LOOP_EVENTS))
                try:
                    engine.fire(instance_id, event, actors[event])
                    wins.append((instance_id, event))
                except LOSSES as err:
                    losses[type(err).__name__] += 1
                except Exception as err:  # the point of the test: no other failure at all
                    unexpected.append(f"{type(err).__module__}.{type(err).__name__}: {err}")
    finally:
        engine.close()
    out.put({"name": name, "wins": wins, "losses": dict(losses), "unexpected": unexpected, "reruns": reruns[0]})


def open_in_process(dbs: list[str], barrier: Any, out: Any) -> None:
    """Open (and so migrate) each database when every process is ready for it; report how each went."""
    from storage import open_store

    results = []
    for db in dbs:
        barrier.wait(120)
        try:
            open_store(db).close()
            results.append("ok")
        except Exception as err:
            results.append(f"{type(err).__module__}.{type(err).__name__}: {err}")
    out.put(results)


def start_in_process(db: str, name: str, count: int, barrier: Any, out: Any) -> None:
    """Start `count` instances as soon as every process is ready; report their ids and any error, typed or not."""
    engine = build_engine(db, ManualClock(START), worker_id=name)
    started: list[str] = []
    unexpected: list[str] = []
    barrier.wait(120)
    try:
        for n in range(count):
            try:
                started.append(engine.start(WF, f"{name}-{n}", flow_vars(), actor("consumer")).id)
            except Exception as err:  # any failure at all is the finding
                unexpected.append(f"{type(err).__module__}.{type(err).__name__}: {err}")
    finally:
        engine.close()
    out.put({"name": name, "started": started, "unexpected": unexpected})
