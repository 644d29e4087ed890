"""Art. 39 (Guangxi and Liuzhou): the provider's data administrator receives the requests made to its
department, so it is told, with the data auditor who decides, whenever a request reaches the provider."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.conftest import CONSUMER, PROVIDER, Harness, at

# the step where a conditional request reaches the provider, and how it gets there
PROVIDER_STEP = {
    "gx.data_request": ("provider_approval", [("pass", "bureau")]),  # after the bureau's normative review
    "lz.data_request": ("provider_approval", []),
    "lz.dispatch_data_request": ("provider_review", []),
}


def _request(sharing_type: str) -> dict[str, Any]:
    return {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "RES-0001",
            "resource_name": "企业登记信息", "purpose": "企业开办一网通办", "sharing_type": sharing_type}


def _told_on_entering(h: Harness, inst: Any, state: str) -> list[str]:
    """Who the task notice of the newest entry into `state` went to."""
    rows = [s for s in h.sent(inst, kind="notification", template="task_assigned") if s.data.get("state") == state]
    assert rows, f"no task notice for {state}"
    return sorted(s.recipient for s in rows)


@pytest.mark.parametrize("wf", sorted(PROVIDER_STEP))
def test_conditional_request_reaches_the_providers_admin_and_auditor(h: Harness, wf: str) -> None:
    """A conditional request filed Mon 2026-10-12 is announced to the provider's data administrator and auditor."""
    state, steps = PROVIDER_STEP[wf]
    inst = h.start(wf, _request("conditional"), "consumer_admin", at(2026, 10, 12, 9))
    for event, who in steps:
        inst = h.fire(inst, event, who, at(2026, 10, 12, 15))
    assert inst.state == state
    assert _told_on_entering(h, inst, state) == ["provider_admin", "provider_auditor"]


@pytest.mark.parametrize("wf", sorted(PROVIDER_STEP))
def test_not_shared_request_opens_negotiation_with_the_providers_admin(h: Harness, wf: str) -> None:
    """Data not shared goes to negotiation: both departments are told, the provider's administrator included."""
    inst = h.start(wf, _request("not_shared"), "consumer_admin", at(2026, 10, 12, 9))
    assert inst.state == "negotiation"
    assert _told_on_entering(h, inst, "negotiation") == ["consumer_admin", "provider_admin", "provider_auditor"]


def test_the_provider_admin_of_another_department_is_not_told(h: Harness) -> None:
    """Only the data administrator of the department the request names is told, not every data administrator."""
    inst = h.start("lz.data_request", _request("conditional"), "consumer_admin", at(2026, 10, 12, 9))
    told = h.recipients(inst, template="task_assigned")
    assert "other_admin" not in told and "consumer_admin" not in told
