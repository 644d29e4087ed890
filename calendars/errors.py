"""Errors of the working-day calendar; each says what to do about it."""

from __future__ import annotations

from datetime import date
from pathlib import PurePath


class CalendarError(Exception):
    """Root of the calendar's errors."""


#: Where provisional deadlines are allowed: each place has its own name for the same choice.
ALLOW_PROVISIONAL = ("--allow-provisional on the engine's commands and the worker, --provisional on `cli.py calendar`, "
                     "allow_provisional=True in Python")


class CalendarYearMissing(CalendarError):
    """A computation needs a day for which no schedule file is loaded for the region.

    `missing` names the file(s) to add; `since` is set when the year is known in part (an overlay region with the
    national file but not its own): the days before `since` are answered, the days from it on are not.
    """

    def __init__(
        self, year: int, region: str, *, missing: tuple[str, ...] = (), since: date | None = None
    ) -> None:
        self.year = year
        self.region = region
        self.missing = tuple(missing) or _default_files(year, region)
        self.since = since
        files = " and ".join(
            f"{f} (from the {'State Council' if PurePath(f).parent.name == 'cn' else 'regional government'}'s notice)"
            for f in self.missing
        )
        if since is not None:
            what = f"no {region} schedule from {since} on (the national {year} file is loaded): add {files}"
        else:
            what = f"no holiday schedule for {year} in region {region}: add {files}"
        super().__init__(f"{what}, run `cli.py calendar check`, or allow provisional deadlines ({ALLOW_PROVISIONAL})")


def _default_files(year: int, region: str) -> tuple[str, ...]:
    # Where the caller does not say (an error rebuilt from year and region alone): the files of the package's folder.
    national = f"calendars/data/cn/{year}.yaml"
    return (national,) if region == "CN" else (national, f"calendars/data/{region.lower()}/{year}.yaml")


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
