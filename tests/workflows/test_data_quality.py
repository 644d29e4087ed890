"""gx.data_quality and lz.data_quality: objection within 2 WD of receipt, 3 WD verification and update, confirmation,
rating; each escalating to its own bureau's supervisor."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.definitions import DefinitionSet
from engine.errors import GuardRejected, PermissionDenied
from tests.workflows.conftest import CONSUMER, PROVIDER, Harness, at, end_of
from tests.workflows.jurisdictions import OFFICIALS, act, tagged_harness
from tests.workflows.jurisdictions import start as start_tagged

WORKFLOWS = ["gx.data_quality", "lz.data_quality"]
#: Data received on Thu 2026-06-18: 06-19..06-21 are off (Dragon Boat), so the window ends at the end of 06-23.
RECEIPT = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "GX-RES-0001",
           "data_received": "2026-06-18"}
UPDATED = {"verification_result": "已更正 12 条记录", "data_updated": True}


@pytest.fixture(params=WORKFLOWS)
def wf(request: pytest.FixtureRequest) -> str:
    """Each test of the shared behaviour runs against the Guangxi and the Liuzhou workflow."""
    return str(request.param)


def start(h: Harness, wf: str, day: int = 18, hour: int = 10) -> Any:
    return h.start(wf, RECEIPT, "consumer_admin", at(2026, 6, day, hour))


def test_objection_verification_confirmation_and_rating_around_dragon_boat(h: Harness, wf: str) -> None:
    """An objection on 06-23 is in time and answered by the end of 06-26; the ratings are kept in the variables."""
    inst = start(h, wf)
    assert inst.state == "objection_window"
    assert h.due(inst, "objection_window") == end_of(date(2026, 6, 23))

    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 23, 16), {"objection": "统一社会信用代码有误"})
    assert inst.state == "verification"
    assert h.variables(inst)["objection_late"] is False
    assert h.task_clock(inst, "objection_window").status == "met"
    assert h.recipients(inst, template="objection_raised") == ["provider_admin"]
    # 06-24, 06-25, 06-26
    assert h.due(inst, "verification") == end_of(date(2026, 6, 26))

    inst = h.fire(inst, "answer", "provider_admin", at(2026, 6, 26, 11), UPDATED)
    assert inst.state == "confirmation"
    assert h.task_clock(inst, "verification").status == "met"
    inst = h.fire(inst, "confirm", "consumer_admin", at(2026, 6, 29, 9))
    assert inst.state == "rating"
    inst = h.fire(inst, "rate", "consumer_admin", at(2026, 6, 29, 10),
                  {"quality_rating": 4, "responsiveness_rating": 5, "rating_comment": "响应及时"})
    assert (inst.status, inst.outcome) == ("completed", "done")
    values = h.variables(inst)
    assert (values["quality_rating"], values["responsiveness_rating"]) == (4, 5)
    assert values["data_updated"] is True


def test_window_counts_from_receipt_not_from_opening(h: Harness, wf: str) -> None:
    """Data received 06-18 and the instance opened on Mon 06-22: the window still ends at the end of 06-23, not
    two working days after the opening (06-24)."""
    inst = start(h, wf, day=22)
    assert h.due(inst, "objection_window") == end_of(date(2026, 6, 23))


def test_opening_on_day_five_and_objecting_is_marked_late(h: Harness, wf: str) -> None:
    """Received 06-18, opened and objected a week later on Thu 06-25 (the 4th working day after receipt): the
    objection is taken, the window's clock stops breached and the consumer is told it was late."""
    inst = start(h, wf, day=25, hour=9)
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 25, 10), {"objection": "部分记录缺失"})
    assert inst.state == "verification"
    window = h.task_clock(inst, "objection_window")
    assert (window.status, window.breached) == ("breached", True)
    assert h.recipients(inst, kind="breach") == ["consumer_admin"]
    # 06-26, 06-29, 06-30
    assert h.due(inst, "verification") == end_of(date(2026, 6, 30))


def test_window_running_out_breaches_to_the_consumer_and_a_late_objection_is_still_taken(h: Harness, wf: str) -> None:
    """No answer by the end of 06-23: the consumer is told at once; an objection on 06-30 is taken, marked late."""
    inst = start(h, wf)
    h.tick(at(2026, 6, 23, 23, 59))
    assert h.recipients(inst, kind="breach") == []
    h.tick(end_of(date(2026, 6, 23)))
    assert h.recipients(inst, kind="breach") == ["consumer_admin"]
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 24, 10), {"objection": "部分记录缺失"})
    assert inst.state == "verification"
    assert h.task_clock(inst, "objection_window").status == "breached"


def test_answer_without_the_update_is_refused_and_the_clock_runs_on(h: Harness, wf: str) -> None:
    """Art. 22(5) / 23(4): feeding back the result does not stop the 3 WD until the data is updated."""
    inst = start(h, wf)
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 22, 10), {"objection": "日期格式错误"})
    with pytest.raises(GuardRejected) as err:
        h.fire(inst, "answer", "provider_admin", at(2026, 6, 23, 10),
               {"verification_result": "已核实，待更新", "data_updated": False})
    assert err.value.guard == "data_updated"
    assert h.get(inst).state == "verification"
    assert h.variables(inst)["data_updated"] is False
    h.tick(end_of(date(2026, 6, 25)))
    assert h.recipients(inst, kind="breach") == ["provider_admin"]
    inst = h.fire(inst, "answer", "provider_admin", at(2026, 6, 26, 10), UPDATED)
    assert inst.state == "confirmation"
    assert h.task_clock(inst, "verification").status == "breached"


def test_reopen_sends_it_back_with_a_fresh_3_wd(h: Harness, wf: str) -> None:
    """The consumer re-opens an unsatisfying answer; the provider gets a new 3 WD."""
    inst = start(h, wf)
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 22, 10), {"objection": "日期格式错误"})
    inst = h.fire(inst, "answer", "provider_admin", at(2026, 6, 23, 10), UPDATED)
    inst = h.fire(inst, "reopen", "consumer_admin", at(2026, 6, 24, 10), {"objection": "仍为 YYYYMMDD"})
    assert inst.state == "verification"
    assert h.due(inst, "verification") == end_of(date(2026, 6, 29))
    assert len([c for c in h.engine.clocks(inst.id) if c.state == "verification"]) == 2


def test_accepting_within_the_window_goes_straight_to_rating(h: Harness, wf: str) -> None:
    """A consumer satisfied with the data accepts it (in time) and rates it."""
    inst = start(h, wf)
    inst = h.fire(inst, "accept", "consumer_admin", at(2026, 6, 22, 10))
    assert h.task_clock(inst, "objection_window").status == "met"
    inst = h.fire(inst, "rate", "consumer_admin", at(2026, 6, 22, 11),
                  {"quality_rating": 5, "responsiveness_rating": 5})
    assert inst.outcome == "done"


def test_error_found_after_accepting_is_still_verified(h: Harness, wf: str) -> None:
    """An error found after the data was accepted goes to the provider like any objection."""
    inst = start(h, wf)
    inst = h.fire(inst, "accept", "consumer_admin", at(2026, 6, 22, 10))
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 30, 10), {"objection": "部分记录缺失"})
    assert inst.state == "verification"
    # 07-01, 07-02, 07-03
    assert h.due(inst, "verification") == end_of(date(2026, 7, 3))


#: Data received on Wed 2026-09-30: 10-01..10-07 are off (National Day), so the window ends at the end of Fri
#: 10-09; Sat 10-10 is a make-up working day (国办发明电〔2025〕7号), the first day after the window.
NATIONAL_DAY_RECEIPT = {**RECEIPT, "data_received": "2026-09-30"}


@pytest.mark.parametrize(("when", "late"), [(at(2026, 10, 9, 23, 59), False), (end_of(date(2026, 10, 9)), True),
                                            (at(2026, 10, 10, 9), True)],
                         ids=["last minute of the window", "its end", "the make-up saturday after it"])
def test_an_objection_after_accepting_is_marked_late_only_after_the_window(
        h: Harness, wf: str, when: Any, late: bool) -> None:
    """PROCEDURES §2: a later objection is accepted but marked late. Accepted on the day of receipt, an error
    found on the second working day after the holiday is in time; one raised when the window has ended (24:00
    on 10-09, or the make-up Saturday) is taken and marked late in `objection_late`."""
    inst = h.start(wf, NATIONAL_DAY_RECEIPT, "consumer_admin", at(2026, 9, 30, 10))
    assert h.due(inst, "objection_window") == end_of(date(2026, 10, 9))
    inst = h.fire(inst, "accept", "consumer_admin", at(2026, 9, 30, 11))
    assert h.variables(inst)["objection_late"] is False
    inst = h.fire(inst, "object", "consumer_admin", when, {"objection": "部分记录缺失"})
    assert inst.state == "verification"
    assert h.variables(inst)["objection_late"] is late
    assert h.task_clock(inst, "objection_window").status == "met"  # the acceptance itself was in time


def test_an_objection_from_the_window_after_it_ended_is_marked_late_as_its_clock_is(h: Harness, wf: str) -> None:
    """The mark agrees with the window's clock: an objection on the make-up Saturday after National Day, the
    window never answered, stops the clock breached and sets `objection_late`."""
    inst = h.start(wf, NATIONAL_DAY_RECEIPT, "consumer_admin", at(2026, 9, 30, 10))
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 10, 10, 9), {"objection": "部分记录缺失"})
    assert h.variables(inst)["objection_late"] is True
    assert h.task_clock(inst, "objection_window").status == "breached"


def test_late_verification_escalates_to_the_auditor_then_the_supervisor(h: Harness, wf: str) -> None:
    """Verification due end of 06-26: breach to the provider's admin, level 1 to its auditor at once,
    level 2 to the supervisor at the end of 06-29."""
    inst = start(h, wf)
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 23, 16), {"objection": "x"})
    for moment in (end_of(date(2026, 6, 25)), end_of(date(2026, 6, 26)), end_of(date(2026, 6, 29))):
        h.tick(moment)
        h.tick(moment)
    got = sorted((s.kind, s.recipient, s.data["level"]) for s in h.sent(inst) if s.kind != "notification")
    assert got == [("breach", "provider_admin", 0), ("escalation", "provider_auditor", 1),
                   ("escalation", "supervisor", 2), ("warning", "provider_admin", 1)]


@pytest.mark.parametrize(("workflow", "own", "other"), [("gx.data_quality", "gx", "lz"),
                                                        ("lz.data_quality", "lz", "gx")])
def test_escalations_reach_the_jurisdictions_supervisor_only(
        tmp_path: Path, definitions: DefinitionSet, workflow: str, own: str, other: str) -> None:
    """Art. 39 of each document gives each bureau its own 数据监督员: a late verification and a window left
    unanswered reach the supervisor of the workflow's jurisdiction, never the other one."""
    with tagged_harness(tmp_path, definitions) as h:
        inst = start_tagged(h, workflow, RECEIPT, "consumer_admin", at(2026, 6, 18, 10))
        h.tick(end_of(date(2026, 6, 29)))  # the window: due end of 06-23, level 1 three working days later
        h.tick(end_of(date(2026, 6, 29)))
        inst = act(h, inst, "object", "consumer_admin", at(2026, 6, 30, 10), {"objection": "x"})
        for moment in (end_of(date(2026, 7, 3)), end_of(date(2026, 7, 6))):
            h.tick(moment)
            h.tick(moment)
        supervisors = [(s.kind, s.recipient) for s in h.sent(inst) if s.recipient.endswith("_supervisor")]
        assert supervisors == [("escalation", f"{own}_supervisor"), ("escalation", f"{own}_supervisor")]
        assert not any(s.recipient == f"{other}_supervisor" for s in h.sent(inst))


@pytest.mark.parametrize(("workflow", "own", "other"), [("gx.data_quality", "gx", "lz"),
                                                        ("lz.data_quality", "lz", "gx")])
def test_only_the_jurisdictions_bureau_may_cancel_a_quality_check(
        tmp_path: Path, definitions: DefinitionSet, workflow: str, own: str, other: str) -> None:
    """The supervisor role is bound to the workflow's bureau, so the other jurisdiction's supervisor may not
    cancel the instance; its own may."""
    with tagged_harness(tmp_path, definitions) as h:
        inst = start_tagged(h, workflow, RECEIPT, "consumer_admin", at(2026, 6, 18, 10))
        with pytest.raises(PermissionDenied) as err:
            h.engine.cancel(inst.id, OFFICIALS[f"{other}_supervisor"], "重复登记")
        status_after_refusal = h.get(inst).status
        done = h.engine.cancel(inst.id, OFFICIALS[f"{own}_supervisor"], "重复登记")
        assert f"{own}.bureau" in err.value.reason
        assert (status_after_refusal, done.status) == ("running", "cancelled")
