"""The Wuxi sharing report (plan §四(二)): the June round is the half-year report, December's the full-year one."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from engine.definitions import DefinitionSet
from engine.periods import recurring_variables
from engine.ports import Actor
from tests.workflows.conftest import Harness, at, end_of

WF = "cq.sharing_report"


def test_name_covers_both_reports(definitions: DefinitionSet) -> None:
    """每年6月15日和12月15日…分别报送半年和全年: the procedure is named for both, not for the half-year alone."""
    name = definitions.get(WF).spec.name.zh
    assert "半年" in name and "全年" in name


@pytest.mark.parametrize(("fired", "scope", "due"), [
    (at(2026, 6, 1, 9), "half_year", date(2026, 6, 15)),
    (at(2026, 12, 1, 9), "full_year", date(2026, 12, 15)),
])
def test_worker_round_records_which_report_it_is(h: Harness, definitions: DefinitionSet, fired: datetime,
                                                 scope: str, due: date) -> None:
    """A round the worker starts on 1 June is the half-year report, on 1 December the full-year report."""
    spec = definitions.get(WF).spec
    h.clock.set(fired)
    inst = h.engine.start(WF, f"round-{fired:%Y-%m}", recurring_variables(spec, fired), Actor.system())
    assert h.variables(inst)["report_scope"] == scope
    assert h.due(inst, "report_round") == end_of(due)
    notices = h.sent(inst, template="recurring_duty_due")
    assert notices and {s.data["workflow_name"] for s in notices} == {spec.name.zh}
