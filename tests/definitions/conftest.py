"""Shared fixtures of the definition tests: the fixture folders and a valid Guangxi request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.compiler import CompiledWorkflow, compile_workflow
from engine.fields import make_credit_code, validate_variables
from engine.loader import load_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
VALID = FIXTURES / "valid"
INVALID = FIXTURES / "invalid"
REPO = Path(__file__).resolve().parents[2]
GX_REQUEST = VALID / "gx_data_request.yaml"


@pytest.fixture(scope="session")
def gx() -> CompiledWorkflow:
    return compile_workflow(load_file(GX_REQUEST))


@pytest.fixture
def gx_vars(gx: CompiledWorkflow) -> dict[str, Any]:
    return validate_variables(gx.spec, {
        "consumer_dept": make_credit_code(1),
        "provider_dept": make_credit_code(2),
        "resource_code": "450000-001",
        "sharing_type": "conditional",
    })
