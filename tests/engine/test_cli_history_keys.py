"""The command line with history keys: make a keyring, seal from the commands, and what `history` then says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.fields import make_credit_code
from tests.engine.test_cli_runtime import directory, run  # noqa: F401 - the autouse directory fixture

C, P = make_credit_code(11), make_credit_code(22)


def _start(capsys: pytest.CaptureFixture[str], base: list[str], key: str) -> tuple[int, str, str]:
    return run(capsys, "start", "common.test_flow", key, *base, "--json", "--actor", "alice", "--role",
               "data_admin", "--department", C, "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}")


def test_keyring_made_rotated_and_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`history-keys new` twice: the second key seals, the first checks; `show` lists ids, never keys."""
    keys = tmp_path / "keys"
    code, out, _ = run(capsys, "history-keys", "new", str(keys))
    first = out.split()[2]
    assert code == 0 and "seals new steps" in out
    run(capsys, "history-keys", "new", str(keys))
    code, out, _ = run(capsys, "history-keys", "show", str(keys))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[1] == f"{first}  checks older steps" and lines[0].endswith("seals new steps")
    assert all(line.split()[0] not in keys.read_text() for line in lines)


def test_sealed_history_from_the_commands(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With $SHIXIAN_HISTORY_KEYS set, `start` seals and `history` says every step is sealed; without the keyring
    `history` exits 4 (not checked) and `fire` is refused, exit 1, nothing written; a keyring others may read is
    refused before anything is opened."""
    db = str(tmp_path / "cli.db")
    base = ["--db", db, "--workflows", str(flow_dir)]
    keys = tmp_path / "keys"
    run(capsys, "history-keys", "new", str(keys))
    monkeypatch.setenv("SHIXIAN_HISTORY_KEYS", str(keys))
    code, out, _ = _start(capsys, base, "SEAL-1")
    iid = json.loads(out)["id"]
    code, out, _ = run(capsys, "history", iid, *base)
    assert code == 0 and "history verified: intact, every step sealed (history key " in out

    monkeypatch.delenv("SHIXIAN_HISTORY_KEYS")
    code, out, _ = run(capsys, "history", iid, *base)
    assert code == 4 and "HISTORY NOT CHECKED from step 1" in out
    code, _, err = run(capsys, "fire", iid, "refuse", *base, "--actor", "bob", "--role", "data_auditor",
                       "--department", P, "--field", "reason=无钥匙")
    assert code == 1 and "given no keyring" in err and "Traceback" not in err
    code, out, _ = run(capsys, "show", iid, *base, "--json")
    assert json.loads(out)["state"] == "review"

    keys.chmod(0o644)
    code, _, err = run(capsys, "history", iid, *base, "--history-keys", str(keys))
    assert code == 1 and f"chmod 600 {keys}" in err
