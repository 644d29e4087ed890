#!/usr/bin/env python3
"""shixian's command line: each command group lives beside the code it drives and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules that each define `register(subparsers)`; their commands set `func(args) -> int`.
COMMAND_MODULES = (
    "calendars.cli",
    "engine.cli_definitions",
    "engine.cli_simulate",
    "engine.cli_runtime",
    "notifiers.cli",
    "engine.cli_demo",
    "engine.cli_report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
