"""Property: whatever is done to a valid definition, the loader and validator answer a spec or a DefinitionError
whose every problem is located in the file — never another exception. Specs that load also compile and draw."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.compiler import CompiledWorkflow
from engine.diagrams import to_bpmn, to_mermaid
from engine.errors import DefinitionError
from engine.loader import load_text, parse_text
from tests.definitions.conftest import REPO, VALID

SOURCES = sorted(VALID.glob("*.yaml")) + sorted((REPO / "workflows").glob("**/*.yaml"))[:6]
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SOURCES}
DATA = {name: parse_text(text, name).data for name, text in TEXTS.items()}

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from(["2 WD", "x WD", "_decide", "bureau.data_supervisor", "review", "", "{{"]),
)
INJECTIONS = [
    "!!python/object/apply:os.system ['true']", "!!binary aGVsbG8=", "&a x", "*a", "!!set {a}", "<<: {a: 1}",
    "{", "]", "'", '"', "\t", "- - -", "? a", "%YAML 1.1", "---", "...", "|", ">", "\x00", "\ufeff", "@",
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated_data(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(DATA)))
    data = copy.deepcopy(DATA[name])
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths[1:]))
        parent, last = _get(data, path[:-1]), path[-1]
        op = draw(st.sampled_from(["delete", "rename", "scalar", "swap", "list", "dict", "truncate"]))
        if op == "delete":
            del parent[last]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = parent.pop(last)
        elif op == "scalar":
            parent[last] = draw(SCALARS)
        elif op == "swap":
            value = parent[last]
            parent[last] = [value] if not isinstance(value, list) else {"x": value}
        elif op == "list":
            parent[last] = draw(st.lists(SCALARS, max_size=3))
        elif op == "dict":
            parent[last] = draw(st.dictionaries(st.text(max_size=8), SCALARS, max_size=3))
        elif op == "truncate" and isinstance(parent[last], str):
            value = parent[last]
            parent[last] = value[: draw(st.integers(0, len(value)))]
    return name, json.dumps(data, ensure_ascii=False, indent=1)  # JSON is YAML: a different layout as well


@st.composite
def mutated_text(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    lines = TEXTS[name].splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["inject", "delete", "duplicate", "indent", "dedent", "truncate", "cut_file"]))
        if op == "inject":
            line = lines[i]
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.sampled_from(INJECTIONS)) + " " + line[at:]
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            lines = lines[:i]
        if not lines:
            lines = [""]
    return name, "\n".join(lines) + "\n"


def _check(name: str, text: str) -> None:
    try:
        spec = load_text(text, name)
    except DefinitionError as err:
        n_lines = max(1, len(text.splitlines()))
        for p in err.problems:
            assert p.file == name
            assert 1 <= p.line <= n_lines + 1 and p.col >= 1, str(p)
            assert p.message
        return
    compiled = CompiledWorkflow(spec)  # whatever validates also compiles and draws
    assert compiled.allowed_events(spec.initial) is not None
    assert to_mermaid(spec) and to_bpmn(spec)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_data())
def test_mutated_documents_answer_a_spec_or_a_located_definition_error(case: tuple[str, str]) -> None:
    """Deleted, renamed, retyped and truncated keys and values: only DefinitionErrors with locations."""
    _check(*case)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_text())
def test_mutated_texts_answer_a_spec_or_a_located_definition_error(case: tuple[str, str]) -> None:
    """Injected tags, anchors and syntax, broken indentation and cut files: only located DefinitionErrors."""
    _check(*case)


def test_sources_are_valid_to_begin_with() -> None:
    """The property starts from definitions that load cleanly."""
    for name, text in TEXTS.items():
        assert load_text(text, name).id
    assert len(TEXTS) >= 2 and Path(SOURCES[0]).exists()
