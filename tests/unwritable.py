"""Make files and folders unwritable for a test, as a read-only mount or a copy handed over would be: `chattr +i`
for root (whom file modes do not stop), the file modes for anyone else. Skips where neither can be used."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _chattr(paths: list[Path], on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True, capture_output=True)


def require_unwritable(probe_dir: Path, *, while_open: bool = False) -> None:
    """Skip unless this process can make a file unwritable to itself (tried on a probe in `probe_dir`). With
    `while_open`, writes through descriptors opened before must fail too, which only the immutable attribute
    does: file modes are checked when a file is opened."""
    if os.geteuid() != 0:
        if while_open:
            pytest.skip("making an open file unwritable needs root (chattr +i)")
        return
    probe = probe_dir / ".unwritable-probe"
    probe.touch()
    if shutil.which("chattr") is None:
        pytest.skip("as root, making a file unwritable needs chattr(1)")
    try:
        _chattr([probe], True)
        _chattr([probe], False)
    except subprocess.CalledProcessError as err:
        pytest.skip(f"chattr +i is not allowed here: {err.stderr.decode(errors='replace').strip()}")
    finally:
        probe.unlink(missing_ok=True)


@contextmanager
def unwritable(paths: list[Path]) -> Iterator[None]:
    """`paths` (existing files and folders) cannot be written inside the block; as before afterwards."""
    if os.geteuid() == 0:
        _chattr(paths, True)
        try:
            yield
        finally:
            _chattr(paths, False)
        return
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
