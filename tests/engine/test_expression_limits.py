"""The guard sandbox's allocation bounds: text formatting, repetition, joining, listing, sums, rounding."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import ExpressionError
from engine.expressions import GuardSyntaxError, compile_guard, compile_text_template, evaluate

HUGE_FORMAT = "%800000000d"
#: eleven repetitions of 10,000 characters joined with `~`: a text longer than a filter may turn into items
LONG_TEXT = " ~ ".join(["('a' * 10000)"] * 11)


@pytest.mark.parametrize("expr", [
    f"('{HUGE_FORMAT}' % 1) | length > 0",
    "('%5000000d%5000000d%5000000d' % (1, 2, 3)) | length > 0",
    "('%.900000000f' % 1.5) | length > 0",
    "('%s' % x) == 'a'",
])
def test_formatting_a_text_literal_with_percent_is_refused_when_parsed(expr: str) -> None:
    """`'...' % value` is refused at parse time, with a message saying to join pieces with `~`."""
    with pytest.raises(GuardSyntaxError) as err:
        compile_guard(expr)
    assert err.value.expression == expr
    assert "`~`" in err.value.detail


@pytest.mark.parametrize(("expr", "variables"), [
    ("(fmt % 1) | length > 0", {"fmt": HUGE_FORMAT}),
    ("(fmt % (1, 2)) | length > 0", {"fmt": "%400000000d%400000000d"}),
    ("('%' ~ width ~ 'd') % 1 == ''", {"width": 800000000}),
    ("fmt is odd", {"fmt": HUGE_FORMAT}),
    ("fmt is even", {"fmt": HUGE_FORMAT}),
    ("fmt is divisibleby 3", {"fmt": HUGE_FORMAT}),
    (f"'{HUGE_FORMAT}' is odd", {}),
])
def test_formatting_a_text_with_percent_is_refused_when_evaluated(expr: str, variables: dict[str, Any]) -> None:
    """A text reaching `%` (directly or through odd/even/divisibleby) is an ExpressionError naming the guard."""
    with pytest.raises(ExpressionError) as err:
        evaluate(expr, variables)
    assert err.value.expression == expr
    assert "`%`" in err.value.detail or "tests numbers only" in err.value.detail


@pytest.mark.parametrize(("expr", "variables"), [
    ("7 % 3 == 1", {}),
    ("n % 2 == 0 and n is even and n is divisibleby 4 and 7 is odd", {"n": 8}),
    ("7.5 % 2 == 1.5", {}),
    ("'a' * 3 == 'aaa' and ([0] * 10000) | length == 10000", {}),
    ("tags | sort | join(', ') == 'a, b' and tags | list | length == 2", {"tags": ["b", "a"]}),
    ("[1, 2, 3] | sum == 6 and [1.5, 2] | sum(start=1) == 4.5", {}),
    ("(x | round(1)) == 1.3 and (x | round(1, 'floor')) == 1.2 and (x | string) == '1.26'", {"x": 1.26}),
])
def test_numbers_and_ordinary_filters_still_work(expr: str, variables: dict[str, Any]) -> None:
    """Remainders of numbers, small repetitions, joins, sorts, sums and rounding evaluate as before."""
    assert evaluate(expr, variables) is True


@pytest.mark.parametrize(("expr", "variables", "detail"), [
    ("(['a' * 10000] * 10000) | join | length > 0", {}, "repetition larger than 10000"),
    ("(tags * 10000) | join | length > 0", {"tags": ["a" * 200] * 100}, "repetition larger than 10000"),
    ("([''] * 10000) | join('a' * 10000) | length > 0", {}, "a text of more than 100000"),
    ("('a' * 10000) | join('b' * 10000) | length > 0", {}, "a text of more than 100000"),
    (f"({LONG_TEXT}) | list | length > 0", {}, "more than 100000 items"),
    (f"({LONG_TEXT}) | sort | length > 0", {}, "more than 100000 items"),
    ("((['\\x00'] * 5000) | string | list | string | list | string) | length > 0", {}, "a text of more than 100000"),
    ("rows | string | length > 0", {"rows": [["a" * 50] * 10] * 300}, "a text of more than 100000"),
    ("(rows ~ rows ~ rows) | list | length > 0", {"rows": [["a" * 50] * 10] * 300}, "more than 100000 items"),
    ("lists | sum(start=[]) | length > 0", {"lists": [[0]] * 1000}, "its start must be a number"),
    ("5 | round(-100000000) > 0", {}, "the precision must be a whole number"),
    ("1.5 | round(100000000, 'ceil') > 0", {}, "the precision must be a whole number"),
    ("n * n * n > 0", {"n": 10**2000}, "a product of integers larger than"),
])
def test_building_a_huge_value_is_refused(expr: str, variables: dict[str, Any], detail: str) -> None:
    """Repetition, join, list, sort, string, sum of lists, integer products and round are bounded."""
    with pytest.raises(ExpressionError) as err:
        evaluate(expr, variables)
    assert err.value.expression == expr
    assert detail in err.value.detail


@pytest.mark.parametrize("expr", [
    "range(10 ** 9) | length > 0",
    "range(1000000000) | list | length > 0",
    "lipsum(1000000) | length > 0",
    "x | format(1) | length > 0",
    "x | center(1000000000) | length > 0",
    "x | indent(1000000000) | length > 0",
    "x | wordwrap(1000000000) | length > 0",
    "x | truncate(1000000000) | length > 0",
    "x | replace('a', 'bbbbbbbbbb') | length > 0",
    "x | batch(1000000000) | list | length > 0",
])
def test_calls_and_unlisted_filters_that_could_allocate_are_refused_when_parsed(expr: str) -> None:
    """range, lipsum and the filters that pad, wrap or replace are not reachable from a guard."""
    with pytest.raises(GuardSyntaxError) as err:
        compile_guard(expr)
    assert err.value.expression == expr


def test_a_template_formatting_a_text_with_percent_is_refused_when_parsed() -> None:
    """A text template `{{ '%5000000d' % 1 }}` is refused like a guard."""
    text = "{{ '%5000000d' % 1 }}"
    with pytest.raises(GuardSyntaxError) as err:
        compile_text_template(text)
    assert err.value.expression == text


@pytest.mark.parametrize(("text", "values"), [
    ("{{ fmt % 1 }}", {"fmt": "%5000000d"}),
    ("{{ (['a' * 10000] * 10000) | join }}", {}),
    ("{{ ([''] * 10000) | join('a' * 10000) }}", {}),
])
def test_a_template_building_a_huge_text_is_an_expression_error_naming_it(text: str, values: dict[str, Any]) -> None:
    """Rendering a template that reaches a bound raises ExpressionError with the template as the expression."""
    template = compile_text_template(text)
    with pytest.raises(ExpressionError) as err:
        template.render(values)
    assert err.value.expression == text


def test_a_template_with_numbers_still_renders() -> None:
    """`{{ year }}-H{{ half }}` and a remainder of numbers render as before."""
    template = compile_text_template("{{ year }}-H{{ half }}-{{ month % 12 }}")
    assert template.render({"year": 2026, "half": 2, "month": 14}) == "2026-H2-2"
