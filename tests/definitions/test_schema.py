"""The JSON Schema: derived from the validator's key tables, and (when jsonschema is installed) accepting every
shipped workflow and refusing what the validator refuses structurally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.loader import parse_text
from engine.schema import workflow_schema
from engine.spec import StateKind, VariableType
from engine.validation.keys import STATE_KIND_KEYS, TOP_KEYS, TRANSITION_KEYS
from tests.definitions.conftest import REPO, VALID

SHIPPED = sorted((REPO / "workflows").glob("**/*.yaml")) + sorted(VALID.glob("*.yaml"))


def test_schema_is_json_and_lists_the_validator_keys() -> None:
    """Top-level and transition properties are exactly the keys of the validator's tables."""
    schema = json.loads(json.dumps(workflow_schema()))
    assert set(schema["properties"]) == set(TOP_KEYS)
    assert set(schema["properties"]["transitions"]["items"]["properties"]) == set(TRANSITION_KEYS)
    assert schema["required"] == [k for k, v in TOP_KEYS.items() if v.required]


def test_schema_knows_every_state_kind_and_variable_type() -> None:
    """Each state kind has its own branch with its own keys; variable types come from the enum."""
    schema = workflow_schema()
    state = schema["properties"]["states"]["additionalProperties"]
    kinds = {b["if"]["properties"]["kind"]["const"]: b["then"] for b in state["allOf"]}
    assert set(kinds) == {k.value for k in StateKind}
    for kind, branch in kinds.items():
        assert set(STATE_KIND_KEYS[StateKind(kind)]) <= set(branch["properties"])
    var_type = schema["properties"]["variables"]["additionalProperties"]["properties"]["type"]
    assert var_type["enum"] == [t.value for t in VariableType]


jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is optional; the schema checks need it")


def _validator() -> Any:
    schema = workflow_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_every_shipped_workflow_matches_the_schema(path: Path) -> None:
    """Editors will not flag a valid workflow."""
    data = parse_text(path.read_bytes(), str(path)).data
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in _validator().iter_errors(data)]
    assert errors == []


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d.update(descripton="typo"), ""),
    (lambda d: d["states"]["normative_review"].update(asignee="x"), "states.normative_review"),
    (lambda d: d["states"]["normative_review"]["sla"].update(due="2 days"), "states.normative_review.sla.due"),
    (lambda d: d["transitions"][0].update(event="Agree"), "transitions.0.event"),
    (lambda d: d.update(jurisdiction="guangxi"), "jurisdiction"),
])
def test_schema_refuses_what_the_validator_refuses(change: Any, where: str) -> None:
    """Unknown keys, bad durations, bad names and unknown enums are schema errors too."""
    data = parse_text((VALID / "gx_data_request.yaml").read_bytes(), "gx.yaml").data
    change(data)
    errors = list(_validator().iter_errors(data))
    assert errors and any(".".join(map(str, e.absolute_path)).startswith(where) for e in errors)
