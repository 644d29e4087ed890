#!/usr/bin/env python3
"""shixian's command line: each command group lives beside the code it drives and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

#: The exit status of a command whose reader went away (`| head`): 128 + SIGPIPE, as the shell reports it.
EXIT_PIPE_CLOSED = 141

#: Modules that each define `register(subparsers)`; their commands set `func(args) -> int`.
COMMAND_MODULES = (
    "calendars.cli",
    "engine.cli_definitions",
    "engine.cli_simulate",
    "engine.cli_runtime",
    "engine.cli_history_keys",
    "engine.cli_policy",
    "engine.cli_horizon",
    "engine.cli_health",
    "engine.cli_audit",
    "notifiers.cli",
    "engine.cli_demo",
    "engine.cli_report",
    "storage.cli_backup",
)


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Commands whose own --help opens with the line the list of commands gives them, so that `shixian start
    --help` says what `start` does without each command group writing that line twice."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("description", kwargs.get("help"))
        return super().add_parser(name, **kwargs)  # type: ignore[no-any-return]


class _Parser(argparse.ArgumentParser):
    """The parser of shixian and of each command, command groups included (`outbox list`, `calendar add`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Commands)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="shixian",
        description="时限 shixian: regulated government-data procedures on the Chinese working-day calendar",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue
            raise
        module.register(sub)
    return parser


#: The project's own packages: a module of theirs missing is a broken checkout, not a missing dependency.
OWN_PACKAGES = frozenset({"calendars", "engine", "notifiers", "storage", "workflows"})


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except ModuleNotFoundError as err:
        package = (err.name or "").partition(".")[0]
        if not package or package in OWN_PACKAGES:
            raise
        print(f"shixian: the package {package!r} is not installed in this Python ({sys.executable}).\n"
              "Run the commands in the project's venv: `. .venv/bin/activate` in this shell, or write "
              "`.venv/bin/python cli.py ...`.\nNo venv yet? From the repository's folder: "
              "python3 -m venv .venv && .venv/bin/pip install -e .", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a pipe closed early shows here, not in the interpreter's own flush at exit
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_PIPE_CLOSED
    return code


def _discard_stdout() -> None:
    """Point stdout at the null device, so the flush at exit does not raise a second BrokenPipeError
    (the Python documentation's "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
