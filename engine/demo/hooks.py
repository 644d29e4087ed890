"""The hooks the demo registers in place of the backend's: who uses a resource, and the codes the catalog system
assigns to catalog entries (annex 3) and code sets (annex 2 §三). Seeded, so the same seed gives the same run."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from engine.runtime import Engine

#: Annex 2 §三, table 1: the marker (前1位) of a code set's code by the kind of standard it follows.
CODE_SET_MARKERS: Mapping[str, str] = {"national": "0", "provincial": "1", "local": "2", "sector": "3", "other": "4"}
#: The 4-digit sequence number after the marker runs from 0001 to 9999.
CODE_SET_SEQUENCE_MAX = 9999


def code_set_code(standard_kind: str, sequence: int) -> str:
    """Annex 2 §三 "分类编码标记加上4位顺序码0001-9999": `code_set_code("local", 7) == "20007"`."""
    marker = CODE_SET_MARKERS.get(standard_kind)
    if marker is None:
        raise ValueError(f"no code-set marker for standard kind {standard_kind!r}; "
                         f"known kinds: {', '.join(CODE_SET_MARKERS)}")
    if not 1 <= sequence <= CODE_SET_SEQUENCE_MAX:
        raise ValueError(f"code-set sequence {sequence} is outside 1..{CODE_SET_SEQUENCE_MAX} (marker {marker})")
    return f"{marker}{sequence:04d}"


class DemoHooks:
    """The backend's answers, made up: each hook takes the instance's variables and returns variable updates."""

    def __init__(self, seed: int, line_departments: Sequence[str]) -> None:
        self.seed = seed
        self.line_departments = list(line_departments)
        self._resource_codes = 0
        self._code_set_codes: Counter[str] = Counter()

    def register(self, engine: Engine) -> None:
        engine.register_hook("resource_users", self.resource_users)
        engine.register_hook("assign_resource_code", self.assign_resource_code)
        engine.register_hook("assign_code_set_code", self.assign_code_set_code)

    def resource_users(self, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        """Departments still using the resource: about two in five resources have some."""
        rng = random.Random(f"users:{self.seed}:{variables.get('resource_id')}")
        others = [c for c in self.line_departments if c != variables.get("provider_dept")]
        users = rng.sample(others, rng.randint(1, 2)) if rng.random() < 0.4 else []
        return {"users": sorted(users)}

    def assign_resource_code(self, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        """Annex 3 coding: category (6) + region (6) + the department's organisation code (9) + sequence (6)."""
        self._resource_codes += 1
        dept = str(variables.get("dept", ""))
        return {"resource_code": f"{variables.get('category_code')}{variables.get('region_code', '450200')}"
                                 f"{dept[8:17]}{self._resource_codes:06d}"}

    def assign_code_set_code(self, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        """Annex 2 §三: the standard kind's marker and the next sequence number of that marker."""
        kind = str(variables.get("standard_kind"))
        sequence = self._code_set_codes[kind] + 1
        code = code_set_code(kind, sequence)  # raises before counting: a refused number is not used up
        self._code_set_codes[kind] = sequence
        return {"code_set_code": code}
