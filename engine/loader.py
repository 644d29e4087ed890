"""Reads workflow YAML with `safe_load` semantics and a position for every value: the only module importing yaml.

Tags, anchors, aliases, merge keys, duplicate keys, files over 1 MiB and non-UTF-8 text are refused, each as a
DefinitionError with file:line:column. The result is validated (engine.validator) into a WorkflowSpec.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import DefinitionError, DefinitionProblem
from engine.spec import Location, WorkflowSpec
from engine.validator import validate_document

#: A definition file is small; anything larger is refused before it is parsed.
MAX_FILE_BYTES = 1024 * 1024
#: Deeper nesting than this is refused (the language needs about 8 levels).
MAX_DEPTH = 32

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A YAML document as plain data, with the position of every value and of every mapping key."""

    filename: str
    data: Any
    locations: dict[str, Location]  # dotted path -> position of the value
    key_locations: dict[str, Location]  # dotted path -> position of the key that introduces it
    content_hash: str


class _Refused(Exception):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader's composer, refusing aliases, anchors and explicit tags as it meets them."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            raise _Refused(event.start_mark, f"alias *{event.anchor} is not allowed: write the value out in full")
        if event.anchor is not None:
            raise _Refused(event.start_mark, f"anchor &{event.anchor} is not allowed: write each value out in full")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            shown = "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag
            raise _Refused(event.start_mark, f"tag {shown} is not allowed: definitions hold plain YAML values only")
        return super().compose_node(parent, index)


def _loc(filename: str, mark: Any) -> Location:
    return Location(filename, mark.line + 1, mark.column + 1)


def _text_position(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    line = before.count("\n") + 1
    return line, index - (before.rfind("\n") + 1) + 1


def _one(filename: str, line: int, col: int, message: str, path: str = "") -> DefinitionError:
    return DefinitionError([DefinitionProblem(filename, line, col, path, message)])


def _decode(raw: bytes, filename: str) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise _one(filename, 1, 1, f"the file is {len(raw)} bytes; a definition may be at most {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        good = raw[: err.start].decode("utf-8", errors="replace")
        line, col = _text_position(good, len(good))
        message = f"the file is not UTF-8 (byte 0x{raw[err.start]:02x}): save it as UTF-8"
        raise _one(filename, line, col, message) from None
    return text.removeprefix("\ufeff")


class _Builder:
    """Turns composed nodes into plain data, recording positions and collecting problems."""

    def __init__(self, filename: str, loader: _StrictLoader) -> None:
        self.filename = filename
        self.loader = loader
        self.locations: dict[str, Location] = {}
        self.key_locations: dict[str, Location] = {}
        self.problems: list[DefinitionProblem] = []

    def problem(self, mark: Any, path: str, message: str) -> None:
        self.problems.append(DefinitionProblem(self.filename, mark.line + 1, mark.column + 1, path, message))

    def build(self, node: Node, path: str, depth: int) -> Any:
        self.locations[path] = _loc(self.filename, node.start_mark)
        if depth > MAX_DEPTH:
            self.problem(node.start_mark, path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, f"{path}.{i}" if path else str(i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        self.problem(node.start_mark, path, "unsupported YAML node")
        return None

    def scalar(self, node: ScalarNode, path: str) -> Any:
        tag = node.tag
        if tag == _INT:
            return self.loader.construct_yaml_int(node)
        if tag == _FLOAT:
            value = self.loader.construct_yaml_float(node)
            if not math.isfinite(value):
                self.problem(node.start_mark, path, f"{node.value!r} is not a finite number")
                return None
            return value
        if tag == _BOOL:
            return self.loader.construct_yaml_bool(node)
        if tag == _NULL:
            return None
        # strings, and dates/timestamps kept as written: the validator reads them by their declared type
        return str(node.value)

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.problem(key_node.start_mark, path, "merge keys (<<) are not allowed: write the keys out in full")
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self.problem(key_node.start_mark, path, f"key {shown!r} must be a string: quote it")
                continue
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in first:
                self.problem(
                    key_node.start_mark, child, f"duplicate key {key!r} (first at line {first[key].line + 1})"
                )
                continue
            first[key] = key_node.start_mark
            self.key_locations[child] = _loc(self.filename, key_node.start_mark)
            out[key] = self.build(value_node, child, depth + 1)
        return out


def canonical_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of a parsed document: comments, layout and key order do not count."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_text(text: str | bytes, filename: str = "<text>") -> ParsedDocument:
    """Parse one YAML document into plain data with positions; raise DefinitionError for anything refused."""
    if isinstance(text, bytes):
        text = _decode(text, filename)
    elif len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        raise _one(filename, 1, 1, f"the text is over {MAX_FILE_BYTES} bytes; a definition may be at most that")
    try:
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as err:
        line, col = _text_position(text, err.position)
        raise _one(filename, line, col, f"character #x{err.character:04x} is not allowed in YAML: {err.reason}: "
                                        "remove it") from None
    loader.name = filename
    try:
        node = loader.get_single_node()
        if node is None:
            raise _one(filename, 1, 1, "the file is empty: a definition starts with `id:`")
        builder = _Builder(filename, loader)
        data = builder.build(node, "", 0)
    except _Refused as err:
        raise _one(filename, err.mark.line + 1, err.mark.column + 1, err.message) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        detail = " ".join(str(p) for p in (err.context, err.problem) if p)
        raise _one(filename, line, col, f"YAML syntax: {detail}") from None
    except yaml.YAMLError as err:
        raise _one(filename, 1, 1, f"YAML: {err}") from None
    except RecursionError:
        raise _one(filename, 1, 1, f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    if builder.problems:
        raise DefinitionError(builder.problems)
    return ParsedDocument(filename, data, builder.locations, builder.key_locations, canonical_hash(data))


def load_text(
    text: str | bytes, filename: str = "<text>", known_templates: Collection[str] | None = None
) -> WorkflowSpec:
    """Parse and validate one definition; raise DefinitionError listing every problem, located."""
    return validate_document(parse_text(text, filename), known_templates=known_templates)


def load_file(path: str | Path, known_templates: Collection[str] | None = None) -> WorkflowSpec:
    """Read, parse and validate one definition file (its path is the file name in every message)."""
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _one(name, 1, 1, f"the file is {size} bytes; a definition may be at most {MAX_FILE_BYTES} bytes")
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise _one(name, 1, 1, f"cannot read the file: {err.strerror or err}") from None
    return load_text(raw, name, known_templates)


__all__ = ["MAX_FILE_BYTES", "ParsedDocument", "canonical_hash", "load_file", "load_text", "parse_text"]
