"""Turns stored task clocks into the report's `StepRecord`s: who was responsible, and what the step is called.

The responsible department is the one bound to the task's assignee role (its department variable in the
instance); a role bound to no variable (the bureau, the information centre) belongs to the department of the
people holding its base role in the directory, preferring the one in the workflow's region.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from engine.clock import SHANGHAI
from engine.errors import WorkflowError
from engine.notify import responsible_department
from engine.ports import Directory
from engine.reporting.figures import StepRecord
from engine.spec import WorkflowSpec

#: The administrative division (credit code characters 3-8) where each jurisdiction's bureaus sit.
REGION_OF_JURISDICTION: Mapping[str, str] = {"gx": "450000", "lz": "450200", "common": "450200", "cq": "500000"}


class ClockRow(Protocol):
    """What the gatherer needs of a stored task clock (see `storage.reports.ClockRecord`)."""

    @property
    def instance_id(self) -> str: ...
    @property
    def workflow_id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def business_key(self) -> str: ...
    @property
    def variables(self) -> Mapping[str, Any]: ...
    @property
    def state(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def stopped_at(self) -> datetime | None: ...
    @property
    def warnings(self) -> int: ...
    @property
    def breached(self) -> bool: ...
    @property
    def escalation_level(self) -> int: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def paused(self) -> bool: ...


class Specs(Protocol):
    """What the gatherer needs of `engine.definitions.DefinitionSet`."""

    def get(self, workflow_id: str) -> Any: ...
    def get_version(self, workflow_id: str, content_hash: str) -> Any: ...


class StepGatherer:
    """Builds step records from clock rows, caching specs and the bureau departments it looked up."""

    def __init__(self, specs: Specs, directory: Directory | None = None) -> None:
        self.specs = specs
        self.directory = directory

    def records(self, rows: Iterable[ClockRow]) -> list[StepRecord]:
        return [self.record(row) for row in rows]

    def record(self, row: ClockRow) -> StepRecord:
        spec = self._spec(row.workflow_id, row.version)
        department, department_name = self._department(spec, row)
        st = spec.states.get(row.state) if spec is not None else None
        title = st.title.zh if st is not None and st.title is not None else row.state
        return StepRecord(
            workflow_id=row.workflow_id,
            workflow_name=spec.name.zh if spec is not None else row.workflow_id,
            instance_id=row.instance_id,
            business_key=row.business_key,
            state=row.state,
            state_title=title,
            department=department,
            department_name=department_name,
            # in Beijing time: the figures take calendar dates from these moments
            started=row.started_at.astimezone(SHANGHAI),
            due=row.due_at.astimezone(SHANGHAI),
            finished=row.stopped_at.astimezone(SHANGHAI) if row.stopped_at is not None else None,
            warnings=row.warnings,
            breached=row.breached,
            escalation_level=row.escalation_level,
            cancelled=row.cancelled,
            paused=row.paused,
        )

    def _spec(self, workflow_id: str, version: str) -> WorkflowSpec | None:
        """The instance's own version; the newest one when that version is not loaded; None if neither is."""
        found: WorkflowSpec
        try:
            found = self.specs.get_version(workflow_id, version).spec
            return found
        except WorkflowError:
            pass
        try:
            found = self.specs.get(workflow_id).spec
            return found
        except WorkflowError:
            return None

    def _department(self, spec: WorkflowSpec | None, row: ClockRow) -> tuple[str, str]:
        """(code, name) of the department answerable for the step, as the notices name it (责任部门); the
        role's title when no department is bound to it. Without a directory: the bound department's code."""
        st = spec.states.get(row.state) if spec is not None else None
        role = spec.roles.get(st.assignee) if spec is not None and st is not None and st.assignee else None
        if spec is None or role is None:
            return "unknown", "（未知部门）"
        if self.directory is not None:
            found = responsible_department(self.directory, spec, row.state, row.variables)
            code, name = found if found is not None else (None, role.title or role.name)
        else:
            value = row.variables.get(role.department_variable) if role.department_variable else None
            code = value if isinstance(value, str) else None
            name = code or role.title or role.name
        return (code, name) if code is not None else (f"role:{role.name}", name)


__all__ = ["REGION_OF_JURISDICTION", "ClockRow", "StepGatherer"]
