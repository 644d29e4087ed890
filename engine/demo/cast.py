"""The demo's people: who acts for a workflow role in an instance, and how punctual each department is.

Everyone comes from the recipient directory, so the people who act are the people who are notified.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from engine.notify import bound_department
from engine.ports import Actor, Directory, Person
from engine.reporting.gather import REGION_OF_JURISDICTION
from engine.spec import WorkflowSpec


@dataclass(frozen=True, slots=True)
class Punctuality:
    """A department's habits: the share of steps answered late, and on the last day (after the warning)."""

    late: float
    last_day: float


class Cast:
    """Finds the acting person for a role and knows each department's punctuality (seeded)."""

    def __init__(self, directory: Directory, line_departments: list[str], seed: int) -> None:
        self.directory = directory
        self.line_departments = sorted(line_departments)
        rng = random.Random(f"punctuality:{seed}")
        # a few departments answer late often, most rarely: the report's chart should show the difference
        shares = [0.06, 0.12, 0.22, 0.4]
        rng.shuffle(shares)
        self.habits: dict[str, Punctuality] = {
            code: Punctuality(shares[i % len(shares)], rng.uniform(0.15, 0.3))
            for i, code in enumerate(self.line_departments)
        }
        self.default = Punctuality(0.12, 0.2)  # the bureau and the information centre
        self._actors: dict[tuple[str, str | None, str], Actor] = {}
        self.stand_ins: set[str] = set()

    def punctuality(self, department: str | None) -> Punctuality:
        return self.habits.get(department or "", self.default)

    def department_of(self, spec: WorkflowSpec, role_name: str, variables: Mapping[str, object]) -> str | None:
        """The department the role is bound to in this instance, as the engine binds it: its department
        variable's value, or the department the directory tags as its organisation (`org: center` of an `lz`
        workflow: lz.center); None when the role is bound to neither."""
        return bound_department(self.directory, spec, spec.roles[role_name], variables)

    def actor(self, spec: WorkflowSpec, role_name: str, variables: Mapping[str, object]) -> Actor:
        """The person who acts in `role_name` for this instance (a stand-in when the directory has nobody)."""
        role = spec.roles[role_name]
        dept = self.department_of(spec, role_name, variables)
        key = (role.base, dept, spec.jurisdiction)
        found = self._actors.get(key)
        if found is None:
            people = sorted(self.directory.people(role.base, dept), key=lambda p: p.id)
            if people:
                person = _in_region(people, REGION_OF_JURISDICTION.get(spec.jurisdiction))
                found = Actor(person.id, frozenset(person.roles), person.department)
            else:
                # the directory lists nobody for this role there: a stand-in acts (and nobody is notified)
                found = Actor(f"{role.base}@{dept or spec.jurisdiction}", frozenset({role.base}), dept)
                where = self.directory.department_name(dept) if dept else "any department"
                self.stand_ins.add(f"{role.base} at {where}")
            self._actors[key] = found
        return found


def _in_region(people: list[Person], region: str | None) -> Person:
    local = [p for p in people if region is not None and (p.department or "")[2:8] == region]
    return (local or people)[0]
