"""Sandboxed guard expressions: Jinja2 expressions over instance variables, parsed and checked once, evaluated
in an immutable sandbox. No calls, no private attributes, no imports; failures raise ExpressionError.
Short text templates (`{{ year }}-H{{ half }}`) go through the same sandbox and checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from numbers import Number
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta, nodes, pass_environment, pass_eval_context
from jinja2.filters import do_round, do_sort, sync_do_join, sync_do_sum
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import ExpressionError

#: A guard longer than this is refused: guards are one-line conditions, not programs.
MAX_EXPRESSION_LENGTH = 1000

#: The filters and tests a guard may use; everything else is refused when the guard is parsed.
ALLOWED_FILTERS = frozenset(
    {"length", "count", "lower", "upper", "trim", "int", "float", "string", "abs", "round", "first", "last",
     "min", "max", "sum", "list", "unique", "sort", "join", "default", "d", "bool"}
)
ALLOWED_TESTS = frozenset(
    {"defined", "undefined", "none", "true", "false", "boolean", "integer", "float", "number", "string",
     "in", "eq", "ne", "lt", "le", "gt", "ge", "equalto", "sameas", "odd", "even", "divisibleby", "sequence"}
)

#: The product of a repetition (`'x' * n`) may not be larger than this (characters and items, nested ones counted).
_MAX_REPEAT = 10_000
#: A text or list built by a filter (`join`, `string`, `list`, `sort`) may not be larger than this.
_MAX_BUILT = 100_000
#: A product of two integers may not have more bits than this (about 3,000 decimal digits).
_MAX_INT_BITS = 10_000
#: `round` keeps at most this many digits either side of the point.
_MAX_ROUND_DIGITS = 100

# Why these bounds are enough: a guard is at most MAX_EXPRESSION_LENGTH characters, so its literals and the
# operators that only add sizes (`+`, `~`, slicing, `lower`...) build values proportional to its text. What can
# multiply a size is bounded here: repetition (`*`), text formatting (`%`, refused: the `%` of numbers stays),
# `join` (separator times items), `string`/`list`/`sort` (a text becomes items and back, a few times larger
# each turn), `sum` of lists (quadratic), integer products and `round` (powers of ten). Calls are refused at
# parse time, so nothing outside the allowed filters and tests (no `range`, `lipsum`, `format`, `center`...)
# is reachable.


def _size(value: Any, limit: int) -> int:
    """Characters and items in `value`, nested ones counted (an integer counts its bytes); counting stops once
    past `limit`, so a huge value costs no more than a small one."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 8
        elif isinstance(item, dict):
            total += len(item)
            room = max(0, limit - total + 1)
            stack.extend(islice(item.keys(), room))
            stack.extend(islice(item.values(), room))
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(islice(item, max(0, limit - total + 1)))
    return total


_MOD_ON_TEXT = ("`%` is the remainder of two numbers here; formatting a text with it is not allowed "
                "(join the pieces with `~` instead, e.g. `year ~ '-H' ~ half`)")


def _is_number(value: Any) -> bool:
    return isinstance(value, Number)


def _check_repetition(left: Any, right: Any) -> None:
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(n, int) and n > 1 \
                and n * _size(seq, _MAX_REPEAT // n + 1) > _MAX_REPEAT:
            raise ExpressionError("*", f"repetition larger than {_MAX_REPEAT} characters or items")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > _MAX_INT_BITS:
        raise ExpressionError("*", f"a product of integers larger than {_MAX_INT_BITS} bits")


class _GuardEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with no globals and bounds on `*` and `%` so a guard cannot allocate without limit."""

    intercepted_binops = frozenset({"*", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repetition(left, right)
        elif operator == "%" and not (_is_number(left) and _is_number(right)):
            raise ExpressionError("%", _MOD_ON_TEXT)
        return super().call_binop(context, operator, left, right)


def _items(value: Any, what: str) -> list[Any]:
    """`value` as a list of its items (a text: its characters), refused when it would hold over _MAX_BUILT."""
    if isinstance(value, str | list | tuple | dict | set | frozenset) and len(value) > _MAX_BUILT:
        raise ExpressionError(what, f"more than {_MAX_BUILT} items")
    items = list(islice(value, _MAX_BUILT + 1))
    if len(items) > _MAX_BUILT:
        raise ExpressionError(what, f"more than {_MAX_BUILT} items")
    return items


def _text(value: str, what: str) -> str:
    if len(value) > _MAX_BUILT:
        raise ExpressionError(what, f"a text of more than {_MAX_BUILT} characters")
    return value


@pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    items = _items(value, "join")
    if (len(items) > 1 and (len(items) - 1) * len(str(d)) > _MAX_BUILT) \
            or _size(items, _MAX_BUILT) > _MAX_BUILT:
        raise ExpressionError("join", f"a text of more than {_MAX_BUILT} characters")
    return _text(sync_do_join(eval_ctx, items, d, attribute), "join")


def _list(value: Iterable[Any]) -> list[Any]:
    return _items(value, "list")


@pass_environment
def _sort(environment: Any, value: Iterable[Any], reverse: bool = False, case_sensitive: bool = False,
          attribute: str | int | None = None) -> list[Any]:
    return do_sort(environment, _items(value, "sort"), reverse, case_sensitive, attribute)


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if _size(value, _MAX_BUILT) > _MAX_BUILT:
        raise ExpressionError("string", f"a text of more than {_MAX_BUILT} characters")
    return _text(str(value), "string")


@pass_environment
def _sum(environment: Any, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0) -> Any:
    if not _is_number(start):
        raise ExpressionError("sum", "sum adds numbers: its start must be a number")
    return sync_do_sum(environment, iterable, attribute, start)


def _round(value: float, precision: int = 0, method: Any = "common") -> float:
    if not isinstance(precision, int) or abs(precision) > _MAX_ROUND_DIGITS:
        raise ExpressionError("round", f"the precision must be a whole number from -{_MAX_ROUND_DIGITS} "
                                       f"to {_MAX_ROUND_DIGITS}")
    return do_round(value, precision, method)


def _numbers_only(name: str, test: Any) -> Callable[..., bool]:
    """A test computing `value % n` (odd, even, divisibleby), refusing a text before `%` formats it."""
    def checked(value: Any, *args: Any) -> bool:
        if not all(_is_number(v) for v in (value, *args)):
            raise ExpressionError(f"is {name}", f"`{name}` tests numbers only")
        return bool(test(value, *args))
    return checked


_ENV = _GuardEnvironment(undefined=StrictUndefined, autoescape=False)
_ENV.globals.clear()
_ENV.filters = {k: v for k, v in _ENV.filters.items() if k in ALLOWED_FILTERS}
_ENV.filters.update(bool=bool, join=_join, list=_list, sort=_sort, string=_string, sum=_sum, round=_round)
_ENV.tests = {k: v for k, v in _ENV.tests.items() if k in ALLOWED_TESTS}
_ENV.tests.update({name: _numbers_only(name, _ENV.tests[name]) for name in ("odd", "even", "divisibleby")})


class GuardSyntaxError(ValueError):
    """A guard that does not parse or uses something the sandbox refuses; `detail` says what."""

    def __init__(self, expression: str, detail: str) -> None:
        self.expression = expression
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class Guard:
    """A parsed, checked and compiled guard: evaluate it with `evaluate`.

    `_compiled` is the root render function of a template that assigns the expression to `result` (what
    jinja2's `compile_expression` builds); it runs on a context of the sandboxed environment.
    """

    source: str
    names: frozenset[str]
    _compiled: Any
    #: (variable, text) for each comparison of a variable with a text literal (`==`, `!=`, `in`, `not in` a
    #: list of texts): what the validator checks against an enum's values
    literals: tuple[tuple[str, str], ...] = ()


def _literal_comparisons(tree: nodes.Node) -> tuple[tuple[str, str], ...]:
    """The (variable, text literal) pairs a guard compares, either way round."""
    found: list[tuple[str, str]] = []
    for node in (tree, *tree.find_all(nodes.Compare)):
        if not isinstance(node, nodes.Compare):
            continue
        left = node.expr
        for operand in node.ops:
            right = operand.expr
            for name_node, other in ((left, right), (right, left)):
                if not isinstance(name_node, nodes.Name):
                    continue
                if operand.op in ("eq", "ne") and isinstance(other, nodes.Const) and isinstance(other.value, str):
                    found.append((name_node.name, other.value))
                elif (operand.op in ("in", "notin") and name_node is left
                      and isinstance(other, nodes.List | nodes.Tuple)):
                    found += [(name_node.name, item.value) for item in other.items
                              if isinstance(item, nodes.Const) and isinstance(item.value, str)]
            left = right
    return tuple(found)


def _check_tree(expr: str, tree: nodes.Node) -> None:
    # find_all walks only the descendants, so the root is checked too
    for node in (tree, *tree.find_all(nodes.Node)):
        if isinstance(node, nodes.Call):
            raise GuardSyntaxError(expr, "calls are not allowed in a guard (use filters such as `x | length`)")
        if isinstance(node, nodes.Pow):
            raise GuardSyntaxError(expr, "`**` is not allowed in a guard")
        if isinstance(node, nodes.Mod) and isinstance(node.left, nodes.Const) and isinstance(node.left.value, str):
            raise GuardSyntaxError(expr, _MOD_ON_TEXT)
        if isinstance(node, nodes.Getattr) and (node.attr.startswith("_") or node.attr in {"mro", "format"}):
            raise GuardSyntaxError(expr, f"attribute {node.attr!r} is not allowed in a guard")
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            raise GuardSyntaxError(expr, f"item {node.arg.value!r} is not allowed in a guard")
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            allowed = ", ".join(sorted(ALLOWED_FILTERS))
            raise GuardSyntaxError(expr, f"filter {node.name!r} is not allowed; allowed: {allowed}")
        if isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
            allowed = ", ".join(sorted(ALLOWED_TESTS))
            raise GuardSyntaxError(expr, f"test {node.name!r} is not allowed; allowed: {allowed}")


@lru_cache(maxsize=4096)
def compile_guard(expr: str) -> Guard:
    """Parse, check and compile `expr` once (cached); raise GuardSyntaxError when it is not an allowed guard."""
    if not isinstance(expr, str) or not expr.strip():
        raise GuardSyntaxError(str(expr), "a guard must be a non-empty expression")
    if len(expr) > MAX_EXPRESSION_LENGTH:
        raise GuardSyntaxError(expr, f"a guard is at most {MAX_EXPRESSION_LENGTH} characters")
    try:
        parser = Parser(_ENV, expr, state="variable")
        tree = parser.parse_expression()
        if not parser.stream.eos:
            raise GuardSyntaxError(expr, f"unexpected {parser.stream.current.value!r} after the expression")
        _check_tree(expr, tree)
        literals = _literal_comparisons(tree)  # before compiling: jinja2's optimizer folds constants in place
        template = nodes.Template([nodes.Output([tree])], lineno=1)
        template.set_environment(_ENV)
        names = frozenset(meta.find_undeclared_variables(template))
        # what Environment.compile_expression builds, kept as the template so that a guard runs on a bare
        # context: the environment has no globals, so jinja2's copy of them into each context is nothing
        assign = nodes.Template([nodes.Assign(nodes.Name("result", "store"), tree, lineno=1)], lineno=1)
        compiled = _ENV.from_string(assign)
        if compiled.globals:
            raise GuardSyntaxError(expr, "the guard environment must have no globals")
    except TemplateError as err:
        raise GuardSyntaxError(expr, f"does not parse: {err.message or err}") from None
    except (RecursionError, MemoryError):
        raise GuardSyntaxError(expr, "too deeply nested") from None
    return Guard(expr, names, compiled, literals)


def parse_guard(expr: str) -> frozenset[str]:
    """The variable names `expr` uses; raise GuardSyntaxError when it does not parse or is not allowed."""
    return compile_guard(expr).names


def evaluate(expr: str | Guard, variables: Mapping[str, Any]) -> bool:
    """Evaluate a guard over `variables`; any failure (undefined name, type error, sandbox refusal) is an
    ExpressionError naming the expression."""
    try:
        guard = expr if isinstance(expr, Guard) else compile_guard(expr)
    except GuardSyntaxError as err:
        raise ExpressionError(str(expr), err.detail) from None
    try:
        # jinja2 only reads the parent mapping (and the sandbox is immutable): a dict is used as given
        parent = variables if type(variables) is dict else dict(variables)
        context = _ENV.context_class(_ENV, parent, None, {}, None)
        for _ in guard._compiled.root_render_func(context):
            pass
        return bool(context.vars["result"])
    except ExpressionError as err:
        raise ExpressionError(guard.source, err.detail) from None
    except TemplateError as err:
        raise ExpressionError(guard.source, f"{type(err).__name__}: {err}") from None
    except Exception as err:  # a guard is data: whatever it trips on must reach the caller as ExpressionError
        raise ExpressionError(guard.source, f"{type(err).__name__}: {err}") from None


@dataclass(frozen=True, slots=True)
class TextTemplate:
    """A parsed and checked text template: `names` it uses, `render` it over a mapping of values."""

    source: str
    names: frozenset[str]
    _compiled: Any
    #: (variable, text) for each comparison of a variable with a text literal (`==`, `!=`, `in`, `not in` a
    #: list of texts): what the validator checks against an enum's values
    literals: tuple[tuple[str, str], ...] = ()

    def render(self, values: Mapping[str, Any]) -> str:
        """The text with the values filled in; a name missing from `values` or any failure is ExpressionError."""
        try:
            return str(self._compiled.render(dict(values)))
        except ExpressionError as err:  # a sandbox bound: name this template, not the operator
            raise ExpressionError(self.source, err.detail) from None
        except Exception as err:  # a template is data: whatever it trips on reaches the caller as ExpressionError
            raise ExpressionError(self.source, f"{type(err).__name__}: {err}") from None


@lru_cache(maxsize=1024)
def compile_text_template(text: str) -> TextTemplate:
    """Parse and check a short text template with the guard rules (no calls, no private names, only the
    allowed filters, no blocks); raise GuardSyntaxError when it is not allowed."""
    if not isinstance(text, str) or len(text) > MAX_EXPRESSION_LENGTH:
        raise GuardSyntaxError(str(text), f"a template is a text of at most {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = _ENV.parse(text)
        for node in tree.find_all(nodes.Stmt):
            if not isinstance(node, nodes.Output):
                raise GuardSyntaxError(text, "only `{{ name }}` placeholders are allowed, no `{% ... %}` blocks")
        _check_tree(text, tree)
        names = frozenset(meta.find_undeclared_variables(tree))
        compiled = _ENV.from_string(tree)
    except TemplateError as err:
        raise GuardSyntaxError(text, f"does not parse: {err.message or err}") from None
    except (RecursionError, MemoryError):
        raise GuardSyntaxError(text, "too deeply nested") from None
    return TextTemplate(text, names, compiled)


__all__ = ["ALLOWED_FILTERS", "ALLOWED_TESTS", "Guard", "GuardSyntaxError", "TextTemplate", "compile_guard",
           "compile_text_template", "evaluate", "parse_guard"]
