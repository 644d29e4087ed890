"""Typed field values: coercion per type, payload and variable validation, credit codes, JSON encoding."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from engine.compiler import CompiledWorkflow
from engine.credit_code import check_character, is_credit_code
from engine.errors import PayloadInvalid
from engine.fields import (
    PAYLOAD_MAX_BYTES,
    coerce,
    decode_values,
    encode_values,
    make_credit_code,
    validate_payload,
    validate_variables,
)
from engine.spec import FieldSpec, VariableType

T = VariableType


def f(t: VariableType, **kw: Any) -> FieldSpec:
    return FieldSpec(name="x", type=t, **kw)


def test_published_credit_code_is_accepted() -> None:
    """A real published unified social credit code passes the GB 32100 check digit."""
    assert is_credit_code("91350100M000100Y43")


def test_credit_code_with_wrong_check_digit_is_refused() -> None:
    """Changing the last character of a valid code makes it invalid."""
    good = make_credit_code(7)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    assert is_credit_code(good) and not is_credit_code(bad)


@pytest.mark.parametrize("code", ["91350100M000100Y4", "91350100M000100Y43X", "91350100m000100Y43",
                                  "9135010OM000100Y43"])
def test_malformed_credit_codes_are_refused(code: str) -> None:
    """Wrong length, lower case and letters outside GB 32100's set (O) are refused."""
    assert not is_credit_code(code)


def test_check_digit_wants_seventeen_characters() -> None:
    """The check digit helper refuses a body that is not 17 valid characters."""
    with pytest.raises(ValueError):
        check_character("123")


@pytest.mark.parametrize(("field", "value", "expected"), [
    (f(T.STRING), "abc", "abc"),
    (f(T.TEXT), "line\nline", "line\nline"),
    (f(T.INT), 3, 3),
    (f(T.FLOAT), 3, 3.0),
    (f(T.BOOL), False, False),
    (f(T.DATE), "2019-06-30", date(2019, 6, 30)),
    (f(T.DATETIME), "2019-06-30T17:30:00+08:00", datetime(2019, 6, 30, 17, 30, tzinfo=timezone(timedelta(hours=8)))),
    (f(T.ENUM, values=("a", "b")), "b", "b"),
    (f(T.LIST), ("u1", "u2"), ["u1", "u2"]),
])
def test_values_of_the_right_type_are_converted(field: FieldSpec, value: Any, expected: Any) -> None:
    """Each type accepts its values and converts ISO strings and tuples."""
    assert coerce(field, value) == expected


@pytest.mark.parametrize(("field", "value"), [
    (f(T.STRING), "x" * 201),
    (f(T.STRING), "two\nlines"),
    (f(T.STRING, max_length=3), "abcd"),
    (f(T.TEXT), "x" * 4001),
    (f(T.INT), True),
    (f(T.INT), 1.5),
    (f(T.INT), "3"),
    (f(T.FLOAT), False),
    (f(T.FLOAT), float("nan")),
    (f(T.BOOL), 1),
    (f(T.BOOL), "true"),
    (f(T.DATE), "2019-02-30"),
    (f(T.DATE), datetime(2019, 6, 30, tzinfo=UTC)),
    (f(T.DATETIME), "2019-06-30T17:30:00"),
    (f(T.DEPARTMENT), "123"),
    (f(T.ENUM, values=("a",)), "c"),
    (f(T.LIST), ["ok", 3]),
    (f(T.LIST, max_length=1), ["a", "b"]),
    (f(T.LIST), "not a list"),
])
def test_values_of_the_wrong_type_are_refused(field: FieldSpec, value: Any) -> None:
    """Strictness: no bool as int, no naive date-times, no numbers as strings, bounded lengths."""
    with pytest.raises(PayloadInvalid) as err:
        coerce(field, value, where="payload")
    assert err.value.field == "x" and err.value.received is value


def test_required_field_refuses_none() -> None:
    """None stands for absent: a required field refuses it and says it is required."""
    with pytest.raises(PayloadInvalid) as err:
        coerce(f(T.TEXT, required=True), None)
    assert "required" in err.value.expected


def test_payload_refuses_unknown_fields_and_names_the_declared_ones() -> None:
    """A payload field the event does not declare is refused."""
    with pytest.raises(PayloadInvalid) as err:
        validate_payload([f(T.TEXT)], {"y": "?"})
    assert err.value.field == "y" and "x" in err.value.expected


def test_payload_enforces_required_and_keeps_only_present_fields() -> None:
    """Required fields must be there; absent optional ones are left out."""
    fields = [FieldSpec("reason", T.TEXT, required=True), FieldSpec("note", T.TEXT)]
    assert validate_payload(fields, {"reason": "r"}) == {"reason": "r"}
    with pytest.raises(PayloadInvalid) as err:
        validate_payload(fields, {"note": "n"})
    assert err.value.field == "reason"


def test_a_payload_missing_several_required_fields_names_them_all() -> None:
    """The refusal names the first missing field and lists the other missing ones, not those given."""
    fields = [FieldSpec("reason", T.TEXT, required=True), FieldSpec("basis", T.TEXT, required=True),
              FieldSpec("note", T.TEXT), FieldSpec("code", T.STRING, required=True)]
    with pytest.raises(PayloadInvalid) as err:
        validate_payload(fields, {"basis": "b", "note": "n"})
    assert err.value.field == "reason"
    assert err.value.expected.endswith("(required; missing as well: code)")
    with pytest.raises(PayloadInvalid) as one:
        validate_payload(fields, {"basis": "b", "code": "c"})
    assert one.value.expected.endswith("(required)")


def test_payload_size_is_bounded() -> None:
    """A payload whose JSON exceeds the bound is refused as a whole."""
    fields = [FieldSpec(f"t{i}", T.TEXT) for i in range(20)]
    payload = {f"t{i}": "x" * 4000 for i in range(20)}
    with pytest.raises(PayloadInvalid) as err:
        validate_payload(fields, payload)
    assert err.value.expected == f"at most {PAYLOAD_MAX_BYTES} bytes of JSON"


@pytest.mark.parametrize("char, width", [("x", 1), ("数", 3), ("\x01", 6), ('"', 2)])
def test_payload_size_is_exact_at_the_bound(char: str, width: int) -> None:
    """A payload of exactly the bound passes and one byte more is refused, whatever bytes its characters take."""
    fields = [FieldSpec("a", T.TEXT, max_length=70000), FieldSpec("b", T.STRING, max_length=70000)]
    overhead = len(json.dumps({"a": "", "b": "y"}, ensure_ascii=False).encode("utf-8"))
    count, rest = divmod(PAYLOAD_MAX_BYTES - overhead, width)
    payload = {"a": char * count, "b": "y" * (1 + rest)}
    assert validate_payload(fields, payload) == payload
    over = {"a": char * count, "b": "y" * (2 + rest)}
    with pytest.raises(PayloadInvalid) as err:
        validate_payload(fields, over)
    assert err.value.received == f"{PAYLOAD_MAX_BYTES + 1} bytes"


def test_identifiers_with_control_characters_are_refused() -> None:
    """Every control character (and DEL) in a key is refused; other characters, Chinese included, pass."""
    from engine.fields import check_identifier

    for code in [*range(32), 0x7F]:
        with pytest.raises(PayloadInvalid):
            check_identifier(f"key{chr(code)}x", "business_key", 200, "start")
    assert check_identifier("申请-2026 #1 ~", "business_key", 200, "start") == "申请-2026 #1 ~"


def test_payload_must_be_a_mapping() -> None:
    """A list instead of a mapping is refused."""
    with pytest.raises(PayloadInvalid):
        validate_payload([f(T.TEXT)], ["x"])  # type: ignore[arg-type]


def test_start_variables_get_defaults_and_need_required(gx: CompiledWorkflow) -> None:
    """validate_variables applies defaults and refuses a start without a required variable."""
    v = validate_variables(gx.spec, {"consumer_dept": make_credit_code(1), "provider_dept": make_credit_code(2),
                                     "resource_code": "r", "sharing_type": "conditional"})
    assert v["control_params"] is False and v["refused"] is False
    with pytest.raises(PayloadInvalid) as err:
        validate_variables(gx.spec, {"consumer_dept": make_credit_code(1)})
    assert err.value.where == "variable"


def test_encoding_round_trips_dates_through_json(gx: CompiledWorkflow) -> None:
    """Encoded variables survive json.dumps/loads and decode to the same values."""
    from engine.spec import WorkflowSpec, frozen_map

    spec = WorkflowSpec(**{**{k: getattr(gx.spec, k) for k in gx.spec.__dataclass_fields__},
                           "variables": frozen_map({"d": FieldSpec("d", T.DATE), "t": FieldSpec("t", T.DATETIME),
                                                    "l": FieldSpec("l", T.LIST)})})
    values = {"d": date(2019, 6, 30), "t": datetime(2020, 1, 2, 3, 4, tzinfo=UTC), "l": ["a"], "n": 1}
    stored = json.loads(json.dumps(encode_values(values)))
    assert stored["d"] == "2019-06-30"
    assert decode_values(spec, stored) == values


def test_list_defaults_are_copied_per_instance() -> None:
    """Two starts never share the definition's list default, and the definition keeps a tuple."""
    from engine.loader import load_text
    from tests.definitions.conftest import GX_REQUEST

    text = GX_REQUEST.read_text(encoding="utf-8").replace(
        "  refused:        {type: bool, default: false}",
        "  refused:        {type: bool, default: false}\n  tags: {type: list, default: [a, b]}")
    spec = load_text(text, "gx.yaml")
    start = {"consumer_dept": make_credit_code(1), "provider_dept": make_credit_code(2), "resource_code": "r",
             "sharing_type": "conditional"}
    first, second = validate_variables(spec, start), validate_variables(spec, start)
    first["tags"].append("c")
    assert second["tags"] == ["a", "b"] and spec.variables["tags"].default == ("a", "b")


@pytest.mark.parametrize("value", [1, 3, 5])
def test_bounded_int_accepts_values_inside_its_bounds(value: int) -> None:
    """An int with min 1 and max 5 takes both ends and the middle."""
    assert coerce(f(T.INT, minimum=1, maximum=5), value) == value


@pytest.mark.parametrize("value", [0, 6, -1])
def test_bounded_int_refuses_values_outside_with_the_range_in_the_message(value: int) -> None:
    """A rating of 0 or 6 is PayloadInvalid and the message states the allowed range."""
    with pytest.raises(PayloadInvalid) as err:
        coerce(f(T.INT, minimum=1, maximum=5), value)
    assert "from 1 to 5" in str(err.value)


def test_float_with_only_a_minimum_refuses_below_and_accepts_above() -> None:
    """A float with `min` only has no upper bound."""
    field = f(T.FLOAT, minimum=0)
    assert coerce(field, 1e9) == 1e9
    with pytest.raises(PayloadInvalid) as err:
        coerce(field, -0.5)
    assert "of at least 0" in str(err.value)


def test_shipped_quality_rating_refuses_a_six() -> None:
    """The data quality workflow's `rate` event refuses a rating above 5 (ratings are 1-5)."""
    from engine.loader import load_file
    from tests.definitions.conftest import REPO

    spec = load_file(REPO / "workflows" / "gx" / "data_quality.yaml")
    rate = spec.transition("rating", "rate")
    assert rate is not None
    good = validate_payload(rate.payload, {"quality_rating": 5, "responsiveness_rating": 1})
    assert good["quality_rating"] == 5
    with pytest.raises(PayloadInvalid) as err:
        validate_payload(rate.payload, {"quality_rating": 6, "responsiveness_rating": 1})
    assert err.value.field == "quality_rating"
