"""Command-line text to field values by the field's declared type: one reading of `NAME=VALUE` for `start --var`,
`fire --field` and `simulate --var/--payload`, so a digits-only credit code or a numeric-looking string stays text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.spec import FieldSpec, VariableType

_JSON_TYPES = (VariableType.INT, VariableType.FLOAT, VariableType.BOOL)


def field_value(f: FieldSpec, text: str) -> Any:
    """`text` in the JSON form of `f`'s type: numbers and booleans decoded, a list split on commas (or a JSON
    list), everything else the text itself. What does not convert is passed on as text: the engine then refuses
    it naming the expected form."""
    if f.type is VariableType.LIST:
        if text.lstrip().startswith("["):
            try:
                loaded = json.loads(text)
            except (ValueError, RecursionError):
                return text
            return loaded
        return [part for part in text.split(",") if part]
    if f.type in _JSON_TYPES:
        try:
            return json.loads(text.lower() if f.type is VariableType.BOOL else text)
        except (ValueError, RecursionError):
            return text
    return text


def field_values(fields: Mapping[str, FieldSpec], given: Mapping[str, str]) -> dict[str, Any]:
    """Each given `name -> text` converted by the declared field of that name; an undeclared name keeps its
    text (the engine refuses it with the declared names)."""
    return {name: field_value(fields[name], text) if name in fields else text for name, text in given.items()}
