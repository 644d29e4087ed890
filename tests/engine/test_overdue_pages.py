"""A supervisor's overdue list in pages: `overdue(limit=..., offset=...)` reads every late clock once, in order
of due time, with the instance as it stands; a page that cannot be read is refused by name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from engine import Engine, ManualClock, PayloadInvalid
from engine.views import OverdueItem
from storage.tables import clock_t
from tests.engine.conftest import CONSUMER_ADMIN, flow_vars

WF = "common.test_flow"


def keys(items: list[OverdueItem]) -> list[tuple[str, str]]:
    return [(item.instance.business_key, item.clock.scope) for item in items]


def test_pages_read_every_late_clock_once_in_due_order(engine: Engine, clock: ManualClock) -> None:
    """Five cases started a working day apart, then two more at one moment (equal due times): pages of two
    give exactly the whole list, most overdue first, with ties in a fixed order."""
    for n in range(5):
        engine.start(WF, f"P-{n}", flow_vars(), CONSUMER_ADMIN)
        clock.advance(timedelta(days=1))
    engine.start(WF, "P-tie-a", flow_vars(), CONSUMER_ADMIN)
    engine.start(WF, "P-tie-b", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=60))
    whole = engine.overdue(limit=100)
    assert len(whole) == 14  # each case's review clock and procedure clock
    dues = [item.clock.due_at for item in whole]
    assert dues == sorted(dues)
    assert keys(whole)[0] == ("P-0", "task") and keys(whole)[-1][0].startswith("P-tie")
    pages = [engine.overdue(limit=2, offset=offset) for offset in range(0, 16, 2)]
    assert [len(page) for page in pages] == [2] * 7 + [0]
    assert [item.clock.id for page in pages for item in page] == [item.clock.id for item in whole]


def test_an_item_carries_the_instance_as_it_stands(engine: Engine, clock: ManualClock) -> None:
    """The instance of an overdue item is the current row: its state and row version after the last step."""
    inst = engine.start(WF, "P-now", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=30))
    [procedure, review] = sorted(engine.overdue(), key=lambda item: item.clock.scope)
    assert (procedure.clock.scope, review.clock.scope) == ("procedure", "task")
    assert review.instance == engine.get(inst.id) == procedure.instance
    assert review.instance.state == "review" and review.late_working_days > 0


def test_a_page_of_one_workflow_skips_the_others(engine: Engine, clock: ManualClock) -> None:
    """`workflow_id` filters before the page is cut: offset 1 of one workflow is that workflow's second clock."""
    from tests.engine.conftest import FLOW

    engine.add_definition(FLOW.replace("common.test_flow", "common.other_flow"), "other_flow.yaml")
    engine.start("common.other_flow", "O-1", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=1))
    engine.start(WF, "M-1", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=60))
    mine = engine.overdue(workflow_id=WF)
    assert {item.instance.business_key for item in mine} == {"M-1"}
    assert engine.overdue(limit=1, offset=1, workflow_id=WF) == mine[1:]
    assert engine.overdue(offset=2, workflow_id=WF) == []


@pytest.mark.parametrize(("field", "value"), [("limit", -1), ("limit", 10_001), ("limit", True), ("limit", "2"),
                                              ("offset", -1), ("offset", 1.5), ("offset", None)])
def test_a_page_that_cannot_be_read_is_refused_by_name(engine: Engine, field: str, value: object) -> None:
    """A negative, boolean, fractional or oversized limit or offset is PayloadInvalid naming it, not a driver
    error or (on SQLite, where LIMIT -1 means none) the whole table."""
    with pytest.raises(PayloadInvalid) as err:
        engine.overdue(**{field: value})  # type: ignore[arg-type]
    assert err.value.field == field
    assert str(err.value).startswith(f"overdue field '{field}': expected a whole number from 0 to ")


def test_a_workflow_name_with_nul_is_refused(engine: Engine) -> None:
    """PostgreSQL cannot compare a text holding NUL: the name is refused before the query."""
    with pytest.raises(PayloadInvalid) as err:
        engine.overdue(workflow_id="common.test_flow\x00")
    assert err.value.field == "workflow_id"


def test_breached_clocks_and_late_ones_no_tick_caught_make_one_order(engine: Engine, clock: ManualClock) -> None:
    """The list merges the breached clocks with the late ones no tick has caught yet: here another worker holds
    the earlier case's clocks while a tick breaches the later case's, so the two kinds alternate by due time.
    Pages of one read that same list."""
    first = engine.start(WF, "P-held", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=3))
    engine.start(WF, "P-ticked", flow_vars(), CONSUMER_ADMIN)
    clock.advance(timedelta(days=60))
    with engine.store.engine.begin() as conn:  # another worker's claims, as `claim_clocks` writes them
        conn.execute(update(clock_t).where(clock_t.c.instance_id == first.id)
                     .values(claimed_by="other-worker", claim_expires_at=clock.now() + timedelta(hours=1)))
    engine.tick()
    whole = engine.overdue()
    pages = [engine.overdue(limit=1, offset=offset) for offset in range(5)]
    assert [(key, item.clock.breached) for key, item in zip(keys(whole), whole, strict=True)] == [
        (("P-held", "task"), False), (("P-ticked", "task"), True),
        (("P-held", "procedure"), False), (("P-ticked", "procedure"), True)]
    assert [item for page in pages for item in page] == whole

