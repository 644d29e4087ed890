"""Organisation-bound roles (`org: bureau|center`): with a tagged directory a Guangxi request reaches, and may be
reviewed by, the Guangxi bureau only; an untagged directory keeps the earlier behaviour and says so in the log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine import authz
from engine.clock import ManualClock
from engine.definitions import DefinitionSet
from engine.errors import PermissionDenied
from engine.fields import make_credit_code
from engine.ports import Actor
from engine.runtime import Engine
from notifiers.directory import YamlDirectory
from storage.sql import SqlInstanceStore
from tests.workflows.conftest import CONSUMER, PROVIDER, Harness, at, end_of

GX_BUREAU = make_credit_code(701)
LZ_BUREAU = make_credit_code(702)
GX_REVIEWER = Actor("gx_reviewer", frozenset({"bureau_reviewer"}), GX_BUREAU)
LZ_REVIEWER = Actor("lz_reviewer", frozenset({"bureau_reviewer"}), LZ_BUREAU)
CONSUMER_ADMIN = Actor("consumer_admin", frozenset({"data_admin"}), CONSUMER)
REQUEST = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "GX-RES-0001",
           "resource_name": "企业登记信息", "purpose": "企业开办一网通办", "sharing_type": "conditional"}


def tagged_directory(folder: Path) -> YamlDirectory:
    people = [("gx_reviewer", "bureau_reviewer", GX_BUREAU), ("lz_reviewer", "bureau_reviewer", LZ_BUREAU),
              ("gx_supervisor", "data_supervisor", GX_BUREAU), ("lz_supervisor", "data_supervisor", LZ_BUREAU),
              ("consumer_admin", "data_admin", CONSUMER), ("provider_auditor", "data_auditor", PROVIDER)]
    doc: dict[str, Any] = {
        "channels": {"file": {"type": "file", "dir": str(folder / "sent"), "from": "shixian@example.gov.cn"}},
        "departments": [{"code": GX_BUREAU, "name": "自治区大数据发展局", "org": "gx.bureau"},
                        {"code": LZ_BUREAU, "name": "柳州市大数据发展局", "org": "lz.bureau"},
                        {"code": CONSUMER, "name": "使用部门"}, {"code": PROVIDER, "name": "提供部门"}],
        "people": [{"id": i, "name": i, "roles": [r], "department": d, "contacts": {"file": f"{i}@example.gov.cn"}}
                   for i, r, d in people],
    }
    path = folder / "tagged.yaml"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return YamlDirectory(path)


@pytest.fixture
def tagged(tmp_path: Path, definitions: DefinitionSet) -> Iterator[Harness]:
    clock = ManualClock(at(2026, 9, 30, 10))
    store = SqlInstanceStore(str(tmp_path / "org.db"))
    engine = Engine(store, definitions, clock=clock, directory=tagged_directory(tmp_path))
    yield Harness(engine, clock, store)
    engine.close()


def test_guangxi_request_is_told_to_the_guangxi_bureau_only(tagged: Harness) -> None:
    """Entering the normative review notifies gx_reviewer, not lz_reviewer, though both hold bureau_reviewer."""
    inst = tagged.engine.start("gx.data_request", "K-1", REQUEST, CONSUMER_ADMIN)
    assert inst.state == "normative_review"
    assert tagged.recipients(inst, template="task_assigned") == ["gx_reviewer"]


def test_liuzhou_reviewer_may_not_review_a_guangxi_request(tagged: Harness) -> None:
    """The Liuzhou bureau's reviewer is refused, the error naming gx.bureau; the Guangxi reviewer passes."""
    inst = tagged.engine.start("gx.data_request", "K-1", REQUEST, CONSUMER_ADMIN)
    assert tagged.engine.allowed_events(inst.id, LZ_REVIEWER) == ()
    with pytest.raises(PermissionDenied) as err:
        tagged.engine.fire(inst.id, "pass", LZ_REVIEWER)
    assert "gx.bureau" in str(err.value)
    assert tagged.engine.get(inst.id).state == "normative_review"
    tagged.clock.set(at(2026, 10, 8, 10))
    assert tagged.engine.fire(inst.id, "pass", GX_REVIEWER).state == "provider_approval"


def test_late_review_escalates_to_the_guangxi_supervisor_only(tagged: Harness) -> None:
    """The review's breach ladder ends at bureau.data_supervisor: Guangxi's supervisor, not Liuzhou's."""
    inst = tagged.engine.start("gx.data_request", "K-1", REQUEST, CONSUMER_ADMIN)
    moment = end_of(date(2026, 10, 20))
    tagged.tick(moment)
    tagged.tick(moment)
    told = {s.recipient for s in tagged.sent(inst) if s.kind in ("breach", "escalation")}
    assert "gx_supervisor" in told and "lz_supervisor" not in told


def test_untagged_directory_keeps_any_holder_and_says_so(h: Harness, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Without `org:` tags any bureau_reviewer may review (as before), and a warning says why, once: it widens who
    may act."""
    monkeypatch.setattr(authz, "_untagged", set())
    caplog.set_level(logging.WARNING, logger="engine.authz")
    inst = h.start("gx.data_request", REQUEST, "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "pass", "bureau", at(2026, 10, 8, 10))
    assert inst.state == "provider_approval"
    lines = [r for r in caplog.records if "no department tagged org gx.bureau" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.WARNING]
