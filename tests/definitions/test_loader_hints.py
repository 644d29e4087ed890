"""The loader's hints for slips of a hand-written definition: full-width characters typed with a Chinese input
method where YAML needs ASCII, and indentation that does not match, each named at its own line and column."""

from __future__ import annotations

import pytest
import yaml

from engine.errors import DefinitionError, DefinitionProblem
from engine.loader import parse_text
from tests.definitions.conftest import GX_REQUEST


def edited(old: str, new: str) -> str:
    """The valid Guangxi request with `old` replaced once by `new`; `old` must occur."""
    text = GX_REQUEST.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def only_problem(text: str) -> DefinitionProblem:
    with pytest.raises(DefinitionError) as err:
        parse_text(text, "f.yaml")
    [problem] = err.value.problems
    return problem


def position_of(text: str, fragment: str, char: str) -> tuple[int, int]:
    """1-based line and column of `char` within the first line holding `fragment`."""
    for number, line in enumerate(text.splitlines(), 1):
        if fragment in line:
            return number, line.index(fragment) + fragment.index(char) + 1
    raise AssertionError(fragment)


# -- full-width space (U+3000) ---------------------------------------------------------------------------------

def test_a_full_width_space_indenting_a_key_is_named_on_its_own_line() -> None:
    """`　　title:` under a state is reported at the U+3000, not where the parser gave up, saying to use spaces."""
    text = edited("    title: {zh: 供需协商", "  \u3000\u3000title: {zh: 供需协商")
    problem = only_problem(text)
    assert (problem.line, problem.col) == position_of(text, "\u3000\u3000title", "\u3000")
    assert "U+3000" in problem.message and "indent with ASCII spaces" in problem.message


@pytest.mark.parametrize(("text", "fragment"), [
    ("a:\n  - x\n\u3000- y\n", "\u3000- y"),
    ("a:\n  b:\n  \u3000\u3000c: 1\n    d: 2\n", "\u3000\u3000c"),
    ("a:\n  b: 1\n\u3000\u3000\n  c: 2\n  d: 3\n", "\u3000\u3000"),
], ids=["list entry", "key", "line of full-width spaces"])
def test_a_full_width_space_in_the_indentation_is_located(text: str, fragment: str) -> None:
    """A list entry, a key or an apparently blank line indented with U+3000 is reported at that character."""
    problem = only_problem(text)
    assert (problem.line, problem.col) == position_of(text, fragment, "\u3000")
    assert "full-width space (U+3000) in the indentation" in problem.message


def test_a_full_width_space_after_a_colon_is_named() -> None:
    """`c:　2` is no key and value for YAML: the U+3000 after the ':' is named with the key."""
    text = "a:\n  b: 1\n  c:\u30002\n  d: 3\n"
    problem = only_problem(text)
    assert (problem.line, problem.col) == position_of(text, "c:\u3000", "\u3000")
    assert "'c'" in problem.message and "U+3000" in problem.message and "ASCII space after the ':'" in problem.message


def test_a_paragraph_indented_with_full_width_spaces_is_text() -> None:
    """A folded description may open its paragraph with two U+3000, as Chinese text does: it parses unchanged."""
    doc = parse_text("description: >\n  \u3000\u3000本流程适用于数据共享。\n  二段\nb: 1\n", "f.yaml")
    assert doc.data["description"] == "\u3000\u3000本流程适用于数据共享。 二段\n"


# -- full-width punctuation standing for YAML structure ---------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "char"), [
    ("warn_before: [1 WD]", "warn_before: [3 WD， 1 WD]", "，"),
    ("warn_before: [1 WD]", "warn_before: [3 WD、1 WD]", "、"),
    ('articles: ["22", "22(1)",', 'articles: ["22"， "22(1)",', "，"),
    ("articles: [B1]", "articles: [B1， A2]", "，"),
    ("{level: 1, after: 0 WD, notify: [bureau.reviewer]}", "{level: 1， after: 0 WD, notify: [bureau.reviewer]}",
     "，"),
], ids=["durations", "durations enumeration comma", "quoted articles", "plain articles", "flow mapping"])
def test_a_full_width_comma_between_items_is_named_at_its_place(old: str, new: str, char: str) -> None:
    """'，' or '、' separating the items of a flow list or mapping is reported at that character, saying to
    write ASCII ','; the list does not load as one joined item."""
    text = edited(old, new)
    problem = only_problem(text)
    fragment = new[new.index(char) - 2:]
    assert (problem.line, problem.col) == position_of(text, fragment, char)
    assert f"full-width {char!r} between" in problem.message and "use ASCII ','" in problem.message


@pytest.mark.parametrize(("old", "new", "quote"), [
    ("to: [bureau.reviewer]}]", "to: [‘bureau.reviewer’]}]", "‘"),
    ("title: 共享类型}", "title: “共享类型”}", "“"),
    ("title: {zh: 供需协商, en: Negotiation}", "title: {zh: 供需协商, en: “Negotiation: with consumer”}", "“"),
    ("    assignee: consumer.data_admin", "    “assignee”: consumer.data_admin", "“"),
], ids=["role", "title", "value holding a colon", "key"])
def test_curly_quotes_used_as_yaml_quotes_are_named(old: str, new: str, quote: str) -> None:
    """A value or key wrapped in ‘’ or “” (which YAML keeps as text) is reported at the opening quote, saying to
    use ASCII quotes."""
    text = edited(old, new)
    problem = only_problem(text)
    assert (problem.line, problem.col) == position_of(text, new.strip(), quote)
    assert "curly quote" in problem.message and "use ASCII quotes ' or \"" in problem.message


PASS = "  - {event: pass, from: normative_review, to: provider_approval, role: bureau.reviewer}"


@pytest.mark.parametrize(("new", "bracket", "ascii_bracket"), [
    (PASS.replace("reviewer}", "reviewer｝"), "｝", "}"),
    (PASS.replace("- {", "- ｛"), "｛", "{"),
    ("warn_before: [1 WD］", "］", "]"),
], ids=["closing brace", "opening brace", "closing bracket"])
def test_a_full_width_bracket_of_a_flow_collection_is_named_at_its_place(new: str, bracket: str,
                                                                         ascii_bracket: str) -> None:
    """｛｝［］ typed for a flow mapping's or list's brackets are reported at that character, saying which ASCII
    bracket to write: not at the next line with the parser's words, nor as a value to quote."""
    old = PASS if new.startswith("  - ") else "warn_before: [1 WD]"
    text = edited(old, new)
    problem = only_problem(text)
    assert (problem.line, problem.col) == position_of(text, new.strip(), bracket)
    assert f"full-width {bracket!r}" in problem.message and f"use ASCII {ascii_bracket!r}" in problem.message


def test_full_width_brackets_in_chinese_text_are_no_slip() -> None:
    """A document number written with ［］ in a title is text, in a block value and inside a flow mapping."""
    doc = parse_text("a: 桂政办发［2026］12号\nb: {zh: 依据［2026］号文, en: x}\n", "f.yaml")
    assert doc.data == {"a": "桂政办发［2026］12号", "b": {"zh": "依据［2026］号文", "en": "x"}}


def test_full_width_punctuation_in_chinese_text_is_no_slip() -> None:
    """'，' and '：' inside a zh title, even in a flow mapping, and “” inside a document name, are text."""
    text = edited("title: {zh: 供需协商, en: Negotiation}", "title: {zh: 数据共享申请，审核：补正, en: Negotiation}")
    doc = parse_text(text, "f.yaml")
    assert doc.data["states"]["negotiation"]["title"] == {"zh": "数据共享申请，审核：补正", "en": "Negotiation"}
    assert doc.data["sources"][0]["document"] == "广西政务数据“聚通用”实施细则（试行）"
    assert parse_text("a: “聚通用”工作\nb: [说明，无, x]\n", "f.yaml").data == {"a": "“聚通用”工作",
                                                                       "b": ["说明，无", "x"]}


def test_names_joined_by_a_full_width_comma_are_left_to_the_validator() -> None:
    """`[a， b]` of names parses as the one name 'a， b': the validator reports a name with its declarations
    at hand, so the loader does not."""
    assert parse_text("notify: [bureau.reviewer， bureau.data_supervisor]\n", "f.yaml").data == {
        "notify": ["bureau.reviewer， bureau.data_supervisor"]}


# -- indentation ----------------------------------------------------------------------------------------------

@pytest.fixture(params=["libyaml", "python"])
def either_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each indentation hint holds with libyaml's parser and with PyYAML's own, whose words differ."""
    if request.param == "python":
        monkeypatch.setattr("engine.loader._EVENT_LOADER", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML is built without libyaml")


@pytest.mark.usefixtures("either_parser")
def test_a_key_indented_between_two_mappings_names_both() -> None:
    """A key indented less than the line above and more than the mapping the parser closed back to is reported
    at its own line with its indentation and the two it falls between."""
    text = edited("    on_enter: [{template: task_assigned, to: [bureau.reviewer]}]",
                  "     on_enter: [{template: task_assigned, to: [bureau.reviewer]}]")
    problem = only_problem(text)
    line = position_of(text, "     on_enter: [{template: task_assigned", "o")[0]
    escalate = position_of(text, "      escalate:", "e")[0]
    sla = position_of(text, "    sla:", "s")[0]
    assert (problem.line, problem.col) == (line, 6)
    assert problem.message.startswith("YAML syntax: ")
    assert (f"line {line} is indented 5 spaces, between the keys at line {escalate} (6 spaces) and the keys at "
            f"line {sla} (4 spaces)") in problem.message
    assert "indent it to match the one it belongs to" in problem.message


@pytest.mark.usefixtures("either_parser")
def test_a_key_indented_under_a_key_with_a_value_says_which_mapping_it_belongs_to() -> None:
    """`kind: task` followed by a deeper `title:` is reported at the title, naming the 4 spaces of the mapping
    it belongs to (not at the ':' where the parser stopped, in its own words only)."""
    text = edited("    title: {zh: 供需协商", "      title: {zh: 供需协商")
    problem = only_problem(text)
    line = position_of(text, "title: {zh: 供需协商", "t")[0]
    assert (problem.line, problem.col) == (line, 7)
    assert "mapping values are not allowed" in problem.message
    assert (f"line {line} is indented 6 spaces but the mapping it belongs to uses 4 (line {line - 1}): indent it "
            "to match; lines nest only under a key with nothing after its ':'") in problem.message


@pytest.mark.usefixtures("either_parser")
def test_a_key_left_of_the_keys_around_it_is_named_not_the_line_after() -> None:
    """`title:` moved 2 spaces left between `kind: task` and `assignee:` (both at 4) makes the parser stop at
    `assignee:`; the hint names the title's own line and the column the lines around it use."""
    text = edited("    kind: task\n    title: {zh: 规范性审查", "    kind: task\n  title: {zh: 规范性审查")
    problem = only_problem(text)
    line = position_of(text, "  title: {zh: 规范性审查", "t")[0]
    assert (problem.line, problem.col) == (line, 3)
    assert (f"line {line} is indented 2 spaces, but line {line - 1} before it and line {line + 1} after it use 4: "
            "indent it to match") in problem.message


@pytest.mark.usefixtures("either_parser")
def test_a_first_key_no_deeper_than_its_state_is_named_not_the_line_after() -> None:
    """`kind: task` at the column of `normative_review:` above it leaves that state empty and makes the parser
    stop at the deeper `title:` after it; the hint names the kind's line and says how deep to indent it."""
    text = edited("  normative_review:\n    kind: task", "  normative_review:\n  kind: task")
    problem = only_problem(text)
    line = position_of(text, "  normative_review:", "n")[0] + 1
    assert (problem.line, problem.col) == (line, 3)
    assert (f"line {line} is indented 2 spaces, no deeper than line {line - 1}, whose key opens a mapping for it, "
            f"and line {line + 1} after it uses 4: indent it to 4 spaces") in problem.message


@pytest.mark.usefixtures("either_parser")
def test_a_missing_colon_is_named_on_its_own_line() -> None:
    """`kind task` makes the parser stop at the next line's ':'; the hint names the line lacking the ':'."""
    text = edited("    kind: task\n    title: {zh: 供需协商", "    kind task\n    title: {zh: 供需协商")
    problem = only_problem(text)
    line = position_of(text, "kind task", "k")[0]
    assert (problem.line, problem.col) == (line, 5)
    assert f"line {line} has no ':' after its key, so YAML reads it and line {line + 1} as one text: add the ':'" \
        in problem.message


@pytest.mark.usefixtures("either_parser")
def test_a_key_in_line_with_list_items_is_told_to_start_with_a_dash_or_move() -> None:
    """A key at the column of the '- ' items above it is told to become an item or to line up with a mapping."""
    text = "sources:\n  - {document: x, articles: [B1]}\n  articles: [B2]\nid: x\n"
    problem = only_problem(text)
    assert (problem.line, problem.col) == (3, 3)
    assert "did not find expected '-' indicator" in problem.message or "'?'" in problem.message
    assert ("line 3 is indented 2 spaces like the '- ' items of the list at line 2 (2 spaces), but does not "
            "start with '- ': write '- ' for a new item, or indent it to match the keys at line 1 (0 spaces)"
            ) in problem.message


@pytest.mark.usefixtures("either_parser")
def test_a_list_item_indented_between_levels_is_located() -> None:
    """A '- ' item one space left of its list names the list's column and the mapping's."""
    text = "a:\n  - x\n  - y\n - z\n"
    problem = only_problem(text)
    assert (problem.line, problem.col) == (4, 2)
    assert ("line 4 is indented 1 space, between the '- ' items of the list at line 3 (2 spaces) and the keys at "
            "line 1 (0 spaces)") in problem.message


@pytest.mark.usefixtures("either_parser")
def test_a_value_holding_colon_space_is_told_to_be_quoted() -> None:
    """`title: 审查: 通过` is no indentation slip: the hint says to quote the value, at the ':'."""
    problem = only_problem("a:\n  title: 审查: 通过\n")
    assert (problem.line, problem.col) == (2, 12)
    assert problem.message.endswith("a plain value may not hold ': ': put the value in quotes")


@pytest.mark.usefixtures("either_parser")
@pytest.mark.parametrize(("old", "new"), [
    ("    assignee: consumer.data_admin\n", "  \u3000 assignee: consumer.data_admin\n"),
    ("  negotiation:\n", "\u3000negotiation:\n"),
], ids=["key read into the mapping above", "error lines further down"])
def test_a_key_moved_out_of_its_mapping_by_a_full_width_space_is_named(old: str, new: str) -> None:
    """A U+3000 that makes a key belong to the mapping above (which YAML would accept) or that the parser notices
    only at a later key is reported at the U+3000, as the only problem."""
    text = edited(old, new)
    problem = only_problem(text)
    assert (problem.line, problem.col) == position_of(text, new.rstrip("\n"), "\u3000")
    assert "full-width space (U+3000) in the indentation" in problem.message
