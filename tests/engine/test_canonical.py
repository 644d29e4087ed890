"""The canonical JSON text the history's hashes cover: one kept encoder must write exactly what the standard
encoder with the same options writes, or every chain written before would stop verifying."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.canonical import canonical_json
from engine.history import GENESIS, step_hash

_STANDARD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)

VALUES: list[Any] = [
    {"consumer_dept": "11450000MB1234567X", "purpose": "用于新生儿出生医学证明办理核验", "control_params": True},
    {"b": 1, "a": [1, 2.5, None, False, {"z": 'quote " back\\ newline\n tab\t', "y": "\u2028\u2029"}]},
    {"big": 10**30, "small": -1e-300, "float": 0.1, "nan": float("nan"), "inf": float("-inf")},
    {"surrogate": "\ud800", "emoji": "😀", "nul": "\x00", "del": "\x7f"},
    {}, [], "plain text", 0, None, True,
    {"nested": {"deeper": {"deepest": [{"k": "v"}]}}},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_kept_encoder_writes_what_the_standard_encoder_writes(value: Any) -> None:
    assert canonical_json(value) == _STANDARD.encode(value)


def test_a_value_json_cannot_hold_is_refused_as_the_standard_encoder_refuses_it() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        canonical_json({"when": object()})


def test_a_step_hash_is_the_sha256_of_the_standard_encoding() -> None:
    """The hash of a step with a payload, recomputed here from the standard encoder's text."""
    import hashlib
    from datetime import UTC, datetime

    at = datetime(2026, 10, 8, 1, 2, 3, 4, tzinfo=UTC)
    payload = {"conditions": "限于出生医学证明核验", "n": 3}
    body = _STANDARD.encode([GENESIS, "i-1", 1, at.isoformat(timespec="microseconds"), "alice", "approve", "audit",
                             "push", payload, "data_auditor", None])
    expected = hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert step_hash(GENESIS, "i-1", 1, at, "alice", "approve", "audit", "push", payload, "data_auditor") == expected
