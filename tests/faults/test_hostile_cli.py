"""Hostile input through the command line: exit 1 (or 2 for usage) with a short message and no traceback,
and the database unchanged."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cli
from engine import ManualClock
from storage import open_store
from tests.faults.conftest import dump
from tests.faults.harness.flow import CONSUMER, FLOW, OTHER, PROVIDER, START, WF, actor, build_engine, flow_vars
from tests.faults.test_hostile_yaml import HOSTILE

REPO = Path(__file__).resolve().parents[2]
#: `start` and `fire` need a people directory, which vouches for the actors: alice of the consumer, bob the
#: provider's auditor, eve an auditor of a third department.
DIRECTORY_YAML = f"""\
channels:
  file: {{type: file, dir: mail}}
departments:
  - {{code: "{CONSUMER}", name: 使用局}}
  - {{code: "{PROVIDER}", name: 提供局}}
  - {{code: "{OTHER}", name: 第三局}}
people:
  - {{id: alice, name: Alice, department: "{CONSUMER}", roles: [data_admin], contacts: {{file: alice@c.gov.cn}}}}
  - {{id: bob, name: Bob, department: "{PROVIDER}", roles: [data_auditor], contacts: {{file: bob@p.example.gov.cn}}}}
  - {{id: eve, name: Eve, department: "{OTHER}", roles: [data_auditor], contacts: {{file: eve@o.example.gov.cn}}}}
"""
#: Input that is no JSON object or no NAME=VALUE: the command line is wrong, a usage error.
USAGE = {"payload_not_json", "payload_a_list", "payload_deeply_nested", "field_without_equals",
         "start_vars_not_object"}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A SQLite database with one instance in review, and the flow's file for --workflows."""
    flow = tmp_path / "fault_flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    (tmp_path / "directory.yaml").write_text(DIRECTORY_YAML, encoding="utf-8")
    db = tmp_path / "cli.db"
    engine = build_engine(str(db), ManualClock(START))
    inst = engine.start(WF, "CLI-1", flow_vars(), actor("consumer"))
    engine.close()
    store = open_store(str(db))
    yield {"db": str(db), "flow": str(flow), "id": inst.id, "store": store, "tmp": tmp_path,
           "directory": str(tmp_path / "directory.yaml")}
    store.close()


AUDITOR = ["--actor", "bob", "--role", "data_auditor", "--department", PROVIDER]


def _cases(s: dict[str, Any]) -> dict[str, list[str]]:
    base = ["--db", s["db"], "--workflows", s["flow"], "--directory", s.get("directory", "")]
    fire = ["fire", *base, *AUDITOR, s["id"]]
    return {
        "payload_not_json": [*fire, "approve", "--payload", "{not json"],
        "payload_a_list": [*fire, "approve", "--payload", "[1, 2]"],
        "payload_unknown_field": [*fire, "approve", "--payload", '{"drop": "table"}'],
        "payload_wrong_type": [*fire, "approve", "--payload", '{"note": [1, 2]}'],
        "payload_oversized": [*fire, "approve", "--payload", json.dumps({"note": "x" * 200_000})],
        "payload_deeply_nested": [*fire, "approve", "--payload", '{"note": ' + "[" * 5000 + "]" * 5000 + "}"],
        "field_deeply_nested": [*fire, "approve", "--field", "note=" + "[" * 5000 + "]" * 5000],
        "field_without_equals": [*fire, "approve", "--field", "note"],
        "unknown_event": [*fire, "_timer"],
        "unknown_instance": ["fire", *base, *AUDITOR, "0" * 32, "approve"],
        "wrong_department": ["fire", *base, "--actor", "eve", "--role", "data_auditor", "--department", CONSUMER,
                             s["id"], "approve"],
        "no_role": ["fire", *base, "--actor", "eve", s["id"], "approve"],
        "start_bad_credit_code": ["start", *base, "--actor", "alice", "--role", "data_admin", "--department",
                                  CONSUMER, WF, "CLI-2", "--vars", json.dumps(flow_vars(provider_dept="123"))],
        "start_vars_not_object": ["start", *base, "--actor", "alice", "--role", "data_admin", WF, "CLI-3",
                                  "--vars", '"x"'],
        "start_unknown_workflow": ["start", *base, "--actor", "alice", "--role", "data_admin", "gx.nope", "CLI-4"],
        "show_unknown_instance": ["show", *base, "' OR 1=1 --"],
        "history_unknown_instance": ["history", *base, "nope"],
    }


CASES = sorted(_cases({"db": "", "flow": "", "id": ""}))


@pytest.mark.parametrize("case", CASES)
def test_hostile_command_lines_exit_1_with_a_short_message(
    setup: dict[str, Any], case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad command exits 1 (2 for malformed input) with `error: ...` on stderr, no traceback, and changes
    nothing."""
    before = dump(setup["store"])
    code = cli.main(_cases(setup)[case])
    out, err = capsys.readouterr()
    assert code == (2 if case in USAGE else 1), (out, err)
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert len(err) < 600, err
    assert dump(setup["store"]) == before


@pytest.mark.parametrize("argv", [["fire"], ["fire", "--db", "x.db", "only-one-arg"], ["no-such-command"],
                                  ["show", "--limit", "many"], ["start", "--actor"]])
def test_malformed_command_lines_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Missing or malformed arguments exit 2 with argparse's usage and one error line, no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("shixian")
    assert "error:" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("name", ["billion_laughs", "python_object", "deep_flow_sequence"])
def test_hostile_workflow_files_exit_1(setup: dict[str, Any], name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` and a command given a hostile --workflows file exit 1 naming the file, line and column."""
    bad = setup["tmp"] / f"{name}.yaml"
    bad.write_text(HOSTILE[name][0], encoding="utf-8")
    before = dump(setup["store"])
    codes = [cli.main(["validate", str(bad), "--no-templates"]),
             cli.main(["show", "--db", setup["db"], "--workflows", str(bad), setup["id"]])]
    out, err = capsys.readouterr()
    assert codes == [1, 1]
    assert "Traceback" not in out + err and re.search(rf"{name}\.yaml:\d+:\d+: ", out + err)
    assert dump(setup["store"]) == before


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--db naming a file that is not SQLite exits 1 with a storage error, and the file is untouched."""
    garbage = tmp_path / "not.db"
    garbage.write_bytes(b"this is not a database\x00" * 100)
    code = cli.main(["show", "--db", str(garbage)])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("error: the database is unavailable") and "Traceback" not in err
    assert garbage.read_bytes() == b"this is not a database\x00" * 100


def test_an_unreachable_server_is_refused_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    """--db naming a PostgreSQL server nobody listens on exits 1 with a storage error."""
    code = cli.main(["show", "--db", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("error: the database is unavailable") and "Traceback" not in err


def test_a_real_process_prints_no_traceback(setup: dict[str, Any]) -> None:
    """Run as a program, a bad payload exits 1 with one line on stderr."""
    argv = [sys.executable, "cli.py", "fire", "--db", setup["db"], "--workflows", setup["flow"], "--directory",
            setup["directory"], *AUDITOR,
            setup["id"], "approve", "--payload", '{"note": {"__class__": 1}}']
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: payload field 'note'") and len(result.stderr.splitlines()) == 1
