"""The committed JSON Schema that editors point at is the one the language model generates."""

from __future__ import annotations

import json
from pathlib import Path

from engine.schema import workflow_schema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_generated_one() -> None:
    """docs/workflow.schema.json is regenerated with `cli.py schema > docs/workflow.schema.json`."""
    committed = json.loads((ROOT / "docs" / "workflow.schema.json").read_text(encoding="utf-8"))
    assert committed == workflow_schema()
