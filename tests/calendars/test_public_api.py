"""The public surface of `calendars`: __all__ names exist and nothing else is advertised."""

from __future__ import annotations

import calendars


def test_all_names_exist() -> None:
    """Every name in calendars.__all__ is importable, and the documented API is among them."""
    assert all(hasattr(calendars, name) for name in calendars.__all__)
    assert {"get_calendar", "reload_data", "DeadlinePolicy", "Deadline", "CalendarYearMissing"} <= set(
        calendars.__all__
    )


def test_engine_error_catches_calendar_error() -> None:
    """engine.errors.CalendarYearMissing is also a calendars.CalendarYearMissing."""
    from engine.errors import CalendarYearMissing, WorkflowError

    err = CalendarYearMissing.wrap(calendars.CalendarYearMissing(2027, "CN"))
    assert isinstance(err, calendars.CalendarYearMissing) and isinstance(err, WorkflowError)
