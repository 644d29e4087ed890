"""Registering a hook no loaded workflow declares warns with the closest declared name; a declared one is quiet."""

from __future__ import annotations

import logging

import pytest

from tests.engine.conftest import MakeEngine


def test_a_misspelt_hook_name_warns_with_the_declared_names(make_engine: MakeEngine,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """`count_user` for the flow's `count_users`: registered, and the log says which name was meant."""
    engine = make_engine()
    with caplog.at_level(logging.WARNING, logger="engine.runtime"):
        engine.register_hook("count_user", lambda variables: {"users": 0})
    [record] = [r for r in caplog.records if "declared by no loaded workflow" in r.getMessage()]
    assert "(did you mean 'count_users'?)" in record.getMessage()
    assert "count_user" in engine.hooks.names()


def test_a_declared_hook_registers_quietly(make_engine: MakeEngine, caplog: pytest.LogCaptureFixture) -> None:
    """The flow's own hook name draws no warning."""
    engine = make_engine()
    with caplog.at_level(logging.WARNING, logger="engine.runtime"):
        engine.register_hook("count_users", lambda variables: {"users": 0})
    assert not [r for r in caplog.records if "declared by no loaded workflow" in r.getMessage()]
