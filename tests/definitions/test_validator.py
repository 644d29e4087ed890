"""The validator's entry points: clean files pass, every shipped workflow passes against the notifier's templates,
and problems come back all at once, sorted by position."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import template_names
from engine.errors import DefinitionError
from engine.loader import load_file, load_text, parse_text
from engine.validator import check_document, validate_stored
from tests.definitions.conftest import GX_REQUEST, REPO

SHIPPED = sorted((REPO / "workflows").glob("**/*.yaml"))
TEMPLATES = REPO / "notifiers" / "templates"


def test_valid_fixture_has_no_problems() -> None:
    """check_document answers the spec and no problems for the Guangxi request."""
    spec, problems = check_document(parse_text(GX_REQUEST.read_bytes(), str(GX_REQUEST)))
    assert problems == [] and spec is not None and spec.id == "gx.data_request"


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_every_shipped_workflow_is_valid_with_the_notifier_templates(path: Path) -> None:
    """Each file under workflows/ validates, its templates checked against notifiers/templates/*.j2."""
    known = template_names(TEMPLATES) if TEMPLATES.is_dir() else None
    assert load_file(path, known).id


def test_template_names_skip_partials(tmp_path: Path) -> None:
    """`_macros.j2` is a partial, not a template name."""
    for name in ("_macros.j2", "task_assigned.j2", "notes.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert template_names(tmp_path) == {"task_assigned"}


def test_known_templates_are_checked_only_when_given() -> None:
    """Without a template set nothing is said about files; with an empty set every used template is missing."""
    text = GX_REQUEST.read_text(encoding="utf-8")
    assert load_text(text, "gx.yaml").id
    with pytest.raises(DefinitionError) as err:
        load_text(text, "gx.yaml", known_templates=set())
    missing = sorted(p.message.split("'")[1] for p in err.value.problems)
    assert missing == ["request_granted", "request_refused", "returned_for_correction", "sla_breach",
                       "sla_escalation", "sla_warning", "task_assigned"]


def test_problems_of_one_file_come_together_sorted() -> None:
    """Three independent mistakes are reported in one error, in file order."""
    text = (GX_REQUEST.read_text(encoding="utf-8")
            .replace("calendar: CN-GX", "calendar: CN-GZ")
            .replace("due: 5 WD", "due: 5 days")
            .replace("to: granted, role", "to: grantd, role"))
    with pytest.raises(DefinitionError) as err:
        load_text(text, "gx.yaml")
    lines = [(p.line, p.col) for p in err.value.problems]
    assert len(lines) == 3 and lines == sorted(lines)
    assert [p.path for p in err.value.problems] == ["calendar", "states.provider_approval.sla.due",
                                                    "transitions.9.to"]


def test_a_mistyped_payload_type_is_one_problem_not_two() -> None:
    """`save` naming a payload field whose type is mistyped is not reported again as "not a payload field"."""
    text = GX_REQUEST.read_text(encoding="utf-8").replace(
        "reason:      {type: text, required: true}", "reason:      {type: txt, required: true}", 1)
    with pytest.raises(DefinitionError) as err:
        load_text(text, "gx.yaml")
    assert [p.message.split(";")[0] for p in err.value.problems] == [
        "unknown type 'txt' (did you mean 'text'?)"]


@pytest.mark.parametrize("guard", ["sharing_type != 'uncondtional' or control_params",
                                   "sharing_type in ['conditional', 'uncondtional'] or control_params"])
def test_a_guard_comparing_an_enum_with_a_value_it_cannot_have_is_refused(guard: str) -> None:
    """A misspelt enum value in a guard would make a branch that is never taken: it is named, with the values."""
    text = GX_REQUEST.read_text(encoding="utf-8").replace(
        "guard: \"sharing_type != 'unconditional' or control_params\"", f'guard: "{guard}"', 1)
    with pytest.raises(DefinitionError) as err:
        load_text(text, "gx.yaml")
    assert [p.message.split(", which")[0] for p in err.value.problems] == [
        f"guard {guard!r} compares enum 'sharing_type' with 'uncondtional'"]
    assert "(did you mean 'unconditional'?)" in err.value.problems[0].message


QUALITY = REPO / "workflows" / "gx" / "data_quality.yaml"
LATE = "late: {due: {after: 2 WD, from: data_received}, mark: objection_late}"


@pytest.mark.parametrize(("late", "where", "said"), [
    ("late: {due: 2 WD, mark: objection_late}", "due",
     "an event's deadline counts from a date variable: write `{after: 2 WD, from: VARIABLE}` or `{date: VARIABLE}`"),
    ("late: {due: {after: 2 WD, from: objection}, mark: objection_late}", "due.from",
     "late `from` names variable 'objection' of type text; it must be a date variable"),
    ("late: {due: {date: data_recieved}, mark: objection_late}", "due.date",
     "late `date` names unknown variable 'data_recieved' (did you mean 'data_received'?)"),
    ("late: {due: {after: 2 WD, from: data_received}, mark: objection_lat}", "mark",
     "late marks unknown variable 'objection_lat' (did you mean 'objection_late'?); declare it as a bool"),
    ("late: {due: {after: 2 WD, from: data_received}, mark: objection}", "mark",
     "late marks variable 'objection' of type text; it must be a bool variable"),
    ("late: {due: {after: 2 WD, from: data_received}, mark: objection_late, notify: [x]}", "notify",
     "unknown key 'notify' in late; allowed: due, mark"),
], ids=["a plain duration", "from a text", "a misspelt date", "a misspelt mark", "a text mark", "a wrong key"])
def test_a_late_mark_that_cannot_be_worked_out_is_named_where_it_is(late: str, where: str, said: str) -> None:
    """`late` needs a deadline anchored to a date variable and a bool variable to mark: each slip is one problem
    at its own place in the file."""
    source = QUALITY.read_text(encoding="utf-8")
    text = source.replace(LATE, late, 1)
    with pytest.raises(DefinitionError) as err:
        load_text(text, "q.yaml")
    [problem] = err.value.problems
    line = text[: text.index(late)].count("\n") + 1
    index = next(i for i, t in enumerate(parse_text(source, "q.yaml").data["transitions"]) if "late" in t)
    assert problem.path == f"transitions.{index}.late.{where}"
    assert problem.line == line and said in problem.message


DRILL = REPO / "workflows" / "lz" / "emergency_drill.yaml"
GUARD = "guard: \"sharing_type != 'unconditional' or control_params\""


@pytest.mark.parametrize(("path", "old", "new", "broken"), [
    (GX_REQUEST, "\nstart:", "\nx_start:", "missing required key 'start'"),
    (GX_REQUEST, GUARD, "guard: \"sharing_type != 'uncondtional' or control_params\"", "compares enum"),
    (DRILL, 'cron: "0 9 1 12 *"', 'cron: "0 9 31 2 *"', "cron"),
    (DRILL, "summary:             {type: text,", "summary:             {type: text, required: true,",
     "required variable(s) 'summary' not given"),
], ids=["start", "enum-guard", "cron", "recurring-required"])
def test_a_stored_version_is_served_with_rules_for_new_definitions_waived(path: Path, old: str, new: str,
                                                                          broken: str) -> None:
    """What only keeps a mistake out of new definitions is waived for a stored version (and named), the same text is
    refused as a new one, and any other problem is refused in both."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    edited = text.replace(old, new, 1).replace("x_start:", "# start:")
    spec, waived = validate_stored(parse_text(edited, "stored.yaml"))
    with pytest.raises(DefinitionError) as as_new:
        load_text(edited, "new.yaml")
    with pytest.raises(DefinitionError) as other:
        validate_stored(parse_text(edited.replace("\nid: ", "\nid: Bad ", 1), "stored.yaml"))
    assert spec.content_hash == parse_text(edited).content_hash
    assert [broken in p.message for p in waived] == [True]
    assert [broken in p.message for p in as_new.value.problems] == [True]
    assert "Bad" in str(other.value)
