"""Reads and checks the calendar data files (one YAML file per year and region) with file:line problems.

The only module of `calendars/` that imports `yaml`; everything else sees `CalendarData`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import yaml

from calendars.errors import CalendarDataError

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"
NATIONAL = "CN"
#: folder name -> region code; a region other than CN is an overlay on the national schedule.
REGION_FOLDERS = {"cn": "CN", "cn-gx": "CN-GX"}
_FOLDERS = {region: folder for folder, region in REGION_FOLDERS.items()}
#: overlay region -> (month, day) before which its overlay never declares a day. A year with the national file
#: but no overlay file is known up to the day before: the national schedule alone answers there, and only the
#: days from this one on wait for the regional notice. Safe for Guangxi: 壮族三月三 is lunar 3/3, which never
#: falls before about 21 March (2018-2026: days off 03-29..04-23), and its make-up days sit next to it. The
#: reader refuses an overlay day before this date, so the assumption cannot silently break.
OVERLAY_FROM: dict[str, tuple[int, int]] = {"CN-GX": (3, 1)}
CONFIDENCE_LEVELS = ("high", "medium-high", "medium", "medium-low", "low")
_ONE = timedelta(days=1)

try:  # the C parser keeps node marks too and is several times faster
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

Kind = Literal["off", "work"]


@dataclass(frozen=True, slots=True)
class DayEntry:
    """One day a data file declares off or working, with where it was declared and on whose authority."""

    day: date
    kind: Kind
    label: str
    source: str
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class YearFile:
    """One region's schedule for one year, as read from its file."""

    region: str
    year: int
    path: str
    confidence: str
    status: str
    entries: tuple[DayEntry, ...]
    #: national make-up working days this overlay turns into days off (declared on purpose)
    overrides_national_work: frozenset[date] = frozenset()


@dataclass(frozen=True)
class CalendarData:
    """Every year file found, by region then year."""

    data_dir: Path
    files: dict[str, dict[int, YearFile]] = field(default_factory=dict)

    def years(self, region: str) -> frozenset[int]:
        """The calendar years the region has complete data for (an overlay needs the national file too)."""
        national = set(self.files.get(NATIONAL, {}))
        if region == NATIONAL:
            return frozenset(national)
        return frozenset(national & set(self.files.get(region, {})))

    def partial_years(self, region: str) -> dict[int, date]:
        """The years the region knows only in part (national file, no overlay file): year -> first unknown day."""
        cutoff = OVERLAY_FROM.get(region)
        if region == NATIONAL or cutoff is None:
            return {}
        overlay = self.files.get(region, {})
        return {y: date(y, *cutoff) for y in self.files.get(NATIONAL, {}) if y not in overlay}

    def missing_files(self, region: str, year: int) -> tuple[str, ...]:
        """The files to add so that the region covers `year`, as paths to show (national first)."""
        wanted = [NATIONAL] if region == NATIONAL else [NATIONAL, region]
        return tuple(
            shown_path(self.data_dir / _FOLDERS[r] / f"{year}.yaml")
            for r in wanted
            if year not in self.files.get(r, {})
        )

    def coverage(self) -> str:
        """The years each region has complete data for, and those it knows in part, in a few words:
        "CN 2018-2026, CN-GX 2019-2026 (2027 before 03-01)"."""
        return ", ".join(
            f"{region} {_spans(sorted(self.years(region)))}"
            + "".join(f" ({y} before {day:%m-%d})" for y, day in sorted(self.partial_years(region).items()))
            for region in REGION_FOLDERS.values()
        )

    def entries(self, region: str) -> Iterator[DayEntry]:
        """National entries first, then the region's overlay: a later entry for the same day wins."""
        for y in sorted(self.files.get(NATIONAL, {})):
            yield from self.files[NATIONAL][y].entries
        if region != NATIONAL:
            for y in sorted(self.files.get(region, {})):
                yield from self.files[region][y].entries


def _spans(years: list[int]) -> str:
    """Sorted years as runs: [2018, 2019, 2020, 2022] -> "2018-2020,2022"."""
    if not years:
        return "none"
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][1] + 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def shown_path(path: Path) -> str:
    """A path as problems print it: relative to the working directory when it lies below it."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


#: The statutory days off whose date never moves (全国年节及纪念日放假办法), as (month, day, holiday, first year):
#: every national year's notice makes them off, so a year file that does not is wrong. 2 May is one since
#: 2025-01-01: 国务院关于修改《全国年节及纪念日放假办法》的决定 (2024); the 2025 and 2026 notices follow it.
STATUTORY_FIXED_DAYS: tuple[tuple[int, int, str, int], ...] = (
    (1, 1, "元旦", 1950),
    (5, 1, "劳动节", 1950),
    (5, 2, "劳动节", 2025),
    (10, 1, "国庆节", 1950),
    (10, 2, "国庆节", 1950),
    (10, 3, "国庆节", 1950),
)
#: The days off of 壮族三月三 each citizen of Guangxi has (广西壮族自治区关于“壮族三月三”放假的规定, since 2014).
GUANGXI_DAYS_OFF = 2


class _FileReader:
    """Walks one file's YAML nodes, collecting problems with their line instead of stopping at the first."""

    def __init__(self, path: Path, region: str, year_from_name: int) -> None:
        self.path = path
        self.name = shown_path(path)
        self.region = region
        self.year = year_from_name
        self.problems: list[str] = []

    def problem(self, node: yaml.Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(f"{self.name}:{line}: {message}")

    def read(self) -> YearFile | None:
        try:
            root = yaml.compose(self.path.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.MarkedYAMLError as err:
            line = err.problem_mark.line + 1 if err.problem_mark else 1
            self.problems.append(f"{self.name}:{line}: not valid YAML: {err.problem}")
            return None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            self.problems.append(f"{self.name}:1: cannot read the file: {err}")
            return None
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "expected a mapping with region, year, ... (see docs/calendar.md)")
            return None
        top = self.mapping(root)
        region = self.scalar(top, root, "region")
        if region is not None and region.value != self.region:
            self.problem(region, f"region {region.value!r} does not match the folder, which holds {self.region!r}")
        year = self.scalar(top, root, "year")
        if year is not None and year.value != str(self.year):
            self.problem(year, f"year {year.value} does not match the file name {self.path.name}")
        confidence = self.scalar(top, root, "confidence")
        if confidence is not None and confidence.value not in CONFIDENCE_LEVELS:
            self.problem(confidence, f"confidence {confidence.value!r} is not one of {', '.join(CONFIDENCE_LEVELS)}")
        if self.region == NATIONAL:
            entries, overrides, status = self.national(top, root), frozenset[date](), "observed"
        else:
            entries, overrides, status = self.overlay(top, root)
        return YearFile(
            region=self.region,
            year=self.year,
            path=self.name,
            confidence=confidence.value if confidence is not None else "",
            status=status,
            entries=tuple(entries),
            overrides_national_work=overrides,
        )

    # -- the two file shapes -------------------------------------------------------------------------------

    def national(self, top: dict[str, yaml.Node], root: yaml.Node) -> list[DayEntry]:
        notices: set[str] = set()
        node = top.get("notices")
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node or root, "missing source: 'notices' must list the State Council notice(s)")
        else:
            for item in node.value:
                if not isinstance(item, yaml.MappingNode):
                    self.problem(item, "a notice is a mapping with number, dated, title and url")
                    continue
                fields = self.mapping(item)
                number = self.scalar(fields, item, "number", "missing source: the notice has no number")
                dated = self.scalar(fields, item, "dated", "missing source: the notice has no date (dated)")
                title = self.scalar(fields, item, "title")
                if title is not None and f"{self.year}年" not in title.value:
                    self.problem(title, f"the notice's title does not name {self.year}年: is this the notice of "
                                        "another year, left from the file this one was copied from?")
                if dated is not None:
                    self.parse_date(dated, dated.value)
                if number is not None:
                    notices.add(number.value)
        entries: list[DayEntry] = []
        holidays = top.get("holidays")
        if not isinstance(holidays, yaml.SequenceNode):
            self.problem(holidays or root, "'holidays' must list the holidays of the notice")
            return entries
        for item in holidays.value:
            if not isinstance(item, yaml.MappingNode):
                self.problem(item, "a holiday is a mapping with name, notice, off and work")
                continue
            fields = self.mapping(item)
            name = self.scalar(fields, item, "name")
            label = name.value if name is not None else "?"
            notice = fields.get("notice")
            if not isinstance(notice, yaml.ScalarNode) or not notice.value:
                self.problem(notice or item, f"missing source: holiday {label!r} names no notice")
                source = ""
            else:
                source = notice.value
                if source not in notices:
                    known = ", ".join(sorted(notices)) or "none"
                    self.problem(notice, f"missing source: notice {source!r} is not listed under notices ({known})")
            low = date(self.year - 1, 12, 1)  # a notice may reach back into the previous December
            for kind in ("off", "work"):
                for day, node in self.days(fields.get(kind)):
                    if not low <= day <= date(self.year, 12, 31):
                        self.problem(
                            node,
                            f"{day} is outside the span of the {self.year} notice ({low}..{self.year}-12-31);"
                            " put it in the file of the year whose notice declares it",
                        )
                    entries.append(DayEntry(day, kind, label, source, self.name, node.start_mark.line + 1))
            # cancels_work records the make-up days an amendment withdrew (provenance); the entry must make them off.
            own_off = {e.day for e in entries if e.kind == "off" and e.label == label and e.source == source}
            for day, node in self.days(fields.get("cancels_work")):
                if day not in own_off:
                    self.problem(node, f"cancels_work names {day}, which this entry's 'off' does not include")
        self.statutory_days(entries, holidays)
        return entries

    def statutory_days(self, entries: list[DayEntry], holidays: yaml.Node) -> None:
        """Every notice gives the fixed-date statutory days and the Spring Festival off: a file without them
        is unfinished, and would count them as working days."""
        off = {e.day for e in entries if e.kind == "off"}
        missing = [f"{date(self.year, m, d)} ({label})" for m, d, label, since in STATUTORY_FIXED_DAYS
                   if since <= self.year and date(self.year, m, d) not in off]
        if missing:
            self.problem(holidays, f"the statutory days off {', '.join(missing)} are not off: every year's notice "
                                   "gives them; copy its 放假 lines in full")
        if not any(e.kind == "off" and e.label.startswith("春节") for e in entries):
            self.problem(holidays, "no 春节 entry with days off: every year's notice gives the Spring Festival")

    def overlay(
        self, top: dict[str, yaml.Node], root: yaml.Node
    ) -> tuple[list[DayEntry], frozenset[date], str]:
        source = top.get("source")
        label = "regional"
        if not isinstance(source, yaml.MappingNode):
            self.problem(source or root, "missing source: 'source' must give title, basis and urls")
        else:
            fields = self.mapping(source)
            title = self.scalar(fields, source, "title", "missing source: the source has no title")
            if title is not None:
                label = title.value
            urls = fields.get("urls")
            if not isinstance(urls, yaml.SequenceNode) or not urls.value:
                self.problem(urls or source, "missing source: 'urls' must list where the arrangement was read")
        status_node = self.scalar(top, root, "status")
        status = status_node.value if status_node is not None else "observed"
        if status_node is not None and status not in ("observed", "cancelled"):
            self.problem(status_node, f"status {status!r} is not 'observed' or 'cancelled'")
        entries: list[DayEntry] = []
        declared: list[tuple[date, yaml.Node]] = []
        for kind in ("off", "work"):
            for day, node in self.days(top.get(kind)):
                if day.year != self.year:
                    self.problem(node, f"{day} is outside the year of this file ({self.year})")
                entries.append(DayEntry(day, kind, label, self.region, self.name, node.start_mark.line + 1))
                declared.append((day, node))
        if status == "cancelled" and any(e.kind == "off" for e in entries):
            self.problem(top.get("off"), "status is 'cancelled' but days off are listed")
        if (status == "observed" and self.region == "CN-GX"
                and sum(e.kind == "off" for e in entries) < GUANGXI_DAYS_OFF):
            self.problem(top.get("off") or root,
                         f"status is 'observed' but fewer than {GUANGXI_DAYS_OFF} days off are listed: every "
                         "citizen of Guangxi has 2 days off for 壮族三月三 (write status: cancelled for a year "
                         "without them)")
        overriding = self.days(top.get("overrides_national_work"))
        cutoff = OVERLAY_FROM.get(self.region)
        if cutoff is not None:
            first = date(self.year, *cutoff)
            reported: set[int] = set()  # one problem per date or span
            for day, node in declared + overriding:
                if first.year == day.year and day < first and id(node) not in reported:
                    reported.add(id(node))
                    self.problem(
                        node,
                        f"{day} is before {first:%m-%d}, the first day a {self.region} overlay may declare: days"
                        " before it are answered from the national file alone while the overlay file is missing"
                        " (OVERLAY_FROM in calendars/data_files.py)",
                    )
        overrides = frozenset(d for d, _ in overriding)
        self.days(top.get("cancelled_off"))
        return entries, overrides, status

    # -- small readers -------------------------------------------------------------------------------------

    def mapping(self, node: yaml.MappingNode) -> dict[str, yaml.Node]:
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in out:
                    self.problem(key, f"key {key.value!r} appears twice")
                out[key.value] = value
        return out

    def scalar(
        self, fields: dict[str, yaml.Node], parent: yaml.Node, key: str, missing: str | None = None
    ) -> yaml.ScalarNode | None:
        node = fields.get(key)
        if isinstance(node, yaml.ScalarNode) and node.value != "" and node.tag != "tag:yaml.org,2002:null":
            return node
        self.problem(node or parent, missing or f"'{key}' is missing")
        return None

    def parse_date(self, node: yaml.Node, text: str) -> date | None:
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            self.problem(node, f"{text!r} is not a date (write YYYY-MM-DD, or YYYY-MM-DD..YYYY-MM-DD for a span)")
            return None

    def days(self, node: yaml.Node | None) -> list[tuple[date, yaml.Node]]:
        """The dates of a list of dates and 'A..B' spans (both ends included)."""
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, "expected a list of dates, e.g. [2026-10-01..2026-10-07, 2026-10-10]")
            return []
        out: list[tuple[date, yaml.Node]] = []
        for item in node.value:
            if not isinstance(item, yaml.ScalarNode):
                self.problem(item, "expected a date or a span A..B")
                continue
            first_text, sep, last_text = item.value.partition("..")
            first = self.parse_date(item, first_text)
            last = self.parse_date(item, last_text) if sep else first
            if first is None or last is None:
                continue
            if last < first or (last - first).days > 31:
                self.problem(item, f"span {item.value} must run forwards and last at most a month")
                continue
            day = first
            while day <= last:
                out.append((day, item))
                day += _ONE
        return out


def _cross_checks(files: dict[str, dict[int, YearFile]]) -> list[str]:
    """Rules that need more than one file: a day both off and working, weekday make-up days, overlay conflicts."""
    problems: list[str] = []
    national: dict[date, DayEntry] = {}
    for region in sorted(files, key=lambda r: r != NATIONAL):
        seen: dict[date, DayEntry] = {}
        for year in sorted(files[region]):
            for e in files[region][year].entries:
                where = f"{e.file}:{e.line}"
                first = seen.get(e.day)
                if first is not None:
                    if first.kind != e.kind:
                        problems.append(
                            f"{where}: {e.day} is declared {_word(e.kind)} here and {_word(first.kind)}"
                            f" at {first.file}:{first.line}; a day is either off or working"
                        )
                    elif (first.file, first.line) != (e.file, e.line):
                        problems.append(f"{where}: {e.day} is listed again (first at {first.file}:{first.line})")
                    continue
                seen[e.day] = e
                if e.kind == "work" and e.day.weekday() < 5:
                    problems.append(
                        f"{where}: make-up working day {e.day} is a {e.day:%A}, not a weekend day;"
                        " only a Saturday or Sunday can be made a working day"
                    )
                if region == NATIONAL:
                    continue
                base = national.get(e.day)
                overrides = files[region][year].overrides_national_work
                if e.kind == "work" and base is not None and base.kind == "off":
                    problems.append(
                        f"{where}: overlay conflict: {e.day} is a national day off"
                        f" ({base.label}, {base.file}:{base.line}) and cannot be a regional working day"
                    )
                if e.kind == "off" and base is not None and base.kind == "work" and e.day not in overrides:
                    problems.append(
                        f"{where}: overlay conflict: {e.day} is a national make-up working day"
                        f" ({base.file}:{base.line}); list it under overrides_national_work"
                        " if the region really takes it off"
                    )
        for year in sorted(files[region]):
            yf = files[region][year]
            for day in sorted(yf.overrides_national_work):
                base = national.get(day)
                if base is None or base.kind != "work":
                    problems.append(
                        f"{yf.path}:1: overrides_national_work names {day}, which is not a national make-up working day"
                    )
        if region == NATIONAL:
            national = seen
    return problems


def _word(kind: str) -> str:
    return "a day off" if kind == "off" else "a working day"


def read_data(data_dir: Path | None = None) -> tuple[CalendarData, list[str]]:
    """Reads every year file below `data_dir`; returns the data and every problem found ('file:line: ...')."""
    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    problems: list[str] = []
    files: dict[str, dict[int, YearFile]] = {}
    if not root.is_dir():
        return CalendarData(root, files), [f"{shown_path(root)}: no calendar data folder here"]
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        region = REGION_FOLDERS.get(folder.name)
        if region is None:
            problems.append(
                f"{shown_path(folder)}: unknown region folder; expected one of {', '.join(sorted(REGION_FOLDERS))}"
            )
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".yaml", ".yml"):
                continue
            if not (path.stem.isdigit() and len(path.stem) == 4):
                problems.append(f"{shown_path(path)}:1: the file name must be the year, e.g. 2027.yaml")
                continue
            reader = _FileReader(path, region, int(path.stem))
            year_file = reader.read()
            problems.extend(reader.problems)
            if year_file is not None:
                files.setdefault(region, {})[year_file.year] = year_file
    problems.extend(_cross_checks(files))
    return CalendarData(root, files), problems


def load_data(data_dir: Path | None = None) -> CalendarData:
    """Reads the data folder; raises `CalendarDataError` (every problem, one per line) if anything is wrong."""
    data, problems = read_data(data_dir)
    if problems:
        raise CalendarDataError(problems)
    return data
