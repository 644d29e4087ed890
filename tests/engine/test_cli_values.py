"""Command-line `NAME=VALUE` text read by the declared field type, shared by start, fire and simulate."""

from __future__ import annotations

from typing import Any

import pytest

from engine.cli_values import field_value, field_values
from engine.spec import FieldSpec, VariableType


@pytest.mark.parametrize(("kind", "text", "expected"), [
    (VariableType.DEPARTMENT, "114500000000000071", "114500000000000071"),
    (VariableType.STRING, "123", "123"),
    (VariableType.TEXT, "true", "true"),
    (VariableType.ENUM, "1", "1"),
    (VariableType.DATE, "2026-09-30", "2026-09-30"),
    (VariableType.INT, "3", 3),
    (VariableType.FLOAT, "2.5", 2.5),
    (VariableType.BOOL, "False", False),
    (VariableType.LIST, "a,b", ["a", "b"]),
    (VariableType.LIST, '["a,1", "b"]', ["a,1", "b"]),
    (VariableType.INT, "three", "three"),
])
def test_text_becomes_the_declared_types_value(kind: VariableType, text: str, expected: Any) -> None:
    """Numbers and booleans are decoded only for number and bool fields; text that does not convert stays text."""
    assert field_value(FieldSpec("x", kind), text) == expected


def test_undeclared_names_keep_their_text() -> None:
    """A name the workflow does not declare is passed on as given, for the engine to refuse by name."""
    fields = {"users": FieldSpec("users", VariableType.INT)}
    assert field_values(fields, {"users": "4", "colour": "5"}) == {"users": 4, "colour": "5"}
