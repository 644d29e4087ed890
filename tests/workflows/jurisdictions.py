"""A directory that tags each jurisdiction's bureau and centre (`org: gx.bureau`, ...), for the tests that check a
workflow binds its bureau, centre and supervisor roles to its own jurisdiction."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.clock import ManualClock
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from engine.ports import Actor
from engine.runtime import Engine
from engine.store import InstanceView
from notifiers.directory import YamlDirectory
from storage.sql import SqlInstanceStore
from tests.workflows.conftest import STAFF, Harness, at

ORGS = {"gx.bureau": make_credit_code(711), "gx.center": make_credit_code(712),
        "lz.bureau": make_credit_code(721), "lz.center": make_credit_code(722)}

#: Each jurisdiction's reviewer, centre operator and supervisor, by person id (`gx_bureau`, `lz_supervisor`, ...).
OFFICIALS: dict[str, Actor] = {
    f"{j}_{who}": Actor(f"{j}_{who}", frozenset({base}), ORGS[f"{j}.{org}"])
    for j in ("gx", "lz")
    for who, base, org in (("bureau", "bureau_reviewer", "bureau"), ("center", "center_operator", "center"),
                           ("supervisor", "data_supervisor", "bureau"))
}
#: The departments' people of the shared harness (bureau, centre and supervisor there belong to no department).
LINE_STAFF: dict[str, Actor] = {s.id: s.actor for s in STAFF.values() if s.department is not None}


def write_tagged_directory(folder: Path) -> Path:
    """OFFICIALS and LINE_STAFF as a recipient directory file, each bureau and centre tagged with its org."""
    people = [{"id": a.id, "name": a.id, "roles": sorted(a.roles), "department": a.department,
               "contacts": {"file": f"{a.id}@example.gov.cn"}} for a in (*OFFICIALS.values(), *LINE_STAFF.values())]
    doc: dict[str, Any] = {
        "channels": {"file": {"type": "file", "dir": str(folder / "sent"), "from": "shixian@example.gov.cn"}},
        "departments": [{"code": code, "name": org, "org": org} for org, code in ORGS.items()]
        + [{"code": code, "name": code} for code in sorted({str(a.department) for a in LINE_STAFF.values()})],
        "people": people,
    }
    path = folder / "tagged.yaml"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return path


@contextmanager
def tagged_harness(folder: Path, definitions: DefinitionSet) -> Iterator[Harness]:
    """A Harness whose directory tags gx.bureau, gx.center, lz.bureau and lz.center."""
    store = SqlInstanceStore(str(folder / "tagged.db"))
    clock = ManualClock(at(2026, 1, 5, 9))
    engine = Engine(store, definitions, clock=clock, directory=YamlDirectory(write_tagged_directory(folder)))
    try:
        yield Harness(engine, clock, store)
    finally:
        engine.close()


def act(h: Harness, inst: InstanceView, event: str, who: str, moment: datetime,
        payload: Mapping[str, Any] | None = None) -> InstanceView:
    """Fire `event` as a person of the tagged directory (an official or a department's staff)."""
    h.clock.set(moment)
    return h.engine.fire(inst.id, event, {**OFFICIALS, **LINE_STAFF}[who], payload)


def start(h: Harness, workflow_id: str, variables: Mapping[str, Any], who: str, moment: datetime) -> InstanceView:
    """Start an instance as a department's person of the tagged directory."""
    h.clock.set(moment)
    return h.engine.start(workflow_id, "K-1", variables, LINE_STAFF[who])
