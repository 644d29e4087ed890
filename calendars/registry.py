"""The project's ISO registry: workalendar's own calendars, with CN and CN-GX answered by the project's classes.

workalendar's global `workalendar.registry.registry` already maps CN to its own `China` class. Replacing that
entry would silently change the answers of every other user of the library in the process, so the project keeps
a registry of its own: `calendars.registry.registry.get("CN")` gives `ChinaWorkingCalendar`, while
`workalendar.registry.registry.get("CN")` still gives workalendar's `China`. A deployment that wants the global
registry changed must ask for it by calling `install_into_workalendar()`.
"""

from __future__ import annotations

from workalendar.core import Calendar
from workalendar.registry import IsoRegistry
from workalendar.registry import registry as workalendar_registry

from calendars.china import ChinaWorkingCalendar, GuangxiWorkingCalendar

PROJECT_CALENDARS: dict[str, type[Calendar]] = {"CN": ChinaWorkingCalendar, "CN-GX": GuangxiWorkingCalendar}


def _build() -> IsoRegistry:
    project = IsoRegistry(load_standard_modules=False)
    for code, cls in workalendar_registry.region_registry.items():
        project.register(code, cls)
    for code, cls in PROJECT_CALENDARS.items():
        project.register(code, cls)
    return project


registry = _build()


def install_into_workalendar() -> dict[str, type[Calendar] | None]:
    """Explicit opt-in: makes workalendar's global registry answer CN and CN-GX with the project's classes.

    Returns what was registered before, so a caller can put it back.
    """
    before = {code: workalendar_registry.region_registry.get(code) for code in PROJECT_CALENDARS}
    for code, cls in PROJECT_CALENDARS.items():
        workalendar_registry.register(code, cls)
    return before
