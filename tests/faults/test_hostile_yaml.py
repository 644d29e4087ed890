"""Hostile definition files: alias bombs, python tags, deep nesting, oversized text. Each is a DefinitionError
with a located, one-problem-per-line message, read in bounded memory and CPU time; the database is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import DefinitionError, Engine
from engine.definitions import DefinitionSet
from tests.faults.conftest import dump, measure
from tests.faults.harness.flow import FLOW


def _laughs(levels: int = 9) -> str:
    """The billion laughs: each anchor is nine aliases of the one before, 9**levels leaves in all."""
    lines = ['lol0: &lol0 "lol"']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*lol{i - 1}"] * 9)
        lines.append(f"lol{i}: &lol{i} [{refs}]")
    return FLOW + "\n".join(lines) + "\n"


HOSTILE = {
    "billion_laughs": (_laughs(), "anchor &lol0 is not allowed"),
    "python_object": (FLOW.replace("id: common.fault_flow", "id: !!python/object/apply:os.system ['touch /tmp/x']"),
                      "tag !!python/object/apply:os.system is not allowed"),
    "python_name": ("!!python/name:os.system\n", "tag !!python/name:os.system is not allowed"),
    "merge_alias": (FLOW + "x: &base {a: 1}\ny: {<<: *base}\n", "anchor &base is not allowed"),
    "deep_flow_sequence": ("id: " + "[" * 300_000 + "]" * 300_000 + "\n", "nested deeper than"),
    "deep_flow_mapping": ("id: " + "{a: " * 200_000 + "1" + "}" * 200_000 + "\n", "nested deeper than"),
    "deep_block_mapping": ("".join("  " * i + "a:\n" for i in range(700)), "nested deeper than"),
    "oversized": (FLOW + "description: " + "长" * 400_000 + "\n", "1048576 bytes"),
    "two_documents": (FLOW + "---\n" + FLOW, "holds one document"),
    "nul_byte": (FLOW.replace("name:", "na\x00me:"), "a character YAML does not allow"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_definition_text_is_refused(engine: Engine, name: str) -> None:
    """Engine.add_definition refuses the text with a located DefinitionError and stores no definition."""
    text, expected = HOSTILE[name]
    before = dump(engine)
    cost = measure(lambda: engine.add_definition(text, f"{name}.yaml"))
    assert isinstance(cost.error, DefinitionError), repr(cost.error)
    assert cost.bounded(), f"{name}: {cost.peak_bytes} bytes, {cost.cpu_seconds:.2f} s CPU"
    assert expected in str(cost.error)
    assert all(line.startswith(f"{name}.yaml:") and len(line) < 500 for line in str(cost.error).splitlines())
    assert dump(engine) == before


@pytest.mark.parametrize("name", ["billion_laughs", "python_object", "deep_flow_sequence", "oversized"])
def test_hostile_definition_files_are_refused_by_the_loader(tmp_path: Path, name: str) -> None:
    """DefinitionSet.load refuses the files the same way, and no shell command ran."""
    text, expected = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    cost = measure(lambda: DefinitionSet.load([path]))
    assert isinstance(cost.error, DefinitionError), repr(cost.error)
    assert cost.bounded() and expected in str(cost.error)
    assert not (tmp_path / "x").exists()
