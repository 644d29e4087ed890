"""Hostile directory files end in a DirectoryError at file:line: aliases, anchors, tags, depth, size, encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.loader import MAX_FILE_BYTES
from notifiers.directory import YamlDirectory
from notifiers.errors import DirectoryError

CHANNELS = "channels:\n  file: {type: file, dir: out}\n"


def refused(path: Path) -> str:
    """The single problem YamlDirectory reports for `path`."""
    with pytest.raises(DirectoryError) as caught:
        YamlDirectory(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def test_an_alias_fan_out_is_refused_at_the_first_alias(tmp_path: Path) -> None:
    """A billion-laughs file is refused at once, at the line of its first alias, before anything expands."""
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\npeople: *a11\n", encoding="utf-8")
    problem = refused(path)
    assert problem.startswith(f"{path}:1:") and "anchor &a0 is not allowed" in problem


def test_a_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    """`people: &a [*a]` (a list holding itself) is a DirectoryError, not a RecursionError."""
    path = tmp_path / "loop.yaml"
    path.write_text(CHANNELS + "people: &a [*a]\n", encoding="utf-8")
    problem = refused(path)
    assert problem.startswith(f"{path}:3:") and "&a" in problem


def test_an_alias_without_anchor_in_the_same_node_is_refused(tmp_path: Path) -> None:
    """An alias is refused where it stands, even when its anchor was refused on an earlier line."""
    path = tmp_path / "alias.yaml"
    path.write_text(CHANNELS + "people:\n  - *p\n", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        YamlDirectory(path)
    assert caught.value.problems[0].startswith(f"{path}:4:")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    """5000 nested `[` are a DirectoryError at line 1, not a RecursionError."""
    path = tmp_path / "deep.yaml"
    path.write_text("people: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    problem = refused(path)
    assert problem.startswith(f"{path}:1:") and "nested deeper" in problem


def test_a_latin_1_byte_is_refused_with_its_line(tmp_path: Path) -> None:
    """A file saved as Latin-1 is a DirectoryError at the line of the first bad byte, saying to save as UTF-8."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(CHANNELS.encode() + "people:\n  - {id: p1, name: Jos\u00e9}\n".encode("latin-1"))
    problem = refused(path)
    assert problem.startswith(f"{path}:4:") and "UTF-8" in problem


def test_a_python_tag_is_refused(tmp_path: Path) -> None:
    """`!!python/name:os.system` is a DirectoryError at its line, not a ConstructorError."""
    path = tmp_path / "tag.yaml"
    path.write_text(CHANNELS + "people: !!python/name:os.system\n", encoding="utf-8")
    problem = refused(path)
    assert problem.startswith(f"{path}:3:") and "!!python/name:os.system" in problem


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    """A file over the size limit is refused at line 1, saying the limit."""
    path = tmp_path / "big.yaml"
    path.write_text(CHANNELS + "# " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    problem = refused(path)
    assert problem.startswith(f"{path}:1:") and str(MAX_FILE_BYTES) in problem


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    """An empty directory file is a DirectoryError saying what it should hold."""
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    problem = refused(path)
    assert problem.startswith(f"{path}:1:") and "channels" in problem
