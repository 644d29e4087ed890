"""The README's promises hold: its embedding example runs, and its calendar example prints what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_embedding_example_runs_and_reaches_provider_approval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The Python example in 'Embedding it in a backend' runs as written against a fresh database, in a scratch
    folder, and its tick sends the notices of its two steps as mail files there."""
    code = re.search(r"## Embedding it in a backend\n\n```python\n(.*?)```", README, re.S)
    assert code is not None
    source = (code.group(1).replace('"workflows"', repr(str(ROOT / "workflows")))
              .replace('"notifiers/example_directory.yaml"', repr(str(ROOT / "notifiers" / "example_directory.yaml"))))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(source, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("normative_review ")
    inst = namespace["inst"]
    assert inst.state == "provider_approval"  # type: ignore[attr-defined]
    assert (tmp_path / "shixian.db").is_file()
    assert list((tmp_path / "var" / "notifications").rglob("*.eml"))  # sent by the example's dispatcher


def test_calendar_example_prints_the_documented_deadline() -> None:
    """`calendar deadline 2026-09-30T10:00 2 --region CN-GX` ends at 24:00 on 2026-10-09."""
    out = subprocess.run(
        [sys.executable, "cli.py", "calendar", "deadline", "2026-09-30T10:00", "2", "--region", "CN-GX"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    assert out.split() == ["due", "2026-10-09T24:00+08:00", "(last", "day", "2026-10-09)"]
