"""Listing filters a backend passes: a workflow, state or status no instance could have is refused with the name
meant, since a typo would match nothing and a supervisor's screen would read "nothing overdue"."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine import PayloadInvalid, UnknownInstance, UnknownWorkflow
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from tests.engine.conftest import CONSUMER_ADMIN, MakeEngine, flow_vars

WF = "common.test_flow"
LATE = datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI)  # the review (5 WD from 2 March) is overdue


def test_misspelt_filters_are_refused_with_the_name_meant(make_engine: MakeEngine) -> None:
    engine = make_engine()
    engine.start(WF, "F-1", flow_vars(), CONSUMER_ADMIN)
    with pytest.raises(PayloadInvalid, match="did you mean 'running'"):
        engine.list_instances(status="runing")
    with pytest.raises(UnknownWorkflow, match=r"did you mean 'common\.test_flow'"):
        engine.list_instances(workflow_id="common.test_flw")
    with pytest.raises(PayloadInvalid, match=r"a state of common\.test_flow.*did you mean 'review'"):
        engine.list_instances(workflow_id=WF, state="reveiw")
    with pytest.raises(PayloadInvalid, match=r"a state of some workflow.*did you mean 'review'"):
        engine.list_instances(state="reveiw")
    with pytest.raises(UnknownWorkflow, match=r"did you mean 'common\.test_flow'"):
        engine.overdue(LATE, workflow_id="common.test_flw")
    with pytest.raises(UnknownWorkflow, match=r"did you mean 'common\.test_flow'"):
        engine.find("common.test_flw", "F-1")
    with pytest.raises(UnknownInstance):
        engine.find(WF, "F-2")


def test_the_right_names_list_what_is_there(make_engine: MakeEngine) -> None:
    engine = make_engine()
    engine.start(WF, "F-3", flow_vars(), CONSUMER_ADMIN)
    listed = engine.list_instances(workflow_id=WF, state="review", status="running")
    overdue = engine.overdue(LATE, workflow_id=WF)
    assert [i.business_key for i in listed] == ["F-3"]
    assert {item.instance.business_key for item in overdue} == {"F-3"}
    assert engine.list_instances(status="completed") == []


def test_a_workflow_whose_file_is_gone_is_listed_from_the_database(make_engine: MakeEngine) -> None:
    """The files no longer define it, but its instances run on a version kept in the database: its name and
    states are known, not refused as typos."""
    make_engine().start(WF, "F-4", flow_vars(), CONSUMER_ADMIN)
    restarted = make_engine(DefinitionSet(), flow=None)
    listed = restarted.list_instances(workflow_id=WF, state="review")
    assert [i.business_key for i in listed] == ["F-4"]
    assert WF not in restarted.definitions
