"""Generic readers of parsed YAML values for the builder: mappings checked against key tables, names, durations,
lists, and the problem list with positions and did-you-mean suggestions.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engine.errors import DefinitionProblem
from engine.spec import DurationSpec, LocalizedName, Location
from engine.validation.keys import LOCALIZED_KEYS, NAME_RE, ROLE_RE, Key

T = TypeVar("T")

#: How to write a name of each pattern, for messages.
_FORMS = {
    NAME_RE.pattern: "snake_case ([a-z][a-z0-9_]*)",
    ROLE_RE.pattern: "party.role, e.g. provider.data_auditor",
}


#: Full-width punctuation a Chinese input method types in place of YAML's ASCII separators, and what to write.
_FULL_WIDTH = {"，": ",", "、": ",", "：": ":", "；": ";", "\u3000": " "}
_ASCII = str.maketrans(_FULL_WIDTH)


def full_width(value: str) -> str:
    """`: it holds the full-width '，'; write ASCII ',' and spaces instead` for such a value, else ''."""
    found = [c for c in _FULL_WIDTH if c in value]
    if not found:
        return ""
    names = ", ".join("U+3000 (ideographic space)" if c == "\u3000" else repr(c) for c in found)
    ascii_ = list(dict.fromkeys(repr(_FULL_WIDTH[c]) for c in found if c != "\u3000"))
    wanted = f"ASCII {' and '.join(ascii_)} and spaces" if ascii_ else "ASCII spaces"
    return f": it holds the full-width {names}; write {wanted} instead (YAML separates only with those)"


def ascii_form(value: str) -> str:
    """The value with full-width separators made ASCII and outer spaces dropped: what its author meant."""
    return value.translate(_ASCII).strip()


def closest(word: str, candidates: Collection[str]) -> str | None:
    """The candidate closest to `word`, if one is close enough to be a misspelling of it."""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, candidates: Collection[str]) -> str:
    """` (did you mean 'x'?)` for the closest candidate, or an empty string."""
    close = closest(word, candidates)
    return f" (did you mean {close!r}?)" if close else ""


def shown(value: object) -> str:
    """A value as an author wrote it in YAML (JSON spelling: true, "3", ["a", 1])."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def article(word: str) -> str:
    """`a task state`, `an end state`."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def type_name(value: object) -> str:
    """How a YAML value reads to an author: 'a string', 'a list', ..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass
class Declared:
    """The names a file declares, even where the declaration itself has problems (avoids cascades)."""

    states: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)
    hooks: set[str] = field(default_factory=set)
    templates: set[str] = field(default_factory=set)
    broken_exits: set[str] = field(default_factory=set)  # states with an exit (transition, branch, next) not read
    unchecked: set[str] = field(default_factory=set)  # sections that are not mappings: references go unchecked


class Reader:
    """Reads plain values (mappings, names, durations, ...) and records every problem with the position of its path.
    """

    def __init__(self, filename: str, locations: Mapping[str, Location], key_locations: Mapping[str, Location]):
        self.filename = filename
        self.locations = locations
        self.key_locations = key_locations
        self.problems: list[DefinitionProblem] = []
        #: broken rules for new definitions only (`rule_for_new`), waived because the version is a stored one
        self.waived: list[DefinitionProblem] = []
        self.stored = False
        self.declared = Declared()
        #: for each built transition, in order: its index in the YAML list and the path of its source state
        self.transition_meta: list[tuple[int, str]] = []
        #: lists some of whose items could not be read: path -> the YAML index of each item that was
        self.kept: dict[str, tuple[int, ...]] = {}

    # -- reporting -------------------------------------------------------------------------------------------
    def where(self, path: str, at_key: bool = False) -> Location:
        if at_key and path in self.key_locations:
            return self.key_locations[path]
        p = path
        while p:
            if p in self.locations:
                return self.locations[p]
            p = p.rpartition(".")[0]
        return self.locations.get("", Location(self.filename, 1, 1))

    def problem(self, path: str, message: str, at_key: bool = False) -> None:
        loc = self.where(path, at_key)
        self.problems.append(DefinitionProblem(self.filename, loc.line, loc.col, path, message))

    def rule_for_new(self, path: str, message: str, at_key: bool = False) -> None:
        """A rule that keeps a mistake out of new definitions without changing how a started instance runs (who
        may start one, a recurring start's cron, a branch that can never be taken). A version stored because
        instances run on it was accepted when they started, so there it is waived, not refused."""
        if not self.stored:
            self.problem(path, message, at_key)
            return
        loc = self.where(path, at_key)
        self.waived.append(DefinitionProblem(self.filename, loc.line, loc.col, path, message))

    def item(self, path: str, i: int) -> str:
        """The path of the i-th read item of the list at `path`, counting in the file (items that failed included)."""
        kept = self.kept.get(path)
        return f"{path}.{kept[i] if kept is not None else i}"

    def partial(self, path: str) -> bool:
        """Whether some item of the list at `path` could not be read (its problem is reported already)."""
        return path in self.kept

    # -- generic readers -------------------------------------------------------------------------------------
    def mapping(self, path: str, value: Any, keys: Mapping[str, Key] | None, what: str) -> dict[str, Any] | None:
        """Check a mapping against its key table: unknown keys (with did-you-mean) and missing required keys."""
        if not isinstance(value, dict):
            self.problem(path, f"{what} must be a mapping, got {type_name(value)}")
            return None
        if keys is not None:
            swallowed: set[str] = set()  # keys run together by a full-width separator: `{level： 1， after: ...}`
            for key in value:
                if key not in keys:
                    child = f"{path}.{key}" if path else key
                    wide = full_width(key) if isinstance(key, str) else ""
                    if wide:
                        swallowed |= {k for k in keys if re.search(rf"(?<![a-z_]){re.escape(k)}(?![a-z_])", key)}
                    hint = wide or did_you_mean(key, keys) or f"; allowed: {', '.join(keys)}"
                    self.problem(child, f"unknown key {key!r} in {what}{hint}", at_key=True)
            for key, spec in keys.items():
                if spec.required and key not in value and key not in swallowed:
                    self.problem(path, spec.missing or f"{what} needs the key {key!r}")
        return value

    def child(self, path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def text(self, path: str, value: Any, what: str = "value", strict: bool = False) -> str | None:
        """A string; numbers are read as their text (articles: [22]) unless `strict` (guards)."""
        if value is None:
            return None
        if isinstance(value, bool | int | float) and not strict:
            return str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str):
            self.problem(path, f"{what} must be a string, got {type_name(value)}")
            return None
        return value

    def name(self, path: str, value: Any, what: str = "name", pattern: re.Pattern[str] = NAME_RE) -> str | None:
        if not isinstance(value, str):
            hint = (": YAML reads yes/no/on/off/true/false as booleans, quote it" if isinstance(value, bool) else "")
            self.problem(path, f"{what} must be a string, got {type_name(value)}{hint}")
            return None
        if full_width(value):
            self.problem(path, f"bad {what} {value!r}{full_width(value)}")
            return None
        if not pattern.match(value):
            form = _FORMS.get(pattern.pattern, f"a value matching {pattern.pattern}")
            self.problem(path, f"bad {what} {value!r}: write {form}")
            return None
        return value

    def role_ref(self, path: str, value: Any) -> str | None:
        return self.name(path, value, "role", ROLE_RE)

    def many(self, path: str, value: Any, read: Callable[[str, Any], T | None], what: str,
             single_ok: bool = True) -> tuple[T, ...]:
        """A list of items, or (where `single_ok`) one item standing for a list of one."""
        if value is None:
            return ()
        if not isinstance(value, list):
            if single_ok and not isinstance(value, dict):
                one = read(path, value)
                return (one,) if one is not None else ()
            self.problem(path, f"{what} must be a list, got {type_name(value)}")
            return ()
        out = []
        kept = []
        for i, item in enumerate(value):
            got = read(f"{path}.{i}", item)
            if got is not None:
                out.append(got)
                kept.append(i)
        if len(kept) < len(value):
            self.kept[path] = tuple(kept)
        return tuple(out)

    def names(self, path: str, value: Any, what: str = "name") -> tuple[str, ...]:
        return self.many(path, value, lambda p, v: self.name(p, v, what), f"{what}s")

    def role_refs(self, path: str, value: Any) -> tuple[str, ...]:
        if value == []:
            self.problem(path, "name at least one role")
        return self.many(path, value, self.role_ref, "roles")

    def duration(self, path: str, value: Any) -> DurationSpec | None:
        if value is None:
            return None
        try:
            return DurationSpec.parse(value)
        except ValueError:
            self.problem(path, f"bad duration {value!r}: write a whole number and a unit, e.g. '2 WD', '10 CD', '4 WH'")
            return None

    def boolean(self, path: str, value: Any, what: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problem(path, f"{what} must be true or false, got {type_name(value)}")
            return False
        return value

    def positive_int(self, path: str, value: Any, what: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(path, f"{what} must be a whole number of at least 1, got {value!r}")
            return None
        return value

    def localized(self, path: str, value: Any, what: str) -> LocalizedName | None:
        if value is None:
            return None
        if isinstance(value, str):
            return LocalizedName(value)
        m = self.mapping(path, value, LOCALIZED_KEYS, what)
        if m is None:
            return None
        zh = self.text(self.child(path, "zh"), m.get("zh"), "zh")
        en = self.text(self.child(path, "en"), m.get("en"), "en")
        return LocalizedName(zh or "", en or "") if zh is not None else None
