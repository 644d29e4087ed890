"""CN and CN-GX in the project's registry, without changing workalendar's global registry."""

from __future__ import annotations

from datetime import date

from workalendar.asia import China
from workalendar.registry import registry as global_registry

from calendars.china import ChinaWorkingCalendar, GuangxiWorkingCalendar
from calendars.registry import install_into_workalendar, registry


def test_project_registry_answers_cn_and_cn_gx() -> None:
    """The project's registry gives the project's classes for CN and CN-GX and workalendar's for the rest."""
    assert registry.get("CN") is ChinaWorkingCalendar
    assert registry.get("CN-GX") is GuangxiWorkingCalendar
    assert registry.get("FR") is global_registry.get("FR")
    assert registry.get_subregions("CN") == {"CN-GX": GuangxiWorkingCalendar}
    assert registry.get("CN-GX")().is_working_day(date(2026, 4, 17)) is False


def test_global_registry_untouched_unless_asked() -> None:
    """workalendar's registry still gives its own China; install_into_workalendar swaps it and returns the old."""
    assert global_registry.get("CN") is China
    before = install_into_workalendar()
    try:
        assert global_registry.get("CN") is ChinaWorkingCalendar
    finally:
        for code, cls in before.items():
            if cls is None:
                global_registry.region_registry.pop(code, None)
            else:
                global_registry.register(code, cls)
    assert before == {"CN": China, "CN-GX": None}
    assert global_registry.get("CN") is China
