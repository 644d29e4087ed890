"""The loader's bounds on numbers and text: long integers, base-60 forms and lone surrogates are located problems."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import DefinitionError, DefinitionProblem
from engine.loader import MAX_INT_CHARS, MAX_PROBLEMS, load_file, load_text, parse_text

ROOT = Path(__file__).resolve().parents[2]
BASE_60 = ":".join(["59"] * 100_000)


def problems_of(text: str | bytes) -> tuple[DefinitionProblem, ...]:
    with pytest.raises(DefinitionError) as err:
        parse_text(text, "f.yaml")
    return err.value.problems


@pytest.mark.parametrize(("text", "where", "says"), [
    ("id: x\nfoo: " + "9" * 5000 + "\n", (2, 6, "foo"), f"write at most {MAX_INT_CHARS}"),
    ("id: x\nfoo: -" + "1" * MAX_INT_CHARS + "\n", (2, 6, "foo"), f"write at most {MAX_INT_CHARS}"),
    ("id: x\nfoo: 0x" + "f" * 5000 + "\n", (2, 6, "foo"), f"write at most {MAX_INT_CHARS}"),
    ("id: x\nfoo: [1, 0b" + "1" * 64 + "]\n", (2, 10, "foo.1"), f"write at most {MAX_INT_CHARS}"),
    ("id: x\nfoo: " + BASE_60 + "\n", (2, 6, "foo"), "base-60"),
    ("id: x\nfoo: " + ":".join(["59"] * 300) + ".5\n", (2, 6, "foo"), "base-60"),
    ("id: x\nfoo:\n  at: 1:30\n", (3, 7, "foo.at"), "such as a time: '1:30'"),
])
def test_long_and_base_60_numbers_are_located_problems(text: str, where: tuple[int, int, str], says: str) -> None:
    """A 5,000-digit, 0x or 0b integer, or a base-60 integer or float, is refused at its line and column."""
    problems = problems_of(text)
    assert [(p.line, p.col, p.path) for p in problems] == [where]
    assert says in problems[0].message
    assert "quote it" in problems[0].message


def test_every_bad_number_of_a_file_is_listed() -> None:
    """Two bad numbers and one of them in a nested list are all reported, not just the first."""
    text = "id: x\na: " + "9" * 30 + "\nb:\n  - 2:30\n  - 0x" + "0" * 40 + "\n"
    assert [(p.line, p.col) for p in problems_of(text)] == [(2, 4), (4, 5), (5, 5)]


def test_ordinary_numbers_and_times_still_load() -> None:
    """Integers up to the limit, hex, floats, quoted times and times with a leading zero load as before."""
    longest = "1" * MAX_INT_CHARS
    doc = parse_text(f"a: {longest}\nb: 0x1F\nc: '1:30'\nd: 09:30\ne: 1.5\nf: -12\n", "f.yaml")
    assert doc.data == {"a": int(longest), "b": 31, "c": "1:30", "d": "09:30", "e": 1.5, "f": -12}


def test_a_long_integer_key_is_refused_without_repeating_it() -> None:
    """A key of 1,000 digits is a located problem whose message shows only the start of it."""
    (problem,) = problems_of("9" * 1000 + ": x\n")
    assert (problem.line, problem.col) == (1, 1)
    assert len(problem.message) < 200


@pytest.mark.parametrize(("text", "where"), [
    ("id: x\nfoo: a\udc80\n", (2, 7)),
    ("\ud800id: x\n", (1, 1)),
])
def test_a_text_with_a_lone_surrogate_is_a_located_problem(text: str, where: tuple[int, int]) -> None:
    """parse_text and load_text of a str holding half a UTF-16 pair raise DefinitionError at that character."""
    for parse in (parse_text, load_text):
        with pytest.raises(DefinitionError) as err:
            parse(text, "f.yaml")
        (problem,) = err.value.problems
        assert (problem.file, problem.line, problem.col) == ("f.yaml", *where)
        assert "surrogate" in problem.message


def test_load_file_reports_a_huge_integer_with_its_file_name(tmp_path: Path) -> None:
    """Reading a file with a 5,000-digit integer raises a DefinitionError naming the file."""
    path = tmp_path / "big.yaml"
    path.write_text("id: x\nfoo: " + "9" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_file(path)
    assert [(p.file, p.line, p.col) for p in err.value.problems] == [(str(path), 2, 6)]


def test_cli_validate_lists_the_problems_located_and_exits_1(tmp_path: Path) -> None:
    """`cli.py validate` on files with a huge integer, a hex integer and a base-60 scalar prints each
    file:line:col and exits 1, with no traceback."""
    files = {
        "int.yaml": ("id: x\nfoo: " + "9" * 5000 + "\n", "2:6"),
        "hex.yaml": ("id: x\nname: y\nfoo: 0x" + "f" * 5000 + "\n", "3:6"),
        "sexagesimal.yaml": ("id: x\nfoo: " + BASE_60 + "\n", "2:6"),
        "float.yaml": ("id: x\nfoo: " + ":".join(["59"] * 300) + ".5\n", "2:6"),
    }
    for name, (text, _) in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "validate", *(str(tmp_path / n) for n in files)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert "Traceback" not in output
    for name, (_, where) in files.items():
        assert f"{tmp_path / name}:{where}: foo: " in output


def test_reading_stops_at_the_problem_limit_and_says_where() -> None:
    """A file repeating one mistake thousands of times lists the first MAX_PROBLEMS and where reading stopped."""
    text = "id: x\nitems:\n" + "".join(f"  - “a{i}”\n" for i in range(5000))
    problems = problems_of(text)
    assert len(problems) == MAX_PROBLEMS + 1
    assert all("curly quotes" in p.message for p in problems[:-1])
    last = problems[-1]
    assert (last.line, last.path) == (2 + MAX_PROBLEMS, f"items.{MAX_PROBLEMS - 1}")
    assert f"after {MAX_PROBLEMS} problems" in last.message


def test_problems_below_the_limit_are_all_listed() -> None:
    """Fewer problems than the limit are each listed, with no note that reading stopped."""
    text = "id: x\nitems:\n" + "".join(f"  - “a{i}”\n" for i in range(MAX_PROBLEMS - 1))
    problems = problems_of(text)
    assert len(problems) == MAX_PROBLEMS - 1
    assert not any("reading stopped" in p.message for p in problems)


def test_checks_list_the_first_problems_by_position_and_count_the_rest() -> None:
    """Thousands of broken transitions list the first MAX_PROBLEMS by position, then one line counting the rest."""
    text = (ROOT / "workflows" / "gx" / "app_migration.yaml").read_text(encoding="utf-8")
    cut = text.index("\ntransitions:\n") + len("\ntransitions:\n")
    broken = "".join(f"  - {{event: e{i}, from: nostate{i}, to: nowhere{i}, role: x}}\n" for i in range(1000))
    with pytest.raises(DefinitionError) as err:
        load_text(text[:cut] + broken + text[cut:], "many.yaml")
    problems = err.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert [(p.line, p.col) for p in problems] == sorted((p.line, p.col) for p in problems)
    note = problems[-1]
    assert (note.line, note.col, note.path) == (problems[-2].line, problems[-2].col, problems[-2].path)
    assert note.message.startswith(f"{3 * 1000 - MAX_PROBLEMS:,} more problem(s) after this one")
