"""Typed field values: coerce payload fields and instance variables to their declared types, and encode them
to and from JSON for storage. Unified social credit codes (GB 32100-2015) are checked to the check digit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from engine.credit_code import is_credit_code, make_credit_code
from engine.errors import PayloadInvalid
from engine.memo import Derived
from engine.spec import FieldSpec, VariableType, WorkflowSpec

#: Default length limits, in characters, when a field does not set `max_length`.
STRING_MAX = 200
TEXT_MAX = 4000
#: A list holds at most this many strings (unless `max_length` says otherwise), each at most STRING_MAX long.
LIST_MAX_ITEMS = 100
#: The JSON size bound of a whole payload or variable set.
PAYLOAD_MAX_BYTES = 64 * 1024

def _expected(field: FieldSpec) -> str:
    t = field.type
    if t is VariableType.STRING:
        return f"a one-line string of at most {field.max_length or STRING_MAX} characters"
    if t is VariableType.TEXT:
        return f"a string of at most {field.max_length or TEXT_MAX} characters"
    if t is VariableType.INT:
        return "an integer (not a boolean)" + _bounds(field)
    if t is VariableType.FLOAT:
        return "a finite number (not a boolean)" + _bounds(field)
    if t is VariableType.BOOL:
        return "true or false"
    if t is VariableType.DATE:
        return "an ISO date such as 2019-06-30"
    if t is VariableType.DATETIME:
        return "an ISO date-time with offset such as 2019-06-30T17:30:00+08:00"
    if t is VariableType.DEPARTMENT:
        return "an 18-character unified social credit code (GB 32100) with a valid check digit"
    if t is VariableType.ENUM:
        return "one of " + ", ".join(repr(v) for v in field.values)
    return f"a list of at most {field.max_length or LIST_MAX_ITEMS} strings of at most {STRING_MAX} characters"


def _bounds(field: FieldSpec) -> str:
    lo, hi = field.minimum, field.maximum
    if lo is not None and hi is not None:
        return f" from {lo} to {hi}"
    if lo is not None:
        return f" of at least {lo}"
    if hi is not None:
        return f" of at most {hi}"
    return ""


def _in_bounds(field: FieldSpec, value: int | float) -> bool:
    return (field.minimum is None or value >= field.minimum) and (field.maximum is None or value <= field.maximum)


def expected_description(field: FieldSpec) -> str:
    """What a value of `field` must look like, in words (for messages)."""
    return _expected(field)


def coerce(field: FieldSpec, value: Any, where: str = "payload") -> Any:
    """Convert and check `value` for `field`; raise PayloadInvalid(field, expected, received) when it does not fit.

    None stands for "absent": it is refused for a required field and returned as None otherwise.
    """
    if value is None:
        if field.required:
            raise PayloadInvalid(field.name, _expected(field) + " (required)", None, where)
        return None
    out = _checker(field)(value)
    if out is _BAD:
        raise PayloadInvalid(field.name, _expected(field), value, where)
    return out


_BAD: Any = object()

#: Per field spec: the check of a value, built once.
_CHECKERS: Derived[Callable[[Any], Any]] = Derived(4096)


def _checker(field: FieldSpec) -> Callable[[Any], Any]:
    return _CHECKERS.of(field, _build_checker)


def _build_checker(field: FieldSpec) -> Callable[[Any], Any]:
    """The check of the common field types with its limits bound in; the others go through `_convert`."""
    t = field.type
    if t is VariableType.STRING or t is VariableType.TEXT:
        limit = field.max_length or (STRING_MAX if t is VariableType.STRING else TEXT_MAX)
        if t is VariableType.TEXT:
            return lambda v: v if isinstance(v, str) and len(v) <= limit and is_clean_text(v) else _BAD
        return lambda v: (v if isinstance(v, str) and len(v) <= limit and "\n" not in v and "\r" not in v
                          and is_clean_text(v) else _BAD)
    if t is VariableType.BOOL:
        return lambda v: v if isinstance(v, bool) else _BAD
    if t is VariableType.ENUM:
        allowed = frozenset(field.values)
        return lambda v: v if isinstance(v, str) and v in allowed else _BAD
    if t is VariableType.DEPARTMENT:
        return lambda v: v if (_known_credit_code(v) if type(v) is str else is_credit_code(v)) else _BAD
    return lambda v: _convert(field, v)


@lru_cache(maxsize=4096)
def _known_credit_code(code: str) -> bool:
    # a handful of departments fill most fields: each code's check digit is computed once
    return is_credit_code(code)


def _convert(field: FieldSpec, value: Any) -> Any:
    t = field.type
    if t in (VariableType.STRING, VariableType.TEXT):
        limit = field.max_length or (STRING_MAX if t is VariableType.STRING else TEXT_MAX)
        if not isinstance(value, str) or len(value) > limit or not is_clean_text(value):
            return _BAD
        if t is VariableType.STRING and ("\n" in value or "\r" in value):
            return _BAD
        return value
    if t is VariableType.INT:
        ok = isinstance(value, int) and not isinstance(value, bool) and _in_bounds(field, value)
        return value if ok else _BAD
    if t is VariableType.FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _BAD
        return float(value) if math.isfinite(value) and _in_bounds(field, value) else _BAD
    if t is VariableType.BOOL:
        return value if isinstance(value, bool) else _BAD
    if t is VariableType.DATE:
        if isinstance(value, datetime):
            return _BAD
        if isinstance(value, date):
            return value
        if isinstance(value, str) and len(value) == 10:
            try:
                return date.fromisoformat(value)
            except ValueError:
                return _BAD
        return _BAD
    if t is VariableType.DATETIME:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return _BAD
        if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None:
            return value
        return _BAD
    if t is VariableType.DEPARTMENT:
        return value if is_credit_code(value) else _BAD
    if t is VariableType.ENUM:
        return value if isinstance(value, str) and value in field.values else _BAD
    # LIST
    limit = field.max_length or LIST_MAX_ITEMS
    if not isinstance(value, list | tuple) or len(value) > limit:
        return _BAD
    if any(not isinstance(v, str) or len(v) > STRING_MAX or not is_clean_text(v) for v in value):
        return _BAD
    return list(value)


def _not_json(data: Mapping[str, Any]) -> tuple[str, Any]:
    """The first field whose value JSON cannot hold, and that value."""
    for k, v in data.items():
        try:
            json.dumps(encode_values({k: v}), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
            return k, v
    return "(all)", data


def _json_size(data: Mapping[str, Any], limit: int) -> int:
    """The payload's JSON size in UTF-8 bytes; a flat mapping of texts, booleans and nulls that cannot reach
    `limit` (at most 6 bytes a character, an escape included) answers its bound without being encoded."""
    bound = 2
    for k, v in data.items():
        if type(v) is str:
            bound += 6 * (len(k) + len(v)) + 8
        elif v is None or type(v) is bool:
            bound += 6 * len(k) + 11
        else:
            bound = limit + 1
            break
    if bound <= limit:
        return bound
    try:
        return len(json.dumps(encode_values(data), ensure_ascii=False).encode("utf-8"))
    except RecursionError:  # nesting too deep to encode is refused as too large
        return PAYLOAD_MAX_BYTES + 1
    except (TypeError, ValueError, UnicodeEncodeError):
        return -1  # a value JSON cannot hold (bytes, an object, a lone surrogate): the caller names the field


_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_clean_text(value: str) -> bool:
    """False for text holding a lone surrogate (e.g. a JSON body's `"\\ud800"`), which no UTF-8 column, hash or
    JSON encoder of the engine can write."""
    return value.isascii() or _SURROGATE.search(value) is None


def check_identifier(value: object, field: str, max_length: int, where: str) -> str:
    """A key a command is given (business key, actor id, idempotency key): non-empty text of at most
    `max_length` characters (its column's size) without control characters or lone surrogates, so every database
    stores it alike."""
    if not isinstance(value, str) or not value or len(value) > max_length or _CONTROL.search(value) is not None:
        raise PayloadInvalid(field, f"a non-empty text of at most {max_length} characters without control characters",
                             value, where)
    return value


def check_text(value: object, field: str, max_length: int, where: str) -> str:
    """A free text a command is given (an admin's reason): text of at most `max_length` characters, no lone
    surrogate, no NUL."""
    if not isinstance(value, str) or len(value) > max_length or "\x00" in value or not is_clean_text(value):
        raise PayloadInvalid(field, f"a text of at most {max_length} characters", value, where)
    return value


def may_name_instance(value: object) -> bool:
    """Whether `value` could be an instance id at all (ids are 32 ASCII characters); others are unknown at once."""
    return isinstance(value, str) and 0 < len(value) <= 32 and value.isascii() and "\x00" not in value


def check_mapping(data: object, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping) or any(not isinstance(k, str) for k in data):
        raise PayloadInvalid("(all)", "a mapping of field names to values", data, where)
    return data


#: A field list's fields by name, its checking plan (name, field, check) in that order, and whether a field is
#: required.
_Plan = tuple[dict[str, FieldSpec], tuple[tuple[str, FieldSpec, Callable[[Any], Any]], ...], bool]
_DECLARED: Derived[_Plan] = Derived(4096)


def _declared(fields: Iterable[FieldSpec]) -> _Plan:
    """The fields by name and how to check each; for a spec's tuple of fields built once."""
    if type(fields) is not tuple:
        return _plan(fields)
    return _DECLARED.of(fields, _plan)


def _plan(fields: Iterable[FieldSpec]) -> _Plan:
    declared = {f.name: f for f in fields}
    return declared, tuple((name, f, _checker(f)) for name, f in declared.items()), any(
        f.required for f in declared.values())


def validate_payload(
    fields: Iterable[FieldSpec], payload: Mapping[str, Any] | None, where: str = "payload",
    max_bytes: int = PAYLOAD_MAX_BYTES,
) -> dict[str, Any]:
    """Check a whole payload: unknown fields refused, required ones enforced, each coerced, size bounded.

    Returns the coerced values of the fields present (absent optional fields are left out).
    """
    declared, plan, required = _declared(fields)
    if not required and (payload is None or (type(payload) is dict and not payload)):
        return {}  # most steps: nothing given, nothing asked for
    data: Any = payload if payload is not None else {}
    # a dict whose names are all declared is a mapping of text names with no unknown field: no need to look
    if type(data) is not dict or not data.keys() <= declared.keys():
        data = check_mapping(data, where)
        for name in data:
            if name not in declared:
                allowed = ", ".join(sorted(declared)) or "none"
                raise PayloadInvalid(name, f"no such field (declared fields: {allowed})", data[name], where)
    size = _json_size(data, max_bytes)
    if size < 0:
        name, value = _not_json(data)
        raise PayloadInvalid(name, "a value JSON can hold: text, a number, true/false, null or a list of texts",
                             value, where)
    if size > max_bytes:
        raise PayloadInvalid("(all)", f"at most {max_bytes} bytes of JSON", f"{size} bytes", where)
    out: dict[str, Any] = {}
    for name, f, check in plan:  # what `coerce` does, with each field's check looked up once
        value = data.get(name)
        if value is None:
            if f.required:
                # name every required field that is missing, so that one answer fixes the whole request
                more = [g.name for n, g, _ in plan if g.required and g is not f and data.get(n) is None]
                also = f"; missing as well: {', '.join(more)}" if more else ""
                raise PayloadInvalid(f.name, f"{_expected(f)} (required{also})", None, where)
            continue
        checked = check(value)
        if checked is _BAD:
            raise PayloadInvalid(f.name, _expected(f), value, where)
        if checked is not None:
            out[name] = checked
    return out


#: (all fields, date and date-time fields by name, fields with a default, every name mapped to None, the names
#: of list fields)
_VariablesOf = tuple[tuple[FieldSpec, ...], dict[str, FieldSpec], tuple[FieldSpec, ...], dict[str, None],
                     tuple[str, ...]]
_VARIABLES: Derived[_VariablesOf] = Derived(256)  # each holds a whole definition's fields


def _variables_of(spec: WorkflowSpec) -> _VariablesOf:
    """What the spec's variables declare, worked out once per spec (callers copy what they change)."""
    return _VARIABLES.of(spec, _work_out_variables)


def _work_out_variables(spec: WorkflowSpec) -> _VariablesOf:
    fields = tuple(spec.variables.values())
    dated = {f.name: f for f in fields if f.type in (VariableType.DATE, VariableType.DATETIME)}
    lists = tuple(f.name for f in fields if f.type is VariableType.LIST)
    return fields, dated, tuple(f for f in fields if f.default is not None), dict.fromkeys(spec.variables), lists


def validate_variables(spec: WorkflowSpec, variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check the variables given at `start`: declared names only, required present, defaults applied."""
    fields, _, defaults, _, _ = _variables_of(spec)
    out = validate_payload(fields, variables, where="variable")
    for f in defaults:
        name = f.name
        if name not in out:
            # a list default is copied: instances must never share (and so change) the definition's value
            out[name] = list(f.default) if isinstance(f.default, list | tuple) else f.default
    return out


def guard_context(spec: WorkflowSpec, variables: Mapping[str, Any]) -> dict[str, Any]:
    """The names a guard sees: every declared variable (None when unset), so only undeclared names are undefined."""
    ctx: dict[str, Any] = _variables_of(spec)[3].copy()
    ctx.update(variables)
    return ctx


def encode_value(value: Any) -> Any:
    """A JSON-safe form of one variable value: dates and date-times as ISO strings, tuples as lists."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value  # most values: checked by type alone, without the abstract Mapping check below
    if kind is dict:
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [encode_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode_value(v) for k, v in value.items()}
    return value


def encode_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-safe form of a variable set, for storage."""
    return {k: encode_value(v) for k, v in values.items()}


def decode_values(spec: WorkflowSpec, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Read back a stored variable set: ISO strings of date and datetime variables become values again.

    A copy: its lists are new lists too. Only declared names are stored (payloads and hooks are checked against
    the declaration), so the list and date fields the spec declares are the only values that need a look.
    """
    _, dated, _, _, lists = _variables_of(spec)
    out = dict(stored)
    for name in lists:
        value = out.get(name)
        if type(value) is list:
            out[name] = list(value)
    for name, f in dated.items():
        value = out.get(name)
        if value is not None:
            out[name] = coerce(f, value, where="stored variable")
    return out


__all__ = [
    "LIST_MAX_ITEMS",
    "PAYLOAD_MAX_BYTES",
    "STRING_MAX",
    "TEXT_MAX",
    "check_identifier",
    "coerce",
    "decode_values",
    "encode_value",
    "encode_values",
    "expected_description",
    "guard_context",
    "is_credit_code",
    "make_credit_code",
    "may_name_instance",
    "validate_payload",
    "validate_variables",
]
