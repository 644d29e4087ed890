"""Errors of the working-day calendar; each says what to do about it."""

from __future__ import annotations


class CalendarError(Exception):
    """Root of the calendar's errors."""


class CalendarYearMissing(CalendarError):
    """A computation needs a year for which no schedule file is loaded for the region."""

    def __init__(self, year: int, region: str) -> None:
        self.year = year
        self.region = region
        super().__init__(
            f"no holiday schedule for {year} in region {region}: add calendars/data/cn/{year}.yaml"
            + (f" (and the Guangxi overlay calendars/data/cn-gx/{year}.yaml)" if region == "CN-GX" else "")
            + " from the State Council notice, run `cli.py calendar check`, or allow provisional deadlines"
        )


class UnknownRegion(CalendarError):
    def __init__(self, region: str, known: tuple[str, ...]) -> None:
        self.region = region
        self.known = known
        super().__init__(f"unknown calendar region {region!r}; known regions: {', '.join(known)}")


class CalendarDataError(CalendarError):
    """A calendar data file is wrong; `problems` holds every 'file:line: message'."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class CalendarInputError(CalendarError, ValueError):
    """A calendar call got an argument it cannot use (a naive datetime, a negative count, a wrong type)."""

    def __init__(self, argument: str, expected: str, received: object) -> None:
        self.argument = argument
        self.expected = expected
        self.received = received
        super().__init__(f"{argument}: expected {expected}, received {received!r}")
