"""The interfaces the engine depends on and the plain values it exchanges with them.

The engine imports these Protocols, never the implementations in `storage/` or `notifiers/`; `cli.py` and
an embedding backend choose the implementations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

_SYSTEM_ID = "system"
_SYSTEM: Actor | None = None  # built once below; after that no other actor may carry the id or the role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who issues a command: a person (or system) with base roles and a department credit code.

    `roles` holds base roles such as `data_admin`, `data_auditor`, `bureau_reviewer`, `center_operator`,
    `data_supervisor`; a workflow binds them to its own roles (see docs/language.md, "Roles").
    """

    id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    department: str | None = None

    def __post_init__(self) -> None:
        # a single string would grant every role spelled inside it ("data_auditor" in "not_a_data_auditor")
        if isinstance(self.roles, str):
            from engine.errors import PayloadInvalid

            raise PayloadInvalid("roles", "a set of base role names, e.g. frozenset({'data_admin'})", self.roles,
                                 where="actor")
        # the engine's own identity may do anything: a person must not be able to claim it, and the history must
        # not record a person's step as the engine's
        if (self.id == _SYSTEM_ID or _SYSTEM_ID in self.roles) and _SYSTEM is not None:
            from engine.errors import PayloadInvalid

            raise PayloadInvalid("actor", f"a person's id and base roles; {_SYSTEM_ID!r} is the engine's own "
                                 "identity (Actor.system())", self.id, where="actor")

    @classmethod
    def system(cls) -> Actor:
        """The engine itself (timers, decisions, automatic steps): the one actor holding the role `system`."""
        assert _SYSTEM is not None
        return _SYSTEM


_SYSTEM = Actor(_SYSTEM_ID, frozenset({_SYSTEM_ID}), None)


@dataclass(frozen=True, slots=True)
class Person:
    """A recipient of notifications: one person (or group robot) with contacts per channel."""

    id: str
    name: str
    roles: frozenset[str]
    department: str | None = None
    contacts: Mapping[str, str] = field(default_factory=dict)  # channel name -> address (mail, url, ...)


class Directory(Protocol):
    """Finds the people who hold a base role, at a department or (department None) anywhere, and the
    department of an organisation (the bureau, the information centre) of a jurisdiction.

    Contract: never raises for an unknown role or department; answers an empty sequence instead.
    """

    def people(self, base_role: str, department: str | None) -> Sequence[Person]: ...

    def department_name(self, code: str) -> str:
        """The department's name for its credit code, or the code itself when unknown."""
        ...

    def organisation_department(self, jurisdiction: str, org: str) -> str | None:
        """The credit code of the department tagged `<jurisdiction>.<org>` (e.g. `gx.bureau`, `lz.center`), or
        None when no department carries the tag (roles bound to the organisation then bind to nobody in
        particular: any holder of the base role, as before tags existed)."""
        ...
