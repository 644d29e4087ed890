"""lz.data_request: Liuzhou art. 23 (5 WD approval, 2 WD docking) on the Guangxi calendar around 壮族三月三."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from engine.errors import PayloadInvalid
from tests.workflows.conftest import CONSUMER, PROVIDER, Harness, at, end_of

WF = "lz.data_request"


def request(**extra: Any) -> dict[str, Any]:
    values = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "LZ-RES-0042",
              "purpose": "不动产登记核验", "sharing_type": "conditional"}
    values.update(extra)
    return values


def test_main_path_crosses_sanyuesan(h: Harness) -> None:
    """Filed Thu 2026-04-16: 04-17..04-20 are days off in Guangxi, so approval is due end of 04-27 (not 04-23)."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 4, 16, 10))
    assert inst.state == "provider_approval"
    # 04-21, 04-22, 04-23, 04-24, 04-27
    assert h.due(inst, "provider_approval") == end_of(date(2026, 4, 27))

    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 4, 24, 10))
    assert inst.state == "docking"
    assert h.due(inst, "docking") == end_of(date(2026, 4, 28))

    inst = h.fire(inst, "dock", "bureau", at(2026, 4, 28, 9))
    inst = h.fire(inst, "subscribe", "consumer_admin", at(2026, 4, 28, 10))
    assert (inst.status, inst.outcome) == ("completed", "granted")
    assert h.path(inst) == ["route", "provider_approval", "docking", "subscription", "granted"]


def test_docking_due_crosses_labour_day(h: Harness) -> None:
    """Approved Thu 2026-04-30: 05-01..05-05 are off, so docking is due at the end of 05-07."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 4, 29, 10))
    inst = h.fire(inst, "approve", "provider_auditor", at(2026, 4, 30, 16))
    assert h.due(inst, "docking") == end_of(date(2026, 5, 7))


def test_refusal_ends_at_once_with_its_legal_basis(h: Harness) -> None:
    """Liuzhou has no reply push: a refusal (reason + legal basis) ends the request and tells the consumer."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 4, 16, 10))
    with pytest.raises(PayloadInvalid) as err:
        h.fire(inst, "refuse", "provider_auditor", at(2026, 4, 21, 10), {"legal_basis": "《保守国家秘密法》"})
    assert err.value.field == "reason"
    inst = h.fire(inst, "refuse", "provider_auditor", at(2026, 4, 21, 10),
                  {"reason": "涉密", "legal_basis": "《中华人民共和国保守国家秘密法》"})
    assert (inst.status, inst.outcome) == ("completed", "refused")
    assert h.recipients(inst, template="request_refused") == ["consumer_admin"]


def test_unconditional_data_is_granted_at_once(h: Harness) -> None:
    """无条件共享 without control parameters: obtained from the platform directly."""
    inst = h.start(WF, request(sharing_type="unconditional"), "consumer_admin", at(2026, 4, 16, 10))
    assert (inst.status, inst.outcome) == ("completed", "granted")


def test_not_shared_negotiation_then_bureau_coordination_grants(h: Harness) -> None:
    """不予共享: negotiation fails, the bureau coordinates and decides to share: docking follows (2 WD)."""
    inst = h.start(WF, request(sharing_type="not_shared"), "consumer_admin", at(2026, 4, 16, 10))
    assert inst.state == "negotiation"
    inst = h.fire(inst, "negotiation_failed", "provider_auditor", at(2026, 4, 21, 10),
                  {"negotiation_failure": "双方对共享范围有分歧"})
    inst = h.fire(inst, "share", "bureau", at(2026, 4, 22, 10), {"conditions": "按字段脱敏"})
    assert inst.state == "docking"
    assert h.due(inst, "docking") == end_of(date(2026, 4, 24))


def test_consumer_may_withdraw_a_pending_request(h: Harness) -> None:
    """The consumer may withdraw while the provider has not answered; the approval clock stops."""
    inst = h.start(WF, request(), "consumer_admin", at(2026, 4, 16, 10))
    inst = h.fire(inst, "withdraw", "consumer_admin", at(2026, 4, 21, 10))
    assert (inst.status, inst.outcome) == ("completed", "withdrawn")
    assert h.task_clock(inst, "provider_approval").status == "met"
