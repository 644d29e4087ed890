"""gx.network_migration and lz.network_migration: art. 11 of each and indicator A1, due at the end of the completion
date; each bound to its own bureau, centre and supervisor."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.definitions import DefinitionSet
from engine.errors import PermissionDenied
from tests.workflows.conftest import CONSUMER, Harness, at, end_of
from tests.workflows.jurisdictions import act, tagged_harness
from tests.workflows.jurisdictions import start as start_tagged

WORKFLOWS = ["gx.network_migration", "lz.network_migration"]
PLAN = {"scope": "社保业务专网", "content": "3 个业务系统及其网络", "responsible_leader": "王副局长",
        "responsible_office": "信息科", "liaison": "李四 0772-1234567"}


@pytest.fixture(params=WORKFLOWS)
def wf(request: pytest.FixtureRequest) -> str:
    """Each test of the shared behaviour runs against the Guangxi and the Liuzhou workflow."""
    return str(request.param)


def start(h: Harness, wf: str, has_network: bool = True) -> Any:
    return h.start(wf, {"dept": CONSUMER, "has_private_network": has_network, "completion_date": "2026-06-30"},
                   "consumer_admin", at(2026, 3, 2, 10))


def test_main_path_plan_review_connect_migrate_decommission(h: Harness, wf: str) -> None:
    """The plan passes the leader and the bureau; systems migrate one at a time; the network is withdrawn."""
    inst = start(h, wf)
    assert inst.state == "self_check"
    assert h.procedure_clock(inst).due_at == end_of(date(2026, 6, 30))
    inst = h.fire(inst, "submit_plan", "consumer_admin", at(2026, 3, 9, 10), PLAN)
    inst = h.fire(inst, "endorse", "consumer_leader", at(2026, 3, 10, 10))
    inst = h.fire(inst, "accept_plan", "bureau", at(2026, 3, 12, 10))
    inst = h.fire(inst, "connected", "consumer_admin", at(2026, 4, 1, 10), {"vpn_link": "VPN-GX-0007"})
    assert inst.state == "migrate"
    for moment, system in ((at(2026, 5, 7, 10), "社保卡管理系统"), (at(2026, 5, 20, 10), "待遇发放系统")):
        inst = h.fire(inst, "system_migrated", "consumer_admin", moment, {"last_migrated_system": system})
        assert inst.state == "migrate"
    assert h.variables(inst)["last_migrated_system"] == "待遇发放系统"
    inst = h.fire(inst, "all_migrated", "consumer_admin", at(2026, 6, 1, 10))
    inst = h.fire(inst, "decommissioned", "consumer_admin", at(2026, 6, 29, 10), {"decommission_note": "专网已撤"})
    assert (inst.status, inst.outcome) == ("completed", "done")
    assert h.variables(inst)["responsible_leader"] == "王副局长"
    assert h.procedure_clock(inst).status == "met"


def test_completion_date_warns_breaches_and_escalates(h: Harness, wf: str) -> None:
    """Due end of 06-30: warnings 10 WD before (end of 06-15, counting back over Dragon Boat 06-19..21) and
    1 WD before (end of 06-29); breach to the leader and the supervisor; level 1 to the bureau at once,
    level 2 to the supervisor at the end of 07-02."""
    inst = start(h, wf)
    for moment in (end_of(date(2026, 6, 15)), end_of(date(2026, 6, 29)), end_of(date(2026, 6, 30)),
                   end_of(date(2026, 7, 1)), end_of(date(2026, 7, 2))):
        h.tick(moment)
        h.tick(moment)
    got = sorted((s.kind, s.data["level"], s.recipient) for s in h.sent(inst) if s.kind != "notification")
    assert got == [
        ("breach", 0, "consumer_leader"), ("breach", 0, "supervisor"),
        ("escalation", 1, "bureau"), ("escalation", 2, "supervisor"),
        ("warning", 1, "consumer_admin"), ("warning", 1, "consumer_leader"),
        ("warning", 2, "consumer_admin"), ("warning", 2, "consumer_leader"),
    ]
    warnings = sorted(e.at for e in h.events_of(inst, "warning"))
    assert warnings == [end_of(date(2026, 6, 15)), end_of(date(2026, 6, 29))]


def test_plan_returned_by_the_leader_goes_back_to_self_check(h: Harness, wf: str) -> None:
    """Tiered review: the department leader returns an incomplete plan."""
    inst = start(h, wf)
    inst = h.fire(inst, "submit_plan", "consumer_admin", at(2026, 3, 9, 10), PLAN)
    inst = h.fire(inst, "return_plan", "consumer_leader", at(2026, 3, 10, 10), {"review_comment": "补充联络员"})
    assert inst.state == "self_check"
    assert h.variables(inst)["review_comment"] == "补充联络员"


def test_department_without_private_network_is_exempted(h: Harness, wf: str) -> None:
    """A1 note 2: a department with no private network files a document and the bureau confirms the exemption."""
    inst = start(h, wf, has_network=False)
    assert inst.state == "exemption_filing"
    inst = h.fire(inst, "file_exemption", "consumer_admin", at(2026, 3, 3, 10),
                  {"exemption_document": "柳X发〔2026〕3号"})
    inst = h.fire(inst, "confirm_exemption", "bureau", at(2026, 3, 4, 10))
    assert (inst.status, inst.outcome) == ("completed", "exempted")


def test_rejected_exemption_turns_into_a_migration(h: Harness, wf: str) -> None:
    """The bureau finds a private network after all: the department must plan its migration."""
    inst = start(h, wf, has_network=False)
    inst = h.fire(inst, "file_exemption", "consumer_admin", at(2026, 3, 3, 10), {"exemption_document": "说明"})
    inst = h.fire(inst, "reject_exemption", "bureau", at(2026, 3, 4, 10), {"review_comment": "存在视频专网"})
    assert inst.state == "self_check"
    assert h.variables(inst)["has_private_network"] is True


def test_exemption_neither_warns_nor_escalates_past_the_completion_date(h: Harness, wf: str) -> None:
    """A1 note 2: the indicator is not checked without a private network, so the completion date's clock stands
    still while the exemption is filed and reviewed, even when that runs past the date."""
    inst = start(h, wf, has_network=False)
    assert h.procedure_clock(inst).status == "paused"
    for moment in (end_of(date(2026, 6, 15)), end_of(date(2026, 6, 30)), end_of(date(2026, 7, 2))):
        h.tick(moment)
    inst = h.fire(inst, "file_exemption", "consumer_admin", at(2026, 7, 6, 10), {"exemption_document": "说明"})
    h.tick(end_of(date(2026, 7, 8)))
    inst = h.fire(inst, "confirm_exemption", "bureau", at(2026, 7, 9, 10))
    assert (inst.status, inst.outcome) == ("completed", "exempted")
    assert [s for s in h.sent(inst) if s.kind != "notification"] == []
    assert h.procedure_clock(inst).status == "met"


def test_rejected_exemption_counts_on_from_the_completion_date_moved_by_the_pause(h: Harness, wf: str) -> None:
    """The clock stood still from the start (Mon 03-02) until the rejection (Wed 03-04): 2 working days, so the
    plan is due at the end of 07-02 instead of 06-30."""
    inst = start(h, wf, has_network=False)
    inst = h.fire(inst, "file_exemption", "consumer_admin", at(2026, 3, 3, 10), {"exemption_document": "说明"})
    inst = h.fire(inst, "reject_exemption", "bureau", at(2026, 3, 4, 10), {"review_comment": "存在视频专网"})
    clock = h.procedure_clock(inst)
    assert clock.status == "running"
    assert clock.paused_working_days == 2
    assert clock.due_at == end_of(date(2026, 7, 2))


@pytest.mark.parametrize(("workflow", "own", "other"), [
    ("gx.network_migration", "gx", "lz"), ("lz.network_migration", "lz", "gx")])
def test_only_the_jurisdictions_bureau_accepts_and_only_its_supervisor_is_told(
        tmp_path: Path, definitions: DefinitionSet, workflow: str, own: str, other: str) -> None:
    """Guangxi art. 11(1) sends the plan to the autonomous region's bureau, Liuzhou art. 11(1) to the city's: the
    other bureau is refused; the connection is told to the own centre; the breach and the ladder reach the own
    bureau and supervisor only (art. 39)."""
    with tagged_harness(tmp_path, definitions) as h:
        inst = start_tagged(h, workflow, {"dept": CONSUMER, "has_private_network": True,
                                          "completion_date": "2026-06-30"}, "consumer_admin", at(2026, 3, 2, 10))
        inst = act(h, inst, "submit_plan", "consumer_admin", at(2026, 3, 9, 10), PLAN)
        inst = act(h, inst, "endorse", "consumer_leader", at(2026, 3, 10, 10))
        assert h.recipients(inst, template="task_assigned")[-1:] == [f"{own}_bureau"]
        with pytest.raises(PermissionDenied) as err:
            act(h, inst, "accept_plan", f"{other}_bureau", at(2026, 3, 11, 10))
        assert f"{own}.bureau" in str(err.value)
        assert h.get(inst).state == "bureau_review"
        inst = act(h, inst, "accept_plan", f"{own}_bureau", at(2026, 3, 12, 10))
        assert inst.state == "connect"
        told = {s.recipient for s in h.sent(inst, template="task_assigned")}
        assert f"{own}_center" in told
        assert f"{other}_center" not in told
        for moment in (end_of(date(2026, 6, 30)), end_of(date(2026, 7, 2))):
            h.tick(moment)
        alerts = {(s.kind, s.recipient) for s in h.sent(inst) if s.kind in ("breach", "escalation")}
        assert alerts == {("breach", "consumer_leader"), ("breach", f"{own}_supervisor"),
                          ("escalation", f"{own}_bureau"), ("escalation", f"{own}_supervisor")}
