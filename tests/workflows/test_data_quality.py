"""common.data_quality: objection within 2 WD of receipt, 3 WD verification and update, confirmation, rating."""

from __future__ import annotations

from datetime import date

from tests.workflows.conftest import CONSUMER, PROVIDER, Harness, at, end_of

WF = "common.data_quality"
RECEIPT = {"consumer_dept": CONSUMER, "provider_dept": PROVIDER, "resource_id": "GX-RES-0001"}


def test_objection_verification_confirmation_and_rating_around_dragon_boat(h: Harness) -> None:
    """Data received Thu 2026-06-18: 06-19..06-21 are off, so the window ends at the end of 06-23; an objection
    on 06-23 is answered by the end of 06-26; the ratings are kept in the variables."""
    inst = h.start(WF, RECEIPT, "consumer_admin", at(2026, 6, 18, 10))
    assert inst.state == "objection_window"
    assert h.timer_at(inst, "objection_window") == end_of(date(2026, 6, 23))

    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 23, 16), {"objection": "统一社会信用代码有误"})
    assert inst.state == "verification"
    assert h.variables(inst)["objection_late"] is False
    assert h.recipients(inst, template="objection_raised") == ["provider_admin"]
    # 06-24, 06-25, 06-26
    assert h.due(inst, "verification") == end_of(date(2026, 6, 26))

    inst = h.fire(inst, "answer", "provider_admin", at(2026, 6, 26, 11),
                  {"verification_result": "已更正 12 条记录", "data_updated": True})
    assert inst.state == "confirmation"
    inst = h.fire(inst, "confirm", "consumer_admin", at(2026, 6, 29, 9))
    assert inst.state == "rating"
    inst = h.fire(inst, "rate", "consumer_admin", at(2026, 6, 29, 10),
                  {"quality_rating": 4, "responsiveness_rating": 5, "rating_comment": "响应及时"})
    assert (inst.status, inst.outcome) == ("completed", "done")
    values = h.variables(inst)
    assert (values["quality_rating"], values["responsiveness_rating"]) == (4, 5)
    assert values["data_updated"] is True
    # the timer of the window was cancelled by the objection: ticking later changes nothing
    h.tick(at(2026, 7, 31))
    assert h.get(inst).state == "rated"


def test_window_closes_by_itself_and_a_late_objection_is_marked_late(h: Harness) -> None:
    """With no objection the window ends by itself (rating is next); a later objection is taken, marked late."""
    inst = h.start(WF, RECEIPT, "consumer_admin", at(2026, 6, 18, 10))
    h.tick(at(2026, 6, 23, 23, 59))
    assert h.get(inst).state == "objection_window"
    h.tick(end_of(date(2026, 6, 23)))
    assert h.get(inst).state == "rating"
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 30, 10), {"objection": "部分记录缺失"})
    assert inst.state == "verification"
    assert h.variables(inst)["objection_late"] is True
    # 07-01, 07-02, 07-03
    assert h.due(inst, "verification") == end_of(date(2026, 7, 3))


def test_reopen_sends_it_back_with_a_fresh_3_wd(h: Harness) -> None:
    """The consumer re-opens an unsatisfying answer; the provider gets a new 3 WD."""
    inst = h.start(WF, RECEIPT, "consumer_admin", at(2026, 6, 18, 10))
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 22, 10), {"objection": "日期格式错误"})
    inst = h.fire(inst, "answer", "provider_admin", at(2026, 6, 23, 10),
                  {"verification_result": "格式无误", "data_updated": False})
    inst = h.fire(inst, "reopen", "consumer_admin", at(2026, 6, 24, 10), {"objection": "仍为 YYYYMMDD"})
    assert inst.state == "verification"
    assert h.due(inst, "verification") == end_of(date(2026, 6, 29))
    assert len([c for c in h.engine.clocks(inst.id) if c.state == "verification"]) == 2


def test_accepting_within_the_window_goes_straight_to_rating(h: Harness) -> None:
    """A consumer satisfied with the data accepts it and rates it."""
    inst = h.start(WF, RECEIPT, "consumer_admin", at(2026, 6, 18, 10))
    inst = h.fire(inst, "accept", "consumer_admin", at(2026, 6, 22, 10))
    inst = h.fire(inst, "rate", "consumer_admin", at(2026, 6, 22, 11),
                  {"quality_rating": 5, "responsiveness_rating": 5})
    assert inst.outcome == "done"


def test_late_verification_escalates_to_the_auditor_then_the_supervisor(h: Harness) -> None:
    """Verification due end of 06-26: breach to the provider's admin, level 1 to its auditor at once,
    level 2 to the supervisor at the end of 06-29."""
    inst = h.start(WF, RECEIPT, "consumer_admin", at(2026, 6, 18, 10))
    inst = h.fire(inst, "object", "consumer_admin", at(2026, 6, 23, 16), {"objection": "x"})
    for moment in (end_of(date(2026, 6, 25)), end_of(date(2026, 6, 26)), end_of(date(2026, 6, 29))):
        h.tick(moment)
        h.tick(moment)
    got = sorted((s.kind, s.recipient, s.data["level"]) for s in h.sent(inst) if s.kind != "notification")
    assert got == [("breach", "provider_admin", 0), ("escalation", "provider_auditor", 1),
                   ("escalation", "supervisor", 2), ("warning", "provider_admin", 1)]
