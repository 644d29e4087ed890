"""`cli.py demo` at a small size: it passes its own checks, writes what it says, and a seed fixes its figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main as cli_main

SMALL = 40


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two runs with seed 7 and one with seed 8, each in its own folder."""
    base = tmp_path_factory.mktemp("demo")
    out: dict[str, Path] = {}
    for name, seed in (("first", 7), ("again", 7), ("other", 8)):
        folder = base / name
        code = cli_main(["demo", "--out", str(folder), "--instances", str(SMALL), "--seed", str(seed), "--quiet"])
        assert code == 0, f"demo run {name} exited {code}"
        out[name] = folder
    return out


def _summary(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return data


def test_writes_database_mail_reports_and_summary(runs: dict[str, Path]) -> None:
    """The folder holds the database, the mail folder with .eml files, the October report in three formats."""
    folder = runs["first"]
    names = {p.name for p in folder.iterdir()}
    assert {"shixian-demo.db", "mail", "report-2026-10.html", "report-2026-10.md", "report-2026-10.csv",
            "summary.json"} <= names
    assert any((folder / "mail").rglob("*.eml"))
    assert "<svg" in (folder / "report-2026-10.html").read_text(encoding="utf-8")


def test_its_checks_pass_and_alerts_were_delivered(runs: dict[str, Path]) -> None:
    """Every check passes, and warnings, breaches and escalations really went out as files."""
    summary = _summary(runs["first"])
    checks = summary["checks"]
    assert isinstance(checks, list) and len(checks) >= 4
    assert all(c["ok"] for c in checks), checks
    delivered = summary["mail_delivered"]
    assert isinstance(delivered, dict)
    files = sorted((runs["first"] / "mail").rglob("*.eml"))
    assert sum(delivered.values()) == len(files)
    assert all(delivered.get(kind, 0) > 0 for kind in ("warning", "breach", "escalation"))


def test_every_case_started_and_ended(runs: dict[str, Path]) -> None:
    """All cases start; the run lasts until every one of them has ended."""
    totals = _summary(runs["first"])["totals"]
    assert isinstance(totals, dict)
    assert (totals["started"], totals["completed"], totals["open"]) == (SMALL, SMALL, 0)


def test_same_seed_same_summary(runs: dict[str, Path]) -> None:
    """Two runs with one seed give the same summary; another seed gives other figures."""
    first, again, other = (_summary(runs[n]) for n in ("first", "again", "other"))
    assert first == again
    assert first["procedures"] != other["procedures"]


def test_bad_size_is_refused(tmp_path: Path) -> None:
    """A size below one is refused with exit status 2 before anything is written."""
    code = cli_main(["demo", "--out", str(tmp_path / "x"), "--instances", "0", "--quiet"])
    assert code == 2
    assert not (tmp_path / "x").exists()


def test_a_failed_check_makes_the_exit_status_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """When a check fails the run says so and exits 1."""
    from engine.demo import checks

    monkeypatch.setattr(checks, "check_ladders", lambda *a: checks.Check("ladder", False, "level 2 missing"))
    code = cli_main(["demo", "--out", str(tmp_path / "x"), "--instances", "5", "--quiet"])
    shown = capsys.readouterr().out
    assert code == 1
    assert "[FAILED] ladder: level 2 missing" in shown
