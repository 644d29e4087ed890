"""The loader's hints for slips of a hand-written definition: full-width characters typed with a Chinese input
method where YAML needs ASCII, and indentation that does not match, each named at its own line and column."""

from __future__ import annotations

import pytest

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
