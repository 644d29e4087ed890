"""The JSON Schema of the workflow language, derived from the validator's key tables and the spec's enums, so
editors (`# yaml-language-server: $schema=...`) complete and check the same keys the validator accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.spec import StateKind, VariableType
from engine.validation.keys import (
    BRANCH_KEYS,
    CALENDARS,
    CRON_PATTERN,
    DUE_KEYS,
    DURATION_PATTERN,
    ESCALATION_KEYS,
    FIELD_KEYS,
    JURISDICTIONS,
    LATE_KEYS,
    LOCALIZED_KEYS,
    NAME_RE,
    NOTIFICATION_KEYS,
    ORGANISATIONS,
    RECURRING_KEYS,
    ROLE_KEYS,
    ROLE_RE,
    SLA_KEYS,
    SOURCE_KEYS,
    START_KEYS,
    STATE_COMMON_KEYS,
    STATE_KIND_KEYS,
    TOP_KEYS,
    TRANSITION_KEYS,
    WORKFLOW_ID_RE,
    Key,
)

SCHEMA_ID = "https://shixian.example/schemas/workflow.schema.json"

Schema = dict[str, Any]


def _one_or_many(item: Schema) -> Schema:
    return {"oneOf": [item, {"type": "array", "items": item}]}


def _obj(keys: Mapping[str, Key], title: str = "") -> Schema:
    out: Schema = {
        "type": "object",
        "properties": {name: _kind(key.kind, key.doc) for name, key in keys.items()},
        "additionalProperties": False,
    }
    required = [name for name, key in keys.items() if key.required]
    if required:
        out["required"] = required
    if title:
        out["title"] = title
    return out


_NAME: Schema = {"type": "string", "pattern": NAME_RE.pattern}
_ROLE: Schema = {"type": "string", "pattern": ROLE_RE.pattern}
_DURATION: Schema = {"type": "string", "pattern": DURATION_PATTERN}


def _states() -> Schema:
    branches = [
        {
            "if": {"properties": {"kind": {"const": kind.value}}, "required": ["kind"]},
            "then": _obj({**STATE_COMMON_KEYS, **STATE_KIND_KEYS[kind]}, f"{kind.value} state"),
        }
        for kind in StateKind
    ]
    state = {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": _kind("state_kind", STATE_COMMON_KEYS["kind"].doc)},
        "allOf": branches,
    }
    return {"type": "object", "minProperties": 1, "propertyNames": _NAME, "additionalProperties": state}


def _kind(kind: str, doc: str = "") -> Schema:
    simple: dict[str, Schema] = {
        "workflow_id": {"type": "string", "pattern": WORKFLOW_ID_RE.pattern},
        "jurisdiction": {"enum": list(JURISDICTIONS)},
        "calendar": {"enum": list(CALENDARS)},
        "text": {"type": "string"},
        "name": _NAME,
        "event_name": _NAME,
        "role_ref": _ROLE,
        "role_refs": _one_or_many(_ROLE),
        "names": _one_or_many(_NAME),
        "name_or_names": _one_or_many(_NAME),
        "strings": {"type": "array", "items": {"type": ["string", "number"]}},
        "duration": _DURATION,
        "durations": _one_or_many(_DURATION),
        "bool": {"type": "boolean"},
        "positive_int": {"type": "integer", "minimum": 1},
        "number": {"type": "number"},
        "org": {"enum": list(ORGANISATIONS)},
        "any": {},
        "mapping_any": {"type": "object"},
        "expression": {"type": "string", "minLength": 1},
        "variable_type": {"enum": [t.value for t in VariableType]},
        "state_kind": {"enum": [k.value for k in StateKind]},
        "cron": {"type": "string", "pattern": CRON_PATTERN},
    }
    if kind in simple:
        out = dict(simple[kind])
    elif kind == "localized":
        out = {"oneOf": [{"type": "string"}, _obj(LOCALIZED_KEYS)]}
    elif kind == "sources":
        out = {"type": "array", "minItems": 1, "items": _obj(SOURCE_KEYS)}
    elif kind == "roles":
        out = {"type": "object", "propertyNames": _ROLE, "additionalProperties": _obj(ROLE_KEYS)}
    elif kind == "fields":
        out = {"type": "object", "propertyNames": _NAME, "additionalProperties": _obj(FIELD_KEYS)}
    elif kind == "hooks":
        out = {"type": "object", "propertyNames": _NAME, "additionalProperties": {"type": "string"}}
    elif kind == "states":
        out = _states()
    elif kind == "transitions":
        out = {"type": "array", "items": _obj(TRANSITION_KEYS)}
    elif kind in ("task_sla", "procedure_sla"):
        out = _obj(SLA_KEYS)
    elif kind == "due":
        out = {"oneOf": [_DURATION, _obj(DUE_KEYS)]}
    elif kind == "late":
        out = _obj(LATE_KEYS)
    elif kind == "notifications":
        out = {"type": "array", "items": _obj(NOTIFICATION_KEYS)}
    elif kind == "escalations":
        out = {"type": "array", "items": _obj(ESCALATION_KEYS)}
    elif kind == "branches":
        out = {"type": "array", "minItems": 1, "items": _obj(BRANCH_KEYS)}
    elif kind == "start":
        out = _obj(START_KEYS)
    elif kind == "recurring":
        out = _obj(RECURRING_KEYS)
    else:  # a key table names a kind this module does not know: a programming error, caught by the tests
        raise KeyError(f"no JSON Schema for value kind {kind!r}")
    if doc:
        out["description"] = doc
    return out


def workflow_schema() -> Schema:
    """The JSON Schema (draft-07) of one workflow file."""
    schema = _obj(TOP_KEYS, "shixian workflow definition")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "description": "A regulated procedure as a workflow; see docs/language.md",
        **schema,
    }


def schema_json(indent: int = 2) -> str:
    """The schema as JSON text (what `cli.py schema` prints)."""
    return json.dumps(workflow_schema(), ensure_ascii=False, indent=indent, sort_keys=False)


__all__ = ["SCHEMA_ID", "schema_json", "workflow_schema"]
