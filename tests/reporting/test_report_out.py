"""`cli.py report --out`: never over the database or a file that is no report, whole files only, clear refusals."""

from __future__ import annotations

import errno
import os
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from cli import main as cli_main
from engine.clock import SHANGHAI
from engine.reporting import render as render_module
from engine.reporting.figures import Figures, MonthReport
from engine.reporting.render import FORMATS, is_report, render, save
from storage import open_store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """An engine database with no instances yet."""
    path = tmp_path / "shixian.db"
    open_store(str(path)).close()
    return path


def _report(db: Path, out: str | Path, *extra: str) -> int:
    return cli_main(["report", "--month", "2026-10", "--db", str(db), "--out", str(out), "--format", "html",
                     "--as-of", "2026-11-01T00:00", *extra])


def _empty_report() -> MonthReport:
    return MonthReport("2026-10", datetime(2026, 11, 1, tzinfo=SHANGHAI), (), (), Figures("all", "合计"), ())


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_the_database_and_its_journals_are_refused(db: Path, suffix: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--out naming the --db file or a file SQLite keeps beside it is refused with exit status 2, even with
    --force, and the database still opens."""
    before = db.read_bytes()
    code = _report(db, f"{db}{suffix}", "--force")
    err = capsys.readouterr().err
    assert code == 2
    assert "database the report reads" in err
    assert db.read_bytes() == before
    assert not Path(f"{db}{suffix}").exists() or suffix == ""


def test_the_database_under_another_spelling_is_refused(db: Path, tmp_path: Path) -> None:
    """A relative path with `..`, a link to the database and a sqlite:/// URL for --db all count as the same file."""
    before = db.read_bytes()
    (tmp_path / "sub").mkdir()
    link = tmp_path / "latest.html"
    link.symlink_to(db)
    codes = [_report(db, tmp_path / "sub" / ".." / db.name), _report(db, link),
             _report(Path(f"sqlite:///{db}"), db)]
    assert codes == [2, 2, 2]
    assert db.read_bytes() == before


def test_another_sqlite_database_is_never_overwritten(db: Path, tmp_path: Path) -> None:
    """A SQLite file that is not the --db is no report either: refused, --force or not."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table t (x)")
    before = other.read_bytes()
    assert [_report(db, other), _report(db, other, "--force")] == [2, 2]
    assert other.read_bytes() == before


def test_a_file_that_is_no_report_needs_force(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An existing document is refused with a hint at --force; with --force it is replaced by the report."""
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>", encoding="utf-8")
    refused = _report(db, notes)
    err = capsys.readouterr().err
    assert refused == 2
    assert "not a report" in err and "--force" in err
    assert notes.read_text(encoding="utf-8") == "<p>my notes</p>"
    assert _report(db, notes, "--force") == 0
    assert is_report(notes.read_bytes())


@pytest.mark.parametrize("fmt", FORMATS)
def test_last_runs_report_of_the_same_name_is_replaced(db: Path, tmp_path: Path, fmt: str) -> None:
    """A monthly job run again replaces its earlier report, in any format, keeping the file's permissions."""
    out = tmp_path / f"report.{fmt}"
    args = ["report", "--month", "2026-10", "--db", str(db), "--out", str(out), "--format", fmt]
    assert cli_main(args) == 0
    fresh = out.read_bytes()
    out.write_bytes(fresh + b"\nlast month's line\n")
    out.chmod(0o640)
    assert cli_main(args) == 0
    assert out.read_bytes() == fresh
    assert out.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_out_suffix_that_is_no_format_says_to_give_format(db: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Without --format, an --out whose suffix is no report format exits 2 saying that the suffix chose it and how to
    give one, and writes nothing."""
    out = tmp_path / "report-2026-10.txt"
    code = cli_main(["report", "--month", "2026-10", "--db", str(db), "--out", str(out), "--as-of", "2026-11-01T00:00"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert f"--out {out}: without --format the format is taken from the file's suffix, and 'txt'" in err
    assert "--format md|csv|html" in err


def test_a_missing_folder_is_refused_with_a_message(db: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """--out in a folder that does not exist is refused with exit status 2 and names the folder, no traceback."""
    out = tmp_path / "reprots" / "2026-10.html"
    code = _report(db, out)
    err = capsys.readouterr().err
    assert code == 2
    assert f"no folder {tmp_path / 'reprots'}" in err
    assert not out.parent.exists()


def test_a_folder_as_out_is_refused(db: Path, tmp_path: Path) -> None:
    """--out naming a folder is refused with exit status 2."""
    assert _report(db, tmp_path) == 2


def test_a_failed_write_leaves_the_earlier_report_whole(db: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A disk that fills while writing makes the command exit 1; last run's report stays, and no scraps."""
    out = tmp_path / "report.html"
    assert _report(db, out) == 0
    before = out.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(render_module.os, "fsync", full)
    code = _report(db, out)
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot write" in err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_new_report_is_readable_as_an_ordinary_file(tmp_path: Path) -> None:
    """`save` creates the file under the umask like any other program, not owner-only like a temporary file."""
    mask = os.umask(0o022)
    try:
        save(_empty_report(), "md", tmp_path / "r.md")
    finally:
        os.umask(mask)
    assert (tmp_path / "r.md").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_as_a_report(fmt: str, tmp_path: Path) -> None:
    """What `save` writes in each format is recognised as a report; a database or a letter is not."""
    save(_empty_report(), fmt, tmp_path / f"r.{fmt}")
    assert is_report((tmp_path / f"r.{fmt}").read_bytes()[:512])
    assert render(_empty_report(), fmt)
    assert not is_report(b"SQLite format 3\x00")
    assert not is_report("尊敬的领导：".encode())
