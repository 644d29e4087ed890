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


class Tally:
    """What one contender won and how it lost: its wins, its typed losses by type, and anything else (what the
    tests look for: nothing else may happen, and nothing untyped escape)."""

    def __init__(self) -> None:
        self.wins: list[tuple[str, str]] = []
        self.losses: Counter[str] = Counter()
        self.unexpected: list[str] = []

    def fire(self, engine: Engine, instance_id: str, event: str, who: Any, payload: dict[str, Any] | None = None,
             where: str = "") -> None:
        try:
            engine.fire(instance_id, event, who, payload)
            self.wins.append((instance_id, event))
        except LOSSES as err:
            self.losses[type(err).__name__] += 1
        except WorkflowError as err:
            self.unexpected.append(f"{where}{type(err).__name__}: {err}")
        except Exception as err:
            self.unexpected.append(f"{where}untyped {type(err).__module__}.{type(err).__name__}: {err}")

    def report(self, name: str, **more: Any) -> dict[str, Any]:
        return {"name": name, "wins": self.wins, "losses": dict(self.losses), "unexpected": self.unexpected, **more}


def contend(db: str | Engine, name: str, instance_ids: list[str], seed: int, barrier: Any = None) -> dict[str, Any]:
    """Fire approve or refuse at every instance, in a shuffled order; answer wins, losses by type, others.

    `db` is a database (the contender opens its own engine and closes it) or an engine to share.
    """
    own = not isinstance(db, Engine)
    engine = build_engine(db, ManualClock(START), worker_id=name) if isinstance(db, str) else db
    rng = random.Random(seed)
    order = list(instance_ids)
    rng.shuffle(order)
    tally = Tally()
    who = actor("auditor", name)
    if barrier is not None:
        barrier.wait(120)
    try:
        for round_ in range(2):  # the second round meets instances the first left in later states
            for instance_id in order:
                event = rng.choice(REVIEW_EVENTS)
                payload = {"reason": f"{name} refuses"} if event == "refuse" else {"note": name}
                tally.fire(engine, instance_id, event, who, payload, where=f"round {round_}: ")
    finally:
        if own:
            engine.close()
    return tally.report(name)


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

    reruns = [0]
    on_stored_row = runtime.on_stored_row

    def counting(command: Any) -> Any:  # the engine's own on_stored_row, its runs of the command counted
        runs = [0]

        def counted() -> Any:
            runs[0] += 1
            return command()

        try:
            return on_stored_row(counted)
        finally:
            reruns[0] += runs[0] - 1

    runtime.on_stored_row = counting  # type: ignore[assignment]
    engine = build_engine(db, ManualClock(START), worker_id=name)
    rng = random.Random(seed)
    tally = Tally()
    actors = {event: actor(kind, f"{name}-{kind}") for event, kind in LOOP_EVENTS.items()}
    barrier.wait(120)
    try:
        for _ in range(passes):
            for instance_id in rng.sample(instance_ids, len(instance_ids)):
                event = rng.choice(list(LOOP_EVENTS))
                tally.fire(engine, instance_id, event, actors[event])
    finally:
        engine.close()
    out.put(tally.report(name, reruns=reruns[0]))


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
