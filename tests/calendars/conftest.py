"""Shared fixtures of the calendar tests: a writable copy of the data folder, and the data restored afterwards."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from calendars import reload_data
from calendars.data_files import DEFAULT_DATA_DIR


@pytest.fixture
def data_copy(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project's data folder that a test may break or extend; the real data is reloaded after."""
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    yield target
    reload_data(DEFAULT_DATA_DIR)
