"""Validator messages an author meets first: unknown base roles, broken escalation levels, misspelt templates and
full-width punctuation are each reported once, at their place, without false follow-on problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.base_roles import BASE_ROLE_MEANINGS, BASE_ROLES
from engine.definitions import template_names
from engine.errors import DefinitionError, DefinitionProblem
from engine.loader import load_file, load_text
from notifiers.directory import BASE_ROLES as DIRECTORY_BASE_ROLES

REPO = Path(__file__).resolve().parents[2]
GX_REQUEST = REPO / "tests" / "fixtures" / "valid" / "gx_data_request.yaml"
TEMPLATES = template_names(REPO / "notifiers" / "templates")
SHIPPED = sorted((REPO / "workflows").glob("**/*.yaml"))


def edited(*replacements: tuple[str, str]) -> str:
    """The valid Guangxi request with each (old, new) replaced once; old must occur."""
    text = GX_REQUEST.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def problems_of(text: str) -> list[DefinitionProblem]:
    with pytest.raises(DefinitionError) as err:
        load_text(text, "gx.yaml", known_templates=TEMPLATES)
    return list(err.value.problems)


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


# -- base roles ------------------------------------------------------------------------------------------------

def test_misspelt_base_role_is_refused_at_its_place_with_the_known_name() -> None:
    """`base: data_auditr` is one problem at the base value, suggesting data_auditor and naming engine/base_roles.py."""
    text = edited(("{base: data_auditor,", "{base: data_auditr,"))
    [p] = problems_of(text)
    assert (p.line, p.path) == (line_of(text, "data_auditr"), "roles.provider.data_auditor.base")
    assert p.col == text.splitlines()[p.line - 1].index("data_auditr") + 1
    assert "unknown base role 'data_auditr'" in p.message and "did you mean 'data_auditor'?" in p.message
    assert "engine/base_roles.py" in p.message


def test_new_base_role_is_refused_and_the_known_ones_are_listed() -> None:
    """A base role outside the list gets no suggestion but the list of known ones."""
    [p] = problems_of(edited(("{base: data_auditor,", "{base: quality_officer,")))
    assert "unknown base role 'quality_officer'" in p.message and "did you mean" not in p.message
    assert all(role in p.message for role in BASE_ROLES)


def test_every_base_role_has_a_meaning_and_the_directory_uses_the_same_list() -> None:
    """Each base role says what its holder does, and the recipient directory accepts exactly these."""
    assert all(meaning.strip() for meaning in BASE_ROLE_MEANINGS.values())
    assert DIRECTORY_BASE_ROLES == BASE_ROLES


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_every_shipped_workflow_names_known_base_roles_only(path: Path) -> None:
    """Each file under workflows/ still validates, so every `base:` in it is in the list."""
    assert {role.base for role in load_file(path, TEMPLATES).roles.values()} <= BASE_ROLES


# -- one broken item of a list ---------------------------------------------------------------------------------

LADDER = ("- {level: 1, after: 0 WD, notify: [bureau.reviewer]}\n"
          "        - {level: 2, after: 1 WD, notify: [bureau.data_supervisor]}\n"
          "    on_enter: [{template: task_assigned, to: [bureau.reviewer]}]")


def test_a_level_with_a_bad_duration_is_the_only_problem_of_its_ladder() -> None:
    """Level 2 `after: 3 days` is reported; the ladder, short of it, is not judged to end without the supervisor."""
    text = edited((LADDER, LADDER.replace("after: 1 WD", "after: 3 days")))
    [p] = problems_of(text)
    assert p.path == "states.normative_review.sla.escalate.1.after" and "bad duration '3 days'" in p.message
    assert p.line == line_of(text, "3 days")


def test_a_broken_first_level_does_not_make_the_second_one_the_first() -> None:
    """With level 1 unreadable (full-width colon), nothing says the levels start at 2 or end without the supervisor."""
    text = edited((LADDER, LADDER.replace("{level: 1, after: 0 WD", "{level： 1， after: 0 WD")))
    messages = [p.message for p in problems_of(text)]
    assert messages and not any("start at 1" in m or "last escalation level" in m for m in messages)


def test_problems_after_a_broken_item_name_the_item_as_written() -> None:
    """A problem of the second recipient, after an unreadable first one, is placed at `to.1`, not `to.0`."""
    text = edited(("on_enter: [{template: task_assigned, to: [bureau.reviewer]}]",
                   "on_enter: [{template: task_assigned, to: [Bad, bureau.reviewr]}]"))
    paths = [p.path for p in problems_of(text)]
    assert paths == ["states.normative_review.on_enter.0.to.0", "states.normative_review.on_enter.0.to.1"]


def test_a_duplicate_warning_after_a_bad_one_is_placed_where_it_is_written() -> None:
    """`warn_before: [1 day, 1 WD, 1 WD]`: the bad duration at .0 and the repetition at .2."""
    text = edited(("warn_before: [1 WD]", "warn_before: [1 day, 1 WD, 1 WD]"))
    problems = problems_of(text)
    assert [p.path.rpartition(".")[2] for p in problems] == ["0", "2"]
    assert "listed twice" in problems[1].message


@pytest.mark.parametrize(("old", "new"), [
    ("  normative_review:\n    kind: task\n", "  normative_review:\n    kind: tsk\n"),
    ("to: granted_directly}", "to: Granted}"),
    ("default: normative_review", "default: Normative_review"),
], ids=["state kind", "branch target", "decision default"])
def test_a_state_or_exit_that_cannot_be_read_leaves_no_state_unreachable(old: str, new: str) -> None:
    """One unreadable state or exit is one problem: the states behind it are not reported unreachable."""
    problems = problems_of(edited((old, new)))
    assert len(problems) == 1 and "unreachable" not in problems[0].message


# -- templates -------------------------------------------------------------------------------------------------

UNLISTED = ("templates: [task_assigned, returned_for_correction, request_granted, request_refused]",
            "templates: [returned_for_correction, request_granted, request_refused]")


def test_a_misspelt_unlisted_template_is_matched_against_the_template_files() -> None:
    """`task_asigned`, listed nowhere, suggests the file task_assigned and says to list it."""
    text = edited(UNLISTED, ("{template: task_assigned, to: [bureau.reviewer]}",
                             "{template: task_asigned, to: [bureau.reviewer]}"))
    text = text.replace("template: task_assigned", "template: returned_for_correction")  # the other users
    [p] = problems_of(text)
    assert p.path == "states.normative_review.on_enter.0.template" and p.line == line_of(text, "task_asigned")
    assert p.message == ("unknown template 'task_asigned' (did you mean 'task_assigned'? it is not listed under "
                         "templates: add it there)")


def test_a_template_with_a_file_but_not_listed_is_only_asked_to_be_listed() -> None:
    """A template that has its file but is missing from `templates` gets no misspelling hint."""
    text = edited(UNLISTED)
    problems = problems_of(text)
    assert problems and all(p.message == "template 'task_assigned' is not listed under templates: add it there"
                            for p in problems)


def test_without_the_template_files_a_misspelling_is_matched_against_the_listed_ones() -> None:
    """With no template folder known, suggestions come from `templates` and the SLA defaults only."""
    text = edited(("{template: task_assigned, to: [bureau.reviewer]}",
                   "{template: task_asigned, to: [bureau.reviewer]}"))
    with pytest.raises(DefinitionError) as err:
        load_text(text, "gx.yaml")
    [p] = err.value.problems
    assert p.message == "unknown template 'task_asigned' (did you mean 'task_assigned'?); list it under templates"


# -- full-width punctuation ------------------------------------------------------------------------------------

def test_a_full_width_comma_in_an_enum_list_is_refused_at_the_value() -> None:
    """`values: [unconditional， conditional, ...]` is one problem at the joined value, saying to write ASCII ','."""
    text = edited(("values: [unconditional, conditional,", "values: [unconditional， conditional,"))
    [p] = problems_of(text)
    assert (p.path, p.line) == ("variables.sharing_type.values.0", line_of(text, "unconditional，"))
    assert p.col == text.splitlines()[p.line - 1].index("unconditional，") + 1
    assert "'unconditional， conditional'" in p.message and "full-width '，'" in p.message
    assert "ASCII ','" in p.message


@pytest.mark.parametrize(("old", "new", "path", "char"), [
    ("to: [bureau.reviewer]}]", "to: [bureau.reviewer， consumer.data_admin]}]",
     "states.normative_review.on_enter.0.to.0", "'，'"),
    ("to: [bureau.reviewer]}]", "to: [bureau.reviewer、consumer.data_admin]}]",
     "states.normative_review.on_enter.0.to.0", "'、'"),
    ("  bureau.reviewer:  ", "  bureau.reviewer\u3000:", "roles.bureau.reviewer\u3000", "U+3000"),
    ("  negotiation:\n", "  negotiation\u3000:\n", "states.negotiation\u3000", "U+3000"),
    ("{event: pass,", "{event: pass\u3000,", "transitions.2.event", "U+3000"),
    ("{event: pass,", "{event: pass；x,", "transitions.2.event", "'；'"),
], ids=["role list comma", "role list enumeration comma", "role name space", "state name space", "event space",
        "event semicolon"])
def test_full_width_punctuation_in_a_name_is_refused_once_at_its_place(old: str, new: str, path: str,
                                                                        char: str) -> None:
    """Role, state and event names holding full-width punctuation are one problem each, with the ASCII to write;
    references to the name meant are no further fault."""
    [p] = problems_of(edited((old, new)))
    assert p.path == path and f"full-width {char}" in p.message and "write ASCII" in p.message


def test_keys_run_together_by_full_width_separators_are_one_problem() -> None:
    """`{level： 1， after: 0 WD, ...}` is one unknown key naming the full-width characters, not also two missing
    keys and a ladder that starts at 2."""
    text = edited((LADDER, LADDER.replace("{level: 1, after: 0 WD", "{level： 1， after: 0 WD")))
    [p] = problems_of(text)
    assert p.path == "states.normative_review.sla.escalate.0.level： 1， after"
    assert "full-width '，', '：'" in p.message and "ASCII ',' and ':'" in p.message


SOURCES = ("  - {document: 广西政务数据“聚通用”实施细则（试行）, "
           "articles: [\"22\", \"22(1)\", \"22(2)\", \"22(3)\", \"22(4)\"]}\n"
           "  - {document: 2019年推进政务数据“聚通用”工作检查指标解读, articles: [B1]}")
BRANCHES = ("      - {when: \"sharing_type == 'unconditional' and not control_params\", to: granted_directly}\n"
            "      - {when: \"sharing_type == 'not_shared'\", to: negotiation}\n")


@pytest.mark.parametrize(("old", "new", "path"), [
    (SOURCES, "  - {articles: [B1]}", "sources.0"),
    (BRANCHES, "      - {when: [1], to: granted_directly}\n", "states.route.branches.0.when"),
], ids=["sources", "branches"])
def test_a_list_whose_only_item_is_broken_is_not_also_called_empty(old: str, new: str, path: str) -> None:
    """The broken item is the one problem: no "name at least one source" or "needs at least one branch" besides."""
    [p] = problems_of(edited((old, new)))
    assert p.path == path


@pytest.mark.parametrize(("old", "new", "message"), [
    (SOURCES, "  []", "name at least one source"),
    (BRANCHES, "      []\n", "a decision needs at least one branch"),
], ids=["sources", "branches"])
def test_a_list_written_empty_is_still_refused(old: str, new: str, message: str) -> None:
    """`sources: []` and `branches: []` are refused as empty."""
    messages = [p.message for p in problems_of(edited((old, new)))]
    assert any(message in m for m in messages)
