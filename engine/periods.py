"""Period values of a recurring start's fire moment (`{{ year }}`, `{{ half_year_end }}`, ...) and the rendering
of `recurring.business_key` and `recurring.variables` over them, in the sandbox of `engine.expressions`.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from engine.clock import SHANGHAI
from engine.errors import ExpressionError
from engine.expressions import GuardSyntaxError, compile_text_template
from engine.fields import coerce
from engine.spec import WorkflowSpec

#: The names a recurring template may use, with what they stand for (docs/language.md, "Recurring starts").
PERIOD_NAMES: Mapping[str, str] = {
    "year": "the fire year, e.g. 2026",
    "month": "the fire month, two digits",
    "day": "the fire day of the month, two digits",
    "date": "the fire date, ISO",
    "fire_date": "the fire date, ISO (same as date)",
    "quarter": "1-4",
    "half": "1 (January-June) or 2 (July-December)",
    "month_end": "the last day of the fire month, ISO",
    "quarter_end": "the last day of the fire quarter, ISO",
    "half_year_start": "1 January or 1 July of the fire half year, ISO",
    "half_year_end": "30 June or 31 December of the fire half year, ISO",
    "year_end": "31 December of the fire year, ISO",
}


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def period_values(moment: datetime) -> dict[str, str]:
    """The period values of a fire moment, read in Asia/Shanghai (a naive moment is taken as Shanghai time)."""
    local = moment.astimezone(SHANGHAI) if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)
    y, m = local.year, local.month
    quarter = (m - 1) // 3 + 1
    half = 1 if m <= 6 else 2
    return {
        "year": f"{y}", "month": f"{m:02d}", "day": f"{local.day:02d}",
        "date": local.date().isoformat(), "fire_date": local.date().isoformat(),
        "quarter": f"{quarter}", "half": f"{half}",
        "month_end": _month_end(y, m).isoformat(),
        "quarter_end": _month_end(y, quarter * 3).isoformat(),
        "half_year_start": date(y, 1 if half == 1 else 7, 1).isoformat(),
        "half_year_end": _month_end(y, 6 if half == 1 else 12).isoformat(),
        "year_end": date(y, 12, 31).isoformat(),
    }


def is_template(value: object) -> bool:
    """A recurring value is a template when it is text with a `{{` or `{%` in it."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render_period(template: str, moment: datetime) -> str:
    """Render one template over the fire moment; ExpressionError for a name outside PERIOD_NAMES."""
    try:
        compiled = compile_text_template(template)
    except GuardSyntaxError as err:
        raise ExpressionError(template, err.detail) from None
    unknown = sorted(compiled.names - set(PERIOD_NAMES))
    if unknown:
        raise ExpressionError(template, f"unknown period name {unknown[0]!r}; known: {', '.join(PERIOD_NAMES)}")
    return compiled.render(period_values(moment))


def recurring_business_key(spec: WorkflowSpec, moment: datetime) -> str:
    """The business key of the round that fires at `moment`."""
    if spec.recurring is None:
        raise ExpressionError(spec.id, "the workflow is not recurring")
    return render_period(spec.recurring.business_key, moment)


def recurring_variables(spec: WorkflowSpec, moment: datetime) -> dict[str, Any]:
    """The variables of the round that fires at `moment`: templates rendered over its period, every value
    converted to its variable's type (a date template becomes a date)."""
    if spec.recurring is None:
        return {}
    out: dict[str, Any] = {}
    for name, value in spec.recurring.variables.items():
        if is_template(value):
            value = render_period(value, moment)
        field = spec.variables.get(name)
        out[name] = coerce(field, value, "recurring") if field is not None else value
    return out


__all__ = ["PERIOD_NAMES", "is_template", "period_values", "recurring_business_key", "recurring_variables",
           "render_period"]
