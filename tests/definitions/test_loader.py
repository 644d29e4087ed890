"""The loader: safe YAML with positions, refusal of tags, anchors, duplicates, size and encoding, the hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import DefinitionError
from engine.loader import MAX_FILE_BYTES, load_file, load_text, parse_text
from tests.definitions.conftest import GX_REQUEST


def problems_of(text: str | bytes) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        parse_text(text, "f.yaml")
    return [str(p) for p in err.value.problems]


def test_every_value_has_a_position() -> None:
    """Each dotted path maps to its line and column (1-based)."""
    doc = parse_text("a:\n  b: [1, 2]\n  c: {d: x}\n", "f.yaml")
    assert (doc.locations["a.b"].line, doc.locations["a.b"].col) == (2, 6)
    assert (doc.locations["a.b.1"].line, doc.locations["a.b.1"].col) == (2, 10)
    assert (doc.locations["a.c.d"].line, doc.locations["a.c.d"].col) == (3, 10)
    assert (doc.key_locations["a.c"].line, doc.key_locations["a.c"].col) == (3, 3)


def test_spec_keeps_the_positions() -> None:
    """A loaded spec answers the position of a dotted path."""
    spec = load_file(GX_REQUEST)
    loc = spec.location("states.normative_review.sla.due")
    assert loc is not None and loc.file == str(GX_REQUEST)
    assert GX_REQUEST.read_text(encoding="utf-8").splitlines()[loc.line - 1][loc.col - 1:].startswith("2 WD")


@pytest.mark.parametrize(("text", "expected"), [
    ("a: !!python/object:os.system {}\n",
     "f.yaml:1:4: tag !!python/object:os.system is not allowed: definitions hold plain YAML values only"),
    ("a: !!python/name:os.system\n",
     "f.yaml:1:4: tag !!python/name:os.system is not allowed: definitions hold plain YAML values only"),
    ("a: !!str 1\n", "f.yaml:1:4: tag !!str is not allowed: definitions hold plain YAML values only"),
    ("a: &x [1]\nb: *x\n", "f.yaml:1:4: anchor &x is not allowed: write each value out in full"),
    ("a:\n  <<: {b: 1}\n", "f.yaml:2:3: a: merge keys (<<) are not allowed: write the keys out in full"),
    ("a: 1\nb: 2\na: 3\n", "f.yaml:3:1: a: duplicate key 'a' (first at line 1)"),
    ("a: .nan\n", "f.yaml:1:4: a: '.nan' is not a finite number"),
    ("1: x\n", "f.yaml:1:1: key '1' must be a string: quote it"),
    ("", "f.yaml:1:1: the file is empty: a definition starts with `id:`"),
    ("a: !custom x\n", "f.yaml:1:4: tag !custom is not allowed: definitions hold plain YAML values only"),
])
def test_refused_yaml_is_a_located_definition_error(text: str, expected: str) -> None:
    """Tags (python/object included), anchors, merge keys, duplicates, NaN, non-string keys and syntax errors."""
    assert problems_of(text) == [expected]


def test_syntax_errors_are_located() -> None:
    """An unclosed flow sequence is reported where the parser gave up, with the parser's words."""
    assert problems_of("a: [1,\n")[0].startswith("f.yaml:2:1: YAML syntax: while parsing a flow node")


def test_a_second_document_is_refused() -> None:
    """One file, one definition: a second `---` document is refused where it starts."""
    assert problems_of("a: 1\n---\nb: 2\n") == [
        "f.yaml:2:1: a definition file holds one document: remove the second `---`"]


def test_collection_keys_are_refused() -> None:
    """A list used as a mapping key is refused, located."""
    assert problems_of("? [a, b]\n: 1\n") == ["f.yaml:1:3: a key must be a plain string, not a list or mapping"]


def test_billion_laughs_is_refused_at_the_first_anchor() -> None:
    """Alias expansion never happens: the first anchor is already refused."""
    text = 'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    assert problems_of(text) == ["f.yaml:1:4: anchor &a is not allowed: write each value out in full"]


def test_non_utf8_is_refused_with_its_position() -> None:
    """Latin-1 bytes are refused at the line and column of the first bad byte."""
    assert problems_of("id: x\nname: caf\xe9\n".encode("latin-1")) == [
        "f.yaml:2:10: the file is not UTF-8 (byte 0xe9): save it as UTF-8"
    ]


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    """A file over 1 MiB is refused without being parsed."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(DefinitionError) as err:
        load_file(big)
    assert "may be at most 1048576 bytes" in err.value.problems[0].message


def test_control_characters_are_refused() -> None:
    """A NUL character is a located error, not a crash."""
    msgs = problems_of("a: b\x00\n")
    assert msgs[0].startswith("f.yaml:1:5: ")


def test_deep_nesting_is_refused() -> None:
    """Pathologically nested collections are refused, not a RecursionError."""
    msgs = problems_of("a: " + "[" * 3000 + "]" * 3000 + "\n")
    assert msgs and msgs[0].startswith("f.yaml:")


def test_hash_ignores_comments_layout_and_key_order() -> None:
    """The content hash is that of the parsed content only."""
    a = parse_text("a: 1\nb: [x, y]\n", "a.yaml").content_hash
    b = parse_text("# note\nb:\n  - x\n  - y\na:   1\n", "b.yaml").content_hash
    c = parse_text("a: 2\nb: [x, y]\n", "c.yaml").content_hash
    assert a == b != c and len(a) == 64


def test_text_loads_identically_to_the_file() -> None:
    """A spec loaded from stored text has the same hash and content as from the file."""
    from_file = load_file(GX_REQUEST)
    from_text = load_text(GX_REQUEST.read_text(encoding="utf-8"), str(GX_REQUEST))
    assert from_text.content_hash == from_file.content_hash
    assert from_text == from_file


def test_dates_stay_as_written() -> None:
    """An unquoted date is kept as its text (the validator types it), so the hash is JSON-able."""
    assert parse_text("d: 2019-06-30\n", "f.yaml").data == {"d": "2019-06-30"}


def test_unreadable_file_is_a_definition_error(tmp_path: Path) -> None:
    """A missing file is reported as a DefinitionError with its name."""
    with pytest.raises(DefinitionError) as err:
        load_file(tmp_path / "missing.yaml")
    assert err.value.problems[0].file.endswith("missing.yaml")


@pytest.mark.parametrize(("text", "expected"), [
    ("id: x\nstates:\n  kept:\n    kind: end\n    outcome：kept\n    title: t\n",
     "f.yaml:5:12: key 'outcome' is followed by a full-width colon '：': YAML needs the ASCII ':' and a space "
     "after it"),
    ("a:\n\tb: 1\n", "f.yaml:2:1: a tab in the indentation: YAML indents with spaces only"),
    ("a:\n  b: 1\n  \tc: 2\n", "f.yaml:3:3: a tab in the indentation: YAML indents with spaces only"),
])
def test_common_slips_are_named_where_they_are(text: str, expected: str) -> None:
    """A full-width colon typed with a Chinese input method, and a tab in the indentation, are named on their
    own line and column rather than in the parser's words a line later."""
    assert problems_of(text) == [expected]


def test_a_full_width_colon_inside_a_value_is_no_slip() -> None:
    """'：' inside a quoted or flow value is text: the file parses."""
    doc = parse_text("a: '审查：通过'\nb: {zh: 说明：无}\n", "f.yaml")
    assert doc.data == {"a": "审查：通过", "b": {"zh": "说明：无"}}
