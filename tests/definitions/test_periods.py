"""Period values of a recurring fire moment and the rendering of recurring templates over them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.clock import SHANGHAI
from engine.errors import ExpressionError
from engine.periods import period_values, recurring_business_key, recurring_variables, render_period
from engine.spec import FieldSpec, RecurringSpec, VariableType, WorkflowSpec, frozen_map


def at(y: int, m: int, d: int, hour: int = 9) -> datetime:
    return datetime(y, m, d, hour, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("moment", "half_end", "quarter_end", "month_end"), [
    (at(2026, 6, 1), "2026-06-30", "2026-06-30", "2026-06-30"),
    (at(2026, 12, 1), "2026-12-31", "2026-12-31", "2026-12-31"),
    (at(2028, 2, 1), "2028-06-30", "2028-03-31", "2028-02-29"),
    (at(2026, 7, 1), "2026-12-31", "2026-09-30", "2026-07-31"),
])
def test_period_ends_follow_the_fire_date(moment: datetime, half_end: str, quarter_end: str, month_end: str) -> None:
    """Half-year, quarter and month ends are those of the fire date's period (leap February included)."""
    v = period_values(moment)
    assert (v["half_year_end"], v["quarter_end"], v["month_end"]) == (half_end, quarter_end, month_end)
    assert v["year_end"] == f"{moment.year}-12-31"


def test_period_values_are_read_in_shanghai() -> None:
    """16:30 UTC on 30 June is already 1 July in Shanghai: the second half year."""
    v = period_values(datetime(2026, 6, 30, 16, 30, tzinfo=UTC))
    assert (v["fire_date"], v["half"], v["half_year_start"]) == ("2026-07-01", "2", "2026-07-01")


def test_render_fills_several_names() -> None:
    """A key template combines names and text."""
    assert render_period("refresh-{{ year }}-H{{ half }}-{{ month }}", at(2026, 12, 1)) == "refresh-2026-H2-12"


@pytest.mark.parametrize("template", ["{{ yeer }}", "{{ year.__class__ }}", "{{ lipsum() }}"])
def test_render_refuses_unknown_names_and_sandbox_escapes(template: str) -> None:
    """Names outside the period values, private attributes and calls are ExpressionError, not Python errors."""
    with pytest.raises(ExpressionError) as err:
        render_period(template, at(2026, 6, 1))
    assert template in str(err.value)


def _spec() -> WorkflowSpec:
    end = FieldSpec("period_end", VariableType.DATE, required=True)
    note = FieldSpec("note", VariableType.STRING)
    return WorkflowSpec(
        id="lz.sample", name=None, jurisdiction="lz", calendar="CN-GX", initial="a", states=frozen_map({}),  # type: ignore[arg-type]
        transitions=(), variables=frozen_map({"period_end": end, "note": note}),
        recurring=RecurringSpec("0 9 1 6,12 *", "r-{{ year }}-H{{ half }}",
                                frozen_map({"period_end": "{{ half_year_end }}", "note": "plain"})),
    )


def test_recurring_variables_render_templates_and_type_them() -> None:
    """A date template becomes a date; a plain value is kept as it is."""
    assert recurring_variables(_spec(), at(2026, 12, 1)) == {"period_end": date(2026, 12, 31), "note": "plain"}
    assert recurring_business_key(_spec(), at(2026, 12, 1)) == "r-2026-H2"
