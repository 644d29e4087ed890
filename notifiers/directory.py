"""The recipient directory from YAML: departments, people with roles and contacts, and channel settings.

`YamlDirectory` implements `engine.ports.Directory`; every problem of the file is reported at once, as
`file:line: path: message`. The file is read by the workflow loader's reader (engine.loader.parse_text):
plain YAML only (no aliases, anchors, tags or merge keys), UTF-8, at most 1 MiB. See
`notifiers/example_directory.yaml` for the format.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.base_roles import BASE_ROLES  # the one list, shared with the validator; re-exported
from engine.clock import Clock, SystemClock
from engine.credit_code import credit_code_problem
from engine.errors import DefinitionError
from engine.loader import MAX_FILE_BYTES, ParsedDocument, parse_text
from engine.ports import Person
from engine.spec import Location
from notifiers.base import Notifier, create_channel
from notifiers.errors import ChannelConfigError, DirectoryError

_TOP = ("departments", "people", "channels")
_DEPARTMENT_KEYS = ("code", "name", "org")
#: `org:` tags: `<jurisdiction>.<organisation>`, e.g. gx.bureau (the regional big-data bureau), lz.center.
_ORG_TAG = re.compile(r"^[a-z][a-z0-9_]*\.(bureau|center)$")
_PERSON_KEYS = ("id", "name", "department", "roles", "contacts", "scope")
#: What a person id may not hold: it becomes a folder name (file channel) and appears in paths and logs.
_FOLDER_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]|^\s|\s$")


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    org: str | None = None  # e.g. `lz.bureau`: this department is that jurisdiction's organisation


class _Positions:
    """The line of every path of the parsed file, and the problems found while reading it."""

    def __init__(self, file: str, locations: Mapping[str, Location]) -> None:
        self.file = file
        self.locations = locations  # dotted path as engine.loader writes it ("people.0.id") -> position
        self.problems: list[tuple[int, str]] = []

    def line(self, path: tuple[Any, ...]) -> int:
        while path:
            found = self.locations.get(".".join(str(part) for part in path))
            if found is not None:
                return found.line
            path = path[:-1]
        return 1

    def add(self, line: int, where: str, message: str) -> None:
        self.problems.append((line, f"{where}: {message}" if where else message))

    def at(self, path: tuple[Any, ...], message: str) -> None:
        self.add(self.line(path), _dotted(path), message)

    def error(self) -> DirectoryError:
        return DirectoryError(f"{self.file}:{line}: {text}" for line, text in sorted(self.problems))


def _parse(path: Path) -> ParsedDocument:
    """The file as plain data with positions, through the workflow loader's hardened reader: no aliases, anchors
    or tags, bounded depth and size, strict UTF-8. Anything it refuses is a DirectoryError at file:line."""
    name = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DirectoryError([f"{name}:1: the file is over {MAX_FILE_BYTES} bytes: a directory may hold at most"
                                  " that"])
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise DirectoryError([f"{name}:1: cannot read the directory file: {err.strerror or err}"]) from err
    lines = raw.removeprefix(b"\xef\xbb\xbf").splitlines()
    if all(not line.strip() or line.lstrip().startswith(b"#") for line in lines):
        raise DirectoryError([f"{name}:1: the directory file is empty: it lists channels, departments and people"])
    try:
        return parse_text(raw, name)
    except DefinitionError as err:
        raise DirectoryError(
            f"{p.file}:{p.line}: {_dotted(_split(p.path)) + ': ' if p.path else ''}{p.message}" for p in err.problems
        ) from None


def _split(dotted: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in dotted.split("."))


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class YamlDirectory:
    """People, departments and channels read from one YAML file (raises DirectoryError listing every problem)."""

    def __init__(
        self, path: Path | str, clock: Clock | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.path = Path(path)
        self.clock = clock or SystemClock()
        parsed = _parse(self.path)
        pos = _Positions(str(self.path), parsed.locations)
        data = parsed.data
        self.departments: dict[str, Department] = {}
        self._orgs: dict[str, str] = {}  # `gx.bureau` -> credit code
        self._people: dict[str, Person] = {}
        self._scopes: dict[str, frozenset[str] | None] = {}
        self.channels: dict[str, Notifier] = {}
        self.channel_settings: dict[str, dict[str, Any]] = {}
        if not isinstance(data, dict):
            pos.at((), "the directory must be a mapping with departments, people and channels")
            raise pos.error()
        for key in data:
            if key not in _TOP:
                pos.at((key,), f"unknown section{_suggest(str(key), _TOP)}; known: {', '.join(_TOP)}")
        self._read_channels(data.get("channels", {}), pos, environ)
        self._read_departments(data.get("departments", []), pos)
        self._read_people(data.get("people", []), pos)
        if pos.problems:
            raise pos.error()

    # ---- engine.ports.Directory ---------------------------------------------------------------------------

    def people(self, base_role: str, department: str | None) -> Sequence[Person]:
        """People holding `base_role`, at `department` (or anywhere when None); empty when none."""
        return [
            p for p in self._people.values()
            if base_role in p.roles and (department is None or p.department == department)
        ]

    def department_name(self, code: str) -> str:
        found = self.departments.get(code)
        return found.name if found is not None else code

    def organisation_department(self, jurisdiction: str, org: str) -> str | None:
        """The department tagged `org: <jurisdiction>.<org>`, or None when none is."""
        return self._orgs.get(f"{jurisdiction}.{org}")

    # ---- more than the port -------------------------------------------------------------------------------

    def person(self, person_id: str) -> Person | None:
        return self._people.get(person_id)

    def all_people(self) -> list[Person]:
        return list(self._people.values())

    def in_scope(self, person: Person, item: Mapping[str, Any]) -> bool:
        """Whether an overdue item belongs to the person's supervision scope (no `scope:` means everything)."""
        scope = self._scopes.get(person.id)
        return scope is None or item.get("department") in scope

    # ---- reading ------------------------------------------------------------------------------------------

    def _read_channels(self, raw: Any, pos: _Positions, environ: Mapping[str, str] | None) -> None:
        if not isinstance(raw, dict):
            pos.at(("channels",), "expected a mapping of channel name to settings")
            return
        for name, settings in raw.items():
            path = ("channels", name)
            if not isinstance(settings, dict):
                pos.at(path, "expected a mapping of settings with a `type`")
                continue
            if settings.get("type") == "file" and isinstance(settings.get("dir"), str):
                settings = dict(settings, dir=str(Path(settings["dir"]).expanduser()))
            self.channel_settings[str(name)] = dict(settings)
            try:
                self.channels[str(name)] = create_channel(str(name), settings, self.clock, environ)
            except ChannelConfigError as err:
                where = (*path, err.setting) if err.setting in settings else path
                pos.at(where, err.detail)

    def _read_departments(self, raw: Any, pos: _Positions) -> None:
        if not isinstance(raw, list):
            pos.at(("departments",), "expected a list of {code, name}")
            return
        for i, item in enumerate(raw):
            path = ("departments", i)
            if not isinstance(item, dict):
                pos.at(path, "expected a mapping {code, name}")
                continue
            for key in item:
                if key not in _DEPARTMENT_KEYS:
                    pos.at((*path, key), f"unknown key{_suggest(str(key), _DEPARTMENT_KEYS)}")
            code, name = item.get("code"), item.get("name")
            problem = credit_code_problem(code) if isinstance(code, str) else "expected an 18-character credit code"
            if problem:
                pos.at((*path, "code"), problem)
                continue
            if not isinstance(name, str) or not name.strip():
                pos.at((*path, "name"), "expected the department's name")
                continue
            if code in self.departments:
                pos.at((*path, "code"), f"department {code} is listed twice")
            org = item.get("org")
            if org is not None and (not isinstance(org, str) or not _ORG_TAG.match(org)):
                pos.at((*path, "org"), f"expected a tag such as gx.bureau or lz.center, got {org!r}")
                org = None
            elif org is not None and org in self._orgs:
                pos.at((*path, "org"), f"{org} already tags department {self._orgs[org]}: one department each")
                org = None
            if org is not None:
                self._orgs[org] = str(code)
            self.departments[str(code)] = Department(str(code), name, org)

    def _read_people(self, raw: Any, pos: _Positions) -> None:
        if not isinstance(raw, list):
            pos.at(("people",), "expected a list of people")
            return
        for i, item in enumerate(raw):
            path = ("people", i)
            if not isinstance(item, dict):
                pos.at(path, "expected a mapping {id, name, department, roles, contacts}")
                continue
            person = self._read_person(item, path, pos)
            if person is None:
                continue
            if person.id in self._people:
                pos.at((*path, "id"), f"person {person.id!r} is listed twice")
            self._people[person.id] = person

    def _read_person(self, item: dict[str, Any], path: tuple[Any, ...], pos: _Positions) -> Person | None:
        before = len(pos.problems)
        for key in item:
            if key not in _PERSON_KEYS:
                pos.at((*path, key), f"unknown key{_suggest(str(key), _PERSON_KEYS)}; known: {', '.join(_PERSON_KEYS)}")
        pid, name, dept = item.get("id"), item.get("name"), item.get("department")
        if not isinstance(pid, str) or not pid:
            pos.at((*path, "id"), "expected a person id")
        elif _FOLDER_UNSAFE.search(pid) or pid in (".", ".."):
            pos.at((*path, "id"), f"{pid!r} cannot be a person id: it names a folder for the file channel, so "
                                  "no '.' or '..', no '/' or '\\', no control characters or spaces at either end")
        if not isinstance(name, str) or not name:
            pos.at((*path, "name"), "expected the person's name")
        if dept is not None and dept not in self.departments:
            pos.at((*path, "department"), f"unknown department {dept!r}: list it under `departments`")
        roles = item.get("roles", [])
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            pos.at((*path, "roles"), "expected a non-empty list of base roles")
            roles = []
        for j, role in enumerate(roles):
            if role not in BASE_ROLES:
                pos.at((*path, "roles", j), f"unknown base role {role!r}{_suggest(role, sorted(BASE_ROLES))}")
        contacts = item.get("contacts", {})
        if not isinstance(contacts, dict):
            pos.at((*path, "contacts"), "expected a mapping of channel name to address")
            contacts = {}
        for channel, address in contacts.items():
            where = (*path, "contacts", channel)
            if channel not in self.channels:
                if channel not in self.channel_settings:  # a channel with bad settings is reported already
                    hint = _suggest(str(channel), list(self.channels))
                    pos.at(where, f"no channel {channel!r} under `channels`{hint}")
                continue
            if not isinstance(address, str | int) or isinstance(address, bool):
                pos.at(where, "expected an address")
                continue
            problem = self.channels[channel].check_address(str(address))
            if problem:
                pos.at(where, problem)
        scope = item.get("scope")
        if scope is not None and (not isinstance(scope, list) or not all(s in self.departments for s in scope)):
            pos.at((*path, "scope"), "expected a list of department codes listed under `departments`")
        if len(pos.problems) > before:
            return None
        self._scopes[str(pid)] = frozenset(scope) if scope is not None else None
        return Person(
            id=str(pid), name=str(name), roles=frozenset(roles), department=dept,
            contacts={str(c): str(a) for c, a in contacts.items()},
        )


__all__ = ["BASE_ROLES", "Department", "YamlDirectory"]
