"""The file channel writes only inside its folder: person ids that name folders are refused, paths are checked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from engine.clock import ManualClock
from notifiers.channels.file import FileNotifier
from notifiers.directory import YamlDirectory
from notifiers.errors import DeliveryError, DirectoryError
from tests.notifiers.test_channels import outgoing


def written(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.eml"))


@pytest.mark.parametrize("pid", ["..", ".", "a/b", "../../etc", "a\\\\..", " p1"])
def test_a_person_id_that_names_a_folder_is_refused(tmp_path: Path, pid: str) -> None:
    """An id `..`, `.`, or one with a slash, backslash or edge space is a DirectoryError at its line."""
    path = tmp_path / "directory.yaml"
    path.write_text(f"""\
channels:
  file: {{type: file, dir: out}}
people:
  - name: 张三
    id: "{pid}"
    roles: [data_admin]
    contacts: {{file: zhang}}
""", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        YamlDirectory(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:5: people[0].id: ") and "folder" in problem


@pytest.mark.parametrize("recipient", ["..", "."])
def test_the_file_channel_refuses_a_path_outside_a_recipient_folder(
    tmp_path: Path, clock: ManualClock, recipient: str
) -> None:
    """A recipient `..` or `.` is a lasting DeliveryError and nothing is written, in the folder or above it."""
    root = tmp_path / "out"
    channel = FileNotifier("file", root, clock)
    message = outgoing("file", "zhang")
    with pytest.raises(DeliveryError) as caught:
        channel.send(replace(message, recipient=recipient))
    assert caught.value.transient is False and "outside" in caught.value.detail
    assert written(tmp_path) == []


def test_the_file_channel_refuses_a_recipient_folder_linked_elsewhere(tmp_path: Path, clock: ManualClock) -> None:
    """A recipient folder that is a symbolic link out of the channel's folder is refused, not written through."""
    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "p1").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(DeliveryError) as caught:
        FileNotifier("file", root, clock).send(outgoing("file", "zhang"))
    assert caught.value.transient is False
    assert written(tmp_path) == []


def test_the_file_channel_still_writes_inside(tmp_path: Path, clock: ManualClock) -> None:
    """An ordinary recipient's message lands in its own folder under the channel's folder."""
    root = tmp_path / "out"
    message = outgoing("file", "zhang")
    FileNotifier("file", root, clock).send(message)
    assert written(root) == [Path("p1") / f"{message.dedupe_digest}.eml"]
