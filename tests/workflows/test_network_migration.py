"""common.network_migration: Guangxi/Liuzhou art. 11 and indicator A1, due at the end of the completion date."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.workflows.conftest import CONSUMER, Harness, at, end_of

WF = "common.network_migration"
PLAN = {"scope": "社保业务专网", "content": "3 个业务系统及其网络", "responsible_leader": "王副局长",
        "responsible_office": "信息科", "liaison": "李四 0772-1234567"}


def start(h: Harness, has_network: bool = True) -> Any:
    return h.start(WF, {"dept": CONSUMER, "has_private_network": has_network, "completion_date": "2026-06-30"},
                   "consumer_admin", at(2026, 3, 2, 10))


def test_main_path_plan_review_connect_migrate_decommission(h: Harness) -> None:
    """The plan passes the leader and the bureau; systems migrate one at a time; the network is withdrawn."""
    inst = start(h)
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


def test_completion_date_warns_breaches_and_escalates(h: Harness) -> None:
    """Due end of 06-30: warnings 10 WD before (end of 06-15, counting back over Dragon Boat 06-19..21) and
    1 WD before (end of 06-29); breach to the leader and the supervisor; level 1 to the bureau at once,
    level 2 to the supervisor at the end of 07-02."""
    inst = start(h)
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


def test_plan_returned_by_the_leader_goes_back_to_self_check(h: Harness) -> None:
    """Tiered review: the department leader returns an incomplete plan."""
    inst = start(h)
    inst = h.fire(inst, "submit_plan", "consumer_admin", at(2026, 3, 9, 10), PLAN)
    inst = h.fire(inst, "return_plan", "consumer_leader", at(2026, 3, 10, 10), {"review_comment": "补充联络员"})
    assert inst.state == "self_check"
    assert h.variables(inst)["review_comment"] == "补充联络员"


def test_department_without_private_network_is_exempted(h: Harness) -> None:
    """A1 note 2: a department with no private network files a document and the bureau confirms the exemption."""
    inst = start(h, has_network=False)
    assert inst.state == "exemption_filing"
    inst = h.fire(inst, "file_exemption", "consumer_admin", at(2026, 3, 3, 10),
                  {"exemption_document": "柳X发〔2026〕3号"})
    inst = h.fire(inst, "confirm_exemption", "bureau", at(2026, 3, 4, 10))
    assert (inst.status, inst.outcome) == ("completed", "exempted")


def test_rejected_exemption_turns_into_a_migration(h: Harness) -> None:
    """The bureau finds a private network after all: the department must plan its migration."""
    inst = start(h, has_network=False)
    inst = h.fire(inst, "file_exemption", "consumer_admin", at(2026, 3, 3, 10), {"exemption_document": "说明"})
    inst = h.fire(inst, "reject_exemption", "bureau", at(2026, 3, 4, 10), {"review_comment": "存在视频专网"})
    assert inst.state == "self_check"
    assert h.variables(inst)["has_private_network"] is True
