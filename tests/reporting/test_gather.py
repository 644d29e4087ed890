"""Step records from stored clocks: the answerable department, the titles, and Beijing dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engine.definitions import DefinitionSet
from engine.reporting.gather import StepGatherer
from notifiers.directory import YamlDirectory
from storage.reports import ClockRecord

ROOT = Path(__file__).resolve().parents[2]
GAJ = "11450200007565127X"


@pytest.fixture(scope="module")
def gatherer() -> StepGatherer:
    return StepGatherer(DefinitionSet.load([ROOT / "workflows"]),
                        YamlDirectory(ROOT / "notifiers" / "example_directory.yaml"))


def row(workflow: str, state: str, started: datetime, **variables: str) -> ClockRecord:
    return ClockRecord(1, "i1", workflow, "unknown-version", "K-1", dict(variables), state, "CN-GX", started,
                       datetime(2026, 10, 12, 16, tzinfo=UTC), None, 0, False, 0)


def test_dates_are_beijing_dates(gatherer: StepGatherer) -> None:
    """A step stored at 23:30 UTC on 10-08 was received on 10-09 in Beijing, and is due at 24:00 10-12."""
    rec = gatherer.record(row("lz.data_request", "provider_approval", datetime(2026, 10, 8, 23, 30, tzinfo=UTC),
                              provider_dept=GAJ))
    assert rec.started.date() == date(2026, 10, 9)
    assert (rec.due.date(), rec.due.hour) == (date(2026, 10, 13), 0)


def test_department_variable_and_titles(gatherer: StepGatherer) -> None:
    """The provider's step counts against the provider, named from the directory, with the state's title."""
    rec = gatherer.record(row("lz.data_request", "provider_approval", datetime(2026, 10, 9, 2, tzinfo=UTC),
                              provider_dept=GAJ))
    assert (rec.department, rec.department_name, rec.workflow_name) == (GAJ, "柳州市公安局", "数据需求申请（柳州市）")
    assert rec.state_title != "provider_approval"


def test_bureau_roles_belong_to_the_bureau_of_the_region(gatherer: StepGatherer) -> None:
    """The Guangxi normative review counts against the regional bureau, the Liuzhou docking the city's."""
    gx = gatherer.record(row("gx.data_request", "normative_review", datetime(2026, 10, 9, 2, tzinfo=UTC)))
    lz = gatherer.record(row("lz.data_request", "docking", datetime(2026, 10, 9, 2, tzinfo=UTC)))
    assert gx.department_name == "广西壮族自治区大数据发展局"
    assert lz.department_name == "柳州市大数据发展局"
