"""Reads workflow YAML with `safe_load` semantics and a position for every value: the only module importing yaml.

Tags, anchors, aliases, merge keys, duplicate keys, files over 1 MiB, non-UTF-8 text (lone surrogates too), integers
over 20 characters and YAML 1.1 base-60 numbers are refused, each as a DefinitionError with file:line:column.
A syntax error names the usual slip behind it where it is (full-width punctuation or space, a tab, an
indentation that matches no line above), with what to write. The result is validated (engine.validator) into a
WorkflowSpec.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from engine.errors import MAX_PROBLEMS, DefinitionError, DefinitionProblem, shown
from engine.loader_hints import bracket_hint, indent_hint, structure_hint, syntax_hint
from engine.spec import Location, WorkflowSpec
from engine.validator import validate_document

#: A definition file is small; anything larger is refused before it is parsed.
MAX_FILE_BYTES = 1024 * 1024
#: Deeper nesting than this is refused (the language needs about 8 levels).
MAX_DEPTH = 32
#: A plain integer scalar longer than this is refused (2**64 has 20 digits; no definition needs more).
MAX_INT_CHARS = 20

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


class _TooMany(Exception):
    """Raised at the problem that reaches MAX_PROBLEMS: a file that breaks one rule everywhere is not read on."""


#: libyaml's event parser when PyYAML was built with it (about 20 times faster), else the pure-Python one.
_EVENT_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


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


_RESOLVED: dict[str, str] = {}


def _resolve(event: Any) -> str:
    """The implicit tag of a plain or quoted scalar (int, float, bool, null, str, ...)."""
    if not event.implicit[0]:  # quoted: always a string
        return _STR
    value = event.value
    tag = _RESOLVED.get(value)
    if tag is None:
        tag = str(_RESOLVER.resolve(yaml.ScalarNode, value, (True, False)))  # type: ignore[no-untyped-call]
        if len(_RESOLVED) < 10_000 and len(value) <= 64:  # names and durations repeat; keep the cache small
            _RESOLVED[value] = tag
    return tag


def _shown_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


class _Frame:
    """An open mapping or sequence while the events stream in."""

    __slots__ = ("data", "first", "flow", "key", "key_mark", "path", "skip")

    def __init__(self, data: dict[str, Any] | list[Any], path: str, skip: bool, flow: bool = False) -> None:
        self.data = data
        self.path = path
        self.skip = skip  # a subtree already reported (bad key, duplicate, too deep): built, never stored
        self.flow = flow  # written [a, b] or {a: b} rather than in indented lines
        self.key: str | None = None
        self.key_mark: Any = None
        self.first: dict[str, Any] = {}


class _Builder:
    """Turns the parser's events into plain data, recording positions and collecting problems."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.locations: dict[str, Location] = {}
        self.key_locations: dict[str, Location] = {}
        self.problems: list[DefinitionProblem] = []
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0

    def problem(self, mark: Any, path: str, message: str, offset: int = 0) -> None:
        self.problems.append(DefinitionProblem(self.filename, mark.line + 1, mark.column + offset + 1, path, message))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _TooMany

    def run(self, events: Any) -> Any:
        for event in events:
            self.event(event)
        return self.root

    def event(self, event: Any) -> None:
        kind = type(event)
        if kind is yaml.ScalarEvent or kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            self.node(event)
            return
        if kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = self.stack.pop()
            self.place(frame.data, frame.path, None, frame.skip)
            return
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise _Refused(event.start_mark, "a definition file holds one document: remove the second `---`")
            return
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, f"alias *{event.anchor} is not allowed: write the value out in full")

    def node(self, event: Any) -> None:
        if event.anchor is not None:
            raise _Refused(event.start_mark, f"anchor &{event.anchor} is not allowed: write each value out in full")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise _Refused(event.start_mark, f"tag {_shown_tag(tag)} is not allowed: "
                                             "definitions hold plain YAML values only")
        parent = self.stack[-1] if self.stack else None
        if parent is not None and isinstance(parent.data, dict) and parent.key is None:
            self.mapping_key(parent, event)
            return
        path, skip = self.child_path(parent)
        if not skip:
            self.locations[path] = _loc(self.filename, event.start_mark)
        if isinstance(event, yaml.ScalarEvent):
            if not event.style and not skip:  # plain: None from PyYAML, "" from libyaml
                self.full_width(event, path, parent)
            self.place(self.scalar(event, path, skip), path, event, skip)
            return
        if len(self.stack) >= 4 * MAX_DEPTH:
            # stop reading: a file this deep is no definition, and parsing on costs super-linear time
            raise _Refused(event.start_mark, f"nested deeper than {4 * MAX_DEPTH} levels: this is no definition")
        if len(self.stack) >= MAX_DEPTH and not skip:
            self.problem(event.start_mark, path, f"nested deeper than {MAX_DEPTH} levels")
            skip = True
        data: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
        self.stack.append(_Frame(data, path, skip, bool(event.flow_style)))

    def full_width(self, event: Any, path: str, parent: _Frame | None) -> None:
        """Full-width punctuation in a plain scalar where YAML would have needed its ASCII form: curly quotes
        around the whole of it, or '，'/'、' between items of a flow list that are no names (the validator
        names the full-width characters in a name, with the name)."""
        value: str = event.value
        if not value:
            return
        if value[0] in _CURLY_OPEN and value[-1] in _CURLY_CLOSE and len(value) > 1:
            self.problem(event.start_mark, path, f"{shown(value)} is wrapped in curly quotes {value[0]}{value[-1]}, "
                                                 "which YAML keeps as part of the text: use ASCII quotes ' or \" "
                                                 "(or none), or put the whole in ASCII quotes to keep them")
        elif parent is not None and parent.flow and isinstance(parent.data, list) and _joined_items(value):
            char = _FULL_WIDTH_COMMA.search(value)
            assert char is not None  # _joined_items found one
            mark = event.start_mark
            offset = char.start() if event.end_mark.line == mark.line else 0
            self.problem(mark, path, f"full-width {char.group()!r} between the list items {shown(value)}: use ASCII "
                               "',' to separate them", offset)

    def child_path(self, parent: _Frame | None) -> tuple[str, bool]:
        if parent is None:
            return "", False
        if parent.skip:
            # a reported subtree's paths are never shown: not growing them keeps a deeply nested file linear
            return parent.path, True
        if isinstance(parent.data, dict):
            key = parent.key or ""
            return (f"{parent.path}.{key}" if parent.path else key), parent.skip or parent.key_mark is None
        index = len(parent.data)
        return (f"{parent.path}.{index}" if parent.path else str(index)), parent.skip

    def mapping_key(self, parent: _Frame, event: Any) -> None:
        if not isinstance(event, yaml.ScalarEvent):
            raise _Refused(event.start_mark, "a key must be a plain string, not a list or mapping")
        tag = event.tag if event.tag not in (None, "!") else _resolve(event)
        key = str(event.value)
        if not event.style and not parent.skip and not parent.flow and key.startswith("\u3000"):
            # YAML indents with ASCII spaces only: the U+3000 began the key, which now sits a level too high
            self.problem(event.start_mark, parent.path,
                         "a full-width space (U+3000) in the indentation: indent with ASCII spaces only")
        elif not event.style and not parent.skip and len(key) > 1 and key[0] in _CURLY_OPEN \
                and key[-1] in _CURLY_CLOSE:
            self.problem(event.start_mark, parent.path, f"key {shown(key)} is wrapped in curly quotes "
                                                        f"{key[0]}{key[-1]}: use ASCII quotes ' or \" (or none)")
        parent.key = key
        parent.key_mark = event.start_mark
        if parent.skip:
            return
        child = f"{parent.path}.{key}" if parent.path else key
        if tag == _MERGE:
            self.problem(event.start_mark, parent.path, "merge keys (<<) are not allowed: write the keys out in full")
            parent.key_mark = None
        elif tag != _STR:
            self.problem(event.start_mark, parent.path, f"key {shown(key)} must be a string: quote it")
            parent.key_mark = None
        elif key in parent.first:
            first = parent.first[key]
            self.problem(event.start_mark, child, f"duplicate key {key!r} (first at line {first.line + 1})")
            parent.key_mark = None
        else:
            parent.first[key] = event.start_mark
            self.key_locations[child] = _loc(self.filename, event.start_mark)

    def place(self, value: Any, path: str, event: Any, skip: bool) -> None:
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        if isinstance(parent.data, dict):
            if not skip and parent.key_mark is not None and parent.key is not None:
                parent.data[parent.key] = value
            parent.key, parent.key_mark = None, None
        elif not parent.skip:
            parent.data.append(value)

    def scalar(self, event: Any, path: str, skip: bool) -> Any:
        tag = event.tag if event.tag not in (None, "!") else _resolve(event)
        if tag in (_INT, _FLOAT, _BOOL):
            refusal = _number_refusal(tag, event.value)
            if refusal is None:
                try:
                    value = _construct(tag, ScalarNode(tag, event.value, event.start_mark, event.end_mark))
                except (ValueError, ArithmeticError) as err:  # OverflowError included
                    refusal = f"{shown(event.value)} is not a number this loader can read ({err}): {_QUOTE_IT}"
            if refusal is not None:
                if not skip:
                    self.problem(event.start_mark, path, refusal)
                return None
            if isinstance(value, float) and not math.isfinite(value):
                if not skip:
                    self.problem(event.start_mark, path, f"{event.value!r} is not a finite number")
                return None
            return value
        if tag == _NULL:
            return None
        # strings, and dates/timestamps kept as written: the validator reads them by their declared type
        return str(event.value)


_QUOTE_IT = "quote it if it is a text"
_CURLY_OPEN = "‘“"
_CURLY_CLOSE = "’”"
_FULL_WIDTH_COMMA = re.compile("[，、]")
#: An item of a flow list that is no name: a duration (`3 WD`), a number or an article (`22(1)`, `B1`).
_LIST_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.()\-]*(?: [A-Za-z]{1,3})?")
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?")


def _joined_items(value: str) -> bool:
    """Whether a flow-list item is list items joined by '，' or '、': every part a short ASCII token, not every
    part a name. `数据共享申请，审核` is text; `a， b` is a name the validator reports with its place."""
    if "，" not in value and "、" not in value:
        return False
    parts = [part.strip(" \u3000") for part in _FULL_WIDTH_COMMA.split(value)]
    if not all(_LIST_TOKEN.fullmatch(part) for part in parts if part) or not any(parts):
        return False
    return not all(_NAME.fullmatch(part) for part in parts if part)


def _number_refusal(tag: str, text: str) -> str | None:
    """Why a plain scalar read as a number is refused, or None: YAML 1.1 reads `1:30` as base 60 (90), which
    no definition means, and a very long integer is a mistake (and costs time to convert)."""
    if tag != _BOOL and ":" in text:
        quoted = f" (such as a time: '{text}')" if len(text) <= 40 else ""
        return f"{shown(text)} reads as a base-60 number in YAML 1.1: {_QUOTE_IT}{quoted}, or write it in decimal"
    if tag == _INT and len(text) > MAX_INT_CHARS:
        return (f"an integer of {len(text):,} characters ({text[:MAX_INT_CHARS]}...): write at most {MAX_INT_CHARS}, "
                f"or {_QUOTE_IT}")
    return None


def _construct(tag: str, node: ScalarNode) -> Any:
    if tag == _INT:
        return _CONSTRUCTOR.construct_yaml_int(node)
    if tag == _BOOL:
        return _CONSTRUCTOR.construct_yaml_bool(node)
    return _CONSTRUCTOR.construct_yaml_float(node)


def canonical_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of a parsed document: comments, layout and key order do not count."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


#: Half of a UTF-16 pair standing alone: what decoding with errors="surrogateescape" leaves of a bad byte.
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_text(text: str | bytes, filename: str = "<text>") -> ParsedDocument:
    """Parse one YAML document into plain data with positions; raise DefinitionError for anything refused."""
    if isinstance(text, bytes):
        text = _decode(text, filename)
    elif len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        raise _one(filename, 1, 1, f"the text is over {MAX_FILE_BYTES} bytes; a definition may be at most that")
    else:
        surrogate = _SURROGATE.search(text)
        if surrogate is not None:
            line, col = _text_position(text, surrogate.start())
            raise _one(filename, line, col, f"a lone surrogate U+{ord(surrogate.group()):04X} is no character (the "
                                            "text was decoded wrongly): read the file as UTF-8, or remove it")
    builder = _Builder(filename)
    try:
        data = builder.run(yaml.parse(text, Loader=_EVENT_LOADER))
    except _Refused as err:
        raise _one(filename, err.mark.line + 1, err.mark.column + 1, err.message) from None
    except _TooMany:
        last = builder.problems[-1]  # the stop is told right after the problem that reached the limit
        stopped = DefinitionProblem(filename, last.line, last.col, last.path,
                                    f"reading stopped here after {MAX_PROBLEMS} problems: mend these (they are often "
                                    "one mistake repeated) and validate again")
        raise DefinitionError([*builder.problems, stopped]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        opened = err.context_mark.line + 1 if err.context_mark is not None else 0
        flow_opened = opened if "flow" in (err.context or "") else 0
        hint = (syntax_hint(text, line, opened) or structure_hint(text, line, col)
                or bracket_hint(text, line, col, flow_opened))
        if hint is not None:
            raise _one(filename, *hint) from None
        detail = " ".join(str(p) for p in (err.context, err.problem) if p)
        indentation = indent_hint(text, err)
        if indentation is not None:
            line, col, said = indentation
            detail = f"{detail}: {said}"
        raise _one(filename, line, col, f"YAML syntax: {detail}") from None
    except yaml.reader.ReaderError as err:
        index = err.position
        if _EVENT_LOADER is not yaml.SafeLoader:  # libyaml counts bytes of the UTF-8 text
            index = len(text.encode("utf-8")[:index].decode("utf-8", errors="ignore"))
        line, col = _text_position(text, index)
        raise _one(filename, line, col, f"a character YAML does not allow ({err.reason}): remove it") from None
    except yaml.YAMLError as err:
        raise _one(filename, 1, 1, f"YAML: {err}") from None
    if builder.documents == 0 or (data is None and not builder.problems):
        raise _one(filename, 1, 1, "the file is empty: a definition starts with `id:`")
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
