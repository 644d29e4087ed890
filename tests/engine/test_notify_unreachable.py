"""A role whose holders the directory cannot reach (no person, or no contact) is said in the log, once per
workflow, role and department, instead of its notices vanishing without a word."""

from __future__ import annotations

import logging

import pytest

from engine.ports import Person
from tests.engine.conftest import CONSUMER, CONSUMER_ADMIN, PROVIDER, MakeEngine, StaticDirectory, flow_vars

WF = "common.test_flow"


def test_an_auditor_without_contacts_is_reported_once(make_engine: MakeEngine,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """The provider's auditor has no address: two requests write no row for him and one warning naming the role
    and the department."""
    directory = StaticDirectory([
        Person("alice", "Alice", frozenset({"data_admin"}), CONSUMER, {"email": "alice@example.org"}),
        Person("bob", "Bob", frozenset({"data_auditor"}), PROVIDER, {}),
    ])
    engine = make_engine(directory=directory)
    with caplog.at_level(logging.WARNING, logger="engine.notify"):
        for key in ("U-1", "U-2"):
            engine.start(WF, key, flow_vars(), CONSUMER_ADMIN)
    told = [r.getMessage() for r in caplog.records if "can be reached" in r.getMessage()]
    assert told == [f"{WF}: nobody in role provider.data_auditor of 提供局 ({PROVIDER}) can be reached (no person "
                    "with a contact in the directory): its notices go to no one until one is added"]


def test_a_reachable_role_says_nothing(make_engine: MakeEngine, caplog: pytest.LogCaptureFixture) -> None:
    """With the auditor's address in the directory, no such warning."""
    engine = make_engine()
    with caplog.at_level(logging.WARNING, logger="engine.notify"):
        engine.start(WF, "U-3", flow_vars(), CONSUMER_ADMIN)
    assert not [r for r in caplog.records if "can be reached" in r.getMessage()]
