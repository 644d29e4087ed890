"""The command-line entry point: a reader that goes away early (`| head`) ends the command quietly."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import EXIT_PIPE_CLOSED, build_parser, main

CLI = Path(__file__).resolve().parents[1] / "cli.py"


class ClosedPipe:
    """A stdout whose reader has gone: every write and flush raises BrokenPipeError, as a closed pipe does."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        return self.fd


@pytest.mark.parametrize("argv", [["calendar", "check"], ["calendar", "show", "2026", "--region", "CN-GX"]])
def test_a_closed_pipe_exits_141_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Output into a closed pipe ends the command with 141 and no error text; stdout then goes to the null device."""
    target = tmp_path / "stdout"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    try:
        pipe = ClosedPipe(fd)
        monkeypatch.setattr(sys, "stdout", pipe)
        code = main(argv)
        os.write(fd, b"after")  # the descriptor now points at the null device: nothing reaches the file
    finally:
        os.close(fd)
    assert pipe.writes >= 1
    assert code == EXIT_PIPE_CLOSED
    assert capsys.readouterr().err == ""
    assert target.read_bytes() == b""


def test_simulate_refuses_a_variable_of_the_wrong_form_as_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    """`simulate --var sharing_type=有条件` exits 2 (bad input, as its epilog says) naming the allowed values, and
    prints no `final: None None`."""
    code = main(["simulate", "gx.data_request", "--start", "2026-09-30T10:00", "--var", "sharing_type=有条件"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert "sharing_type" in err and "'conditional'" in err


@pytest.mark.parametrize(("workflow", "code", "said"), [
    ("gx.data_requst", 1, "no workflow 'gx.data_requst' is loaded (did you mean 'gx.data_request'?)"),
    ("workflows/gx/data_requst.yaml", 2, "no such file: workflows/gx/data_requst.yaml"),
])
def test_simulate_says_which_workflow_argument_is_wrong(capsys: pytest.CaptureFixture[str], workflow: str, code: int,
                                                        said: str) -> None:
    """A mistyped id names the nearest loaded one (not every id); a path-like argument is a missing file."""
    assert main(["simulate", workflow, "--start", "2026-09-30T10:00"]) == code
    err = capsys.readouterr().err
    assert said in err and "gx.cloud_resource" not in err


@pytest.mark.parametrize(("argv", "said"), [
    (["--as-of", "yesterday"], "write YYYY-MM-DDTHH:MM"),
    (["--db", "mysql://u@h/shixian"], "only SQLite"),
])
def test_report_names_what_is_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                       said: str) -> None:
    """`report` with an --as-of that is no date-time, or a --db of another server, exits 2 saying the form wanted."""
    code = main(["report", "--month", "2026-10", "--db", str(tmp_path / "r.db"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and said in err and "Traceback" not in err


def _cli_without(module: str) -> subprocess.CompletedProcess[str]:
    """`cli.py --help` in a fresh interpreter in which `module` cannot be imported, as in a Python outside the venv."""
    script = (f"import runpy, sys; sys.modules[{module!r}] = None; sys.argv = ['cli.py', '--help']; "
              f"runpy.run_path({str(CLI)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=CLI.parent,
                          check=False)


def test_a_python_without_the_dependencies_is_told_to_use_the_venv() -> None:
    """Run by a Python that lacks a dependency (the venv not activated), the command names the package and the
    Python, says how to use or make the venv, and exits 1 with no traceback."""
    done = _cli_without("workalendar")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"the package 'workalendar' is not installed in this Python ({sys.executable})" in done.stderr
    assert ". .venv/bin/activate" in done.stderr and "pip install -e ." in done.stderr


def test_a_module_of_the_project_itself_missing_is_not_called_a_dependency() -> None:
    """A checkout that lost one of its own modules fails loudly with the import error, not with venv advice."""
    done = _cli_without("calendars.china")
    assert done.returncode == 1
    assert "ModuleNotFoundError" in done.stderr and "venv" not in done.stderr


def listed_commands(parser: argparse.ArgumentParser,
                    words: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command and subcommand (`outbox list`), with its own parser."""
    found: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                found.append(((*words, name), command))
                found.extend(listed_commands(command, (*words, name)))
    return found


def test_each_commands_own_help_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    """`shixian start --help` (and every other command's and subcommand's) says what the command does, by default
    in the line `shixian --help` lists it with, not with its usage and options alone."""
    commands = listed_commands(build_parser())
    assert len(commands) > 20
    for words, command in commands:
        assert command.description, words
        with pytest.raises(SystemExit):
            main([*words, "--help"])
        assert " ".join(command.description.split()) in " ".join(capsys.readouterr().out.split()), words
    start = dict(commands)[("start",)]
    assert start.description == "start an instance of a workflow"


def test_every_argument_of_every_command_says_what_it_takes() -> None:
    """No option or positional argument of any command is listed in its --help with its name alone."""
    bare = [(" ".join(words), action.option_strings or action.dest)
            for words, command in listed_commands(build_parser()) for action in command._actions
            if action.help is None and not isinstance(action, argparse._SubParsersAction)]
    assert bare == []
