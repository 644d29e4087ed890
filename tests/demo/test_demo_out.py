"""`cli.py demo --out`: the demo empties only a folder an earlier run wrote, and refuses any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main as cli_main
from engine.cli_demo import clear_earlier_output, entries_in_the_way


def _demo(out: str) -> int:
    return cli_main(["demo", "--out", out, "--instances", "3", "--seed", "3", "--quiet"])


def _earlier_run(folder: Path) -> None:
    """What a run leaves, written by hand: database and its journal, mail, reports, summary."""
    (folder / "mail" / "lz-rsj-admin").mkdir(parents=True)
    (folder / "mail" / "lz-rsj-admin" / "0a1b.eml").write_text("mail", encoding="utf-8")
    (folder / "mail" / "lz-rsj-admin" / "0a1c.tmp").write_text("cut short", encoding="utf-8")
    for name in ("shixian-demo.db", "shixian-demo.db-wal", "summary.json", "report-2026-10.html",
                 "report-2026-10.md", "report-2026-10.csv"):
        (folder / name).write_text("x", encoding="utf-8")


def test_a_folder_with_other_files_is_refused_and_left_alone(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A folder holding someone's work is refused with exit status 2, naming what is in the way; nothing goes."""
    (tmp_path / "important").mkdir()
    thesis = tmp_path / "important" / "thesis.docx"
    thesis.write_bytes(b"years of work")
    code = _demo(str(tmp_path))
    err = capsys.readouterr().err
    assert code == 2
    assert thesis.read_bytes() == b"years of work"
    assert "important/" in err and "pick another --out" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["important"]


def test_the_working_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--out .` in a folder with a file of its own is refused, and the file stays."""
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _demo(".") == 2
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_a_file_as_out_is_refused(tmp_path: Path) -> None:
    """`--out` naming a file is refused, and the file stays as it was."""
    target = tmp_path / "report.txt"
    target.write_text("not a folder", encoding="utf-8")
    assert _demo(str(target)) == 2
    assert target.read_text(encoding="utf-8") == "not a folder"


def test_running_twice_into_the_same_folder_works(tmp_path: Path) -> None:
    """The README's way: the second run into the first run's folder replaces its output (stale files too)."""
    out = tmp_path / "demo-out"
    assert _demo(str(out)) == 0
    first = (out / "summary.json").read_text(encoding="utf-8")
    stale = out / "mail" / "nobody" / "stale.eml"
    stale.parent.mkdir()
    stale.write_text("from an older run", encoding="utf-8")
    (out / "shixian-demo.db-wal").write_bytes(b"")
    assert _demo(str(out)) == 0
    assert (out / "summary.json").read_text(encoding="utf-8") == first
    assert not stale.exists() and not (out / "shixian-demo.db-wal").exists()


def test_an_earlier_runs_output_is_recognised_and_cleared(tmp_path: Path) -> None:
    """Everything a run writes counts as its own; clearing it leaves the folder with an empty mail/."""
    _earlier_run(tmp_path)
    assert entries_in_the_way(tmp_path) == []
    clear_earlier_output(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["mail"]
    assert list((tmp_path / "mail").iterdir()) == []


@pytest.mark.parametrize(("extra", "named"), [
    ("mail/notes.txt", "mail/"),  # a file directly in mail/: the file channel writes only recipient folders
    ("mail/lz-rsj-admin/letter.docx", "mail/"),
    ("shixian-demo.db.bak", "shixian-demo.db.bak"),
    ("report-final.docx", "report-final.docx"),
    ("src/main.py", "src/"),
])
def test_anything_else_in_an_earlier_runs_folder_is_in_the_way(tmp_path: Path, extra: str, named: str) -> None:
    """One foreign entry among a run's output is named, and clearing removes nothing."""
    _earlier_run(tmp_path)
    (tmp_path / extra).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / extra).write_text("mine", encoding="utf-8")
    assert entries_in_the_way(tmp_path) == [named]
    with pytest.raises(FileExistsError) as caught:
        clear_earlier_output(tmp_path)
    assert named in str(caught.value)
    assert (tmp_path / extra).read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "summary.json").exists()


def test_a_link_is_never_followed(tmp_path: Path) -> None:
    """A `mail` link to another folder is in the way, so clearing never reaches where it points."""
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    (elsewhere / "thesis.docx").write_bytes(b"work")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mail").symlink_to(elsewhere, target_is_directory=True)
    assert entries_in_the_way(out) == ["mail"]
    assert _demo(str(out)) == 2
    assert (elsewhere / "thesis.docx").read_bytes() == b"work"
