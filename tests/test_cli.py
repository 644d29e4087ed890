"""The command-line entry point: a reader that goes away early (`| head`) ends the command quietly."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cli import EXIT_PIPE_CLOSED, main


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
