"""Sandboxed guards: parsing, the names they use, evaluation, and refusal of everything reaching internals."""

from __future__ import annotations

import pytest

from engine.errors import ExpressionError
from engine.expressions import GuardSyntaxError, compile_guard, evaluate, parse_guard


def test_parse_guard_answers_the_variables_used() -> None:
    """parse_guard lists the free names of the expression."""
    assert parse_guard("sharing_type == 'conditional' and not control_params") == {"sharing_type", "control_params"}


@pytest.mark.parametrize(("expr", "variables", "expected"), [
    ("sharing_type == 'conditional' and control_params", {"sharing_type": "conditional", "control_params": True}, True),
    ("users | length > 0", {"users": []}, False),
    ("rating >= 3", {"rating": 4}, True),
    ("'x' in tags", {"tags": ["x"]}, True),
    ("note is none", {"note": None}, True),
])
def test_guards_evaluate_over_variables(expr: str, variables: dict[str, object], expected: bool) -> None:
    """Comparisons, boolean operators, filters, tests and membership evaluate as written."""
    assert evaluate(expr, variables) is expected


def test_a_guard_is_compiled_once() -> None:
    """The same text answers the same compiled guard."""
    assert compile_guard("a > 1") is compile_guard("a > 1")


@pytest.mark.parametrize("expr", [
    "().__class__.__bases__",
    "x.__class__",
    "x.__globals__",
    "x['__class__']",
    "x.mro",
    "x.__init__.__globals__",
    "lipsum.__globals__",
    "range(10)",
    "'a'.upper()",
    "x | attr('__class__')",
    "9 ** 9 ** 9",
])
def test_guards_cannot_reach_python_internals(expr: str) -> None:
    """Private attributes, calls, the attr filter and ** are refused when the guard is parsed."""
    with pytest.raises(GuardSyntaxError):
        parse_guard(expr)


@pytest.mark.parametrize("expr", ["{% import 'os' as os %}", "a }} {{ b", "a and", "", "x = 1"])
def test_statements_and_broken_expressions_do_not_parse(expr: str) -> None:
    """Template statements (import), template breaks and incomplete expressions are syntax errors."""
    with pytest.raises(GuardSyntaxError):
        parse_guard(expr)


def test_runtime_failure_is_an_expression_error() -> None:
    """An undefined name at run time raises ExpressionError naming the expression."""
    with pytest.raises(ExpressionError) as err:
        evaluate("missing > 1", {})
    assert err.value.expression == "missing > 1"


def test_type_errors_become_expression_errors() -> None:
    """Comparing a string with a number raises ExpressionError, not TypeError."""
    with pytest.raises(ExpressionError):
        evaluate("a > 1", {"a": "text"})


def test_repetition_is_bounded() -> None:
    """A guard cannot build a huge string by repetition."""
    with pytest.raises(ExpressionError):
        evaluate("'a' * n", {"n": 10**9})


def test_evaluate_refuses_a_disallowed_guard_as_expression_error() -> None:
    """evaluate() of an unsafe text raises ExpressionError too (never runs it)."""
    with pytest.raises(ExpressionError):
        evaluate("x.__class__", {"x": 1})


GUARDS = ["sharing_type == 'conditional' and not control_params", "approved", "rating >= 3 or tags | length > 1",
          "'x' in tags", "note is none", "(rating * 2) | int > 5", "missing_name", "tags[5] == 1", "note.upper",
          "rating + note", "tags | sort | first == 'a'"]
VALUES = [{"sharing_type": "conditional", "control_params": False, "approved": True, "rating": 3, "tags": ["x", "a"],
           "note": None},
          {"sharing_type": "unconditional", "control_params": True, "approved": False, "rating": 1, "tags": [],
           "note": "n"}]


@pytest.mark.parametrize("expr", GUARDS)
@pytest.mark.parametrize("variables", VALUES)
def test_guards_answer_what_the_sandboxed_compiled_expression_answers(expr: str, variables: dict[str, object]) -> None:
    """A guard's truth, or its failure, is that of jinja2's compiled expression in the same sandboxed environment."""
    from engine.expressions import _ENV

    reference = _ENV.compile_expression(expr, undefined_to_none=False)
    try:
        expected: object = bool(reference(dict(variables)))
    except Exception:  # the reference fails: the guard must fail as an ExpressionError naming it
        expected = ExpressionError
    if expected is ExpressionError:
        with pytest.raises(ExpressionError) as err:
            evaluate(expr, variables)
        assert err.value.expression == expr
    else:
        assert evaluate(expr, variables) is expected
