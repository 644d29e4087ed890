"""What `pip install` ships: an installed `shixian` command finds the procedures, calendars, templates and
migrations a checkout's cli.py finds, since it runs from site-packages with no repository beside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_file_the_commands_read(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("shixian-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = {str(p.relative_to(ROOT)) for pattern in ("workflows/**/*.yaml", "calendars/data/**/*.yaml",
                                                       "notifiers/templates/*.j2", "storage/migrations/versions/*.py")
              for p in ROOT.glob(pattern)}
    wanted |= {"notifiers/example_directory.yaml", "storage/migrations/env.py", "cli.py"}
    assert len(wanted) > 60
    assert sorted(wanted - shipped) == []
