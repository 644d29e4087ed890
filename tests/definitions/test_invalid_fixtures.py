"""Every invalid fixture in tests/fixtures/invalid/ fails with exactly the lines of its NAME.expected file."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import DefinitionError
from engine.loader import load_text
from tests.definitions.conftest import INVALID

#: The notifier's template folder (notifiers/templates/*.j2) as the validator is told about it.
NOTIFIER_TEMPLATES = frozenset({
    "task_assigned", "sla_warning", "sla_breach", "sla_escalation", "supervisor_digest", "daily_digest",
    "request_granted", "request_refused", "returned_for_correction", "publicity_started", "objection_raised",
    "procedure_completed", "recurring_duty_due",
})

FIXTURES = sorted(INVALID.glob("*.yaml"))


def problems(path: Path) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        load_text(path.read_bytes(), path.name, known_templates=NOTIFIER_TEMPLATES)
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_invalid_fixture_reports_exactly_the_expected_lines(path: Path) -> None:
    """The messages, positions and order of every problem match the fixture's .expected file."""
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert problems(path) == expected


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_position_is_inside_the_file(path: Path) -> None:
    """Each reported line and column exists in the file."""
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    with pytest.raises(DefinitionError) as err:
        load_text(path.read_bytes(), path.name, known_templates=NOTIFIER_TEMPLATES)
    for p in err.value.problems:
        assert 1 <= p.line <= len(lines) and 1 <= p.col <= len(lines[p.line - 1]) + 1, str(p)


def test_every_fixture_has_an_expected_file() -> None:
    """No fixture without expectations, no expectations without a fixture."""
    assert {p.stem for p in INVALID.glob("*.expected")} == {p.stem for p in FIXTURES}


def test_the_fixtures_cover_every_check() -> None:
    """The expected messages together exercise each kind of problem the validator reports."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in INVALID.glob("*.expected"))
    for phrase in [
        "unknown state", "unknown role", "unknown template", "unknown hook", "unknown variable",
        "is unreachable", "has no way out", "can never reach an end state", "no end state",
        "a decision needs a `default`", "does not parse", "not allowed in a guard", "bad duration",
        "already leaves state", "unknown key", "(did you mean", "must be a mapping", "must be true or false",
        "bad state name", "bad role", "escalation levels start at 1", "must be above the previous one",
        "`after` may not decrease", "must notify bureau.data_supervisor", "must declare bureau.data_supervisor",
        "does not pause in its own task", "is an end state: a clock stops there", "sla.pause_in.0: unknown state",
        "does not fit type",
        "it must be a date variable", "which is not a declared variable", "needs the key 'initial'",
        "has no file notifiers/templates", "tag !!python/object", "anchor &", "duplicate key", "not UTF-8",
        "nothing leaves an end state", "loop back to itself", "counts days on calendar", "name at least one role",
        "is above `max`", "`max` is for int and float", "`after` needs `from`", "exactly one of `date`",
        "`from` goes with `after`", "not a period value", "no `{% ... %}` blocks",
        "unknown organisation", "to an organisation, not both",
    ]:
        assert phrase in text, phrase
