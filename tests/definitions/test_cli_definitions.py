"""The definitions command group: validate, graph and schema through cli.main."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cli
from tests.definitions.conftest import GX_REQUEST, INVALID


def test_validate_clean_files_prints_one_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A clean file: exit 0 and one line."""
    assert cli.main(["validate", str(GX_REQUEST)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["ok: 1 workflow(s) in 1 file(s) are valid"]


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two broken files in a folder: exit 1 and every expected line of both printed."""
    for name in ("graph", "unknown_roles"):
        shutil.copy(INVALID / f"{name}.yaml", tmp_path / f"{name}.yaml")
    assert cli.main(["validate", str(tmp_path), "--no-templates"]) == 1
    out = capsys.readouterr().out.splitlines()
    expected = [f"{tmp_path}/{line}" for name in ("graph", "unknown_roles")
                for line in (INVALID / f"{name}.expected").read_text(encoding="utf-8").splitlines()]
    assert out == expected


def test_validate_refuses_a_template_missing_from_the_folder(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """With --templates, a template the folder lacks is a problem."""
    (tmp_path / "task_assigned.j2").write_text("x", encoding="utf-8")
    assert cli.main(["validate", str(GX_REQUEST), "--templates", str(tmp_path)]) == 1
    assert "has no file notifiers/templates/request_granted.j2" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["mermaid", "bpmn"])
def test_graph_by_path_writes_the_diagram(fmt: str, tmp_path: Path) -> None:
    """graph FILE --format F -o OUT writes the diagram."""
    out = tmp_path / f"d.{fmt}"
    assert cli.main(["graph", str(GX_REQUEST), "--format", fmt, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("stateDiagram-v2" if fmt == "mermaid" else "<?xml")


def test_graph_by_id_looks_in_the_given_paths(capsys: pytest.CaptureFixture[str]) -> None:
    """graph ID --paths DIR finds the workflow by id; an unknown id exits 1 naming the loaded ones."""
    assert cli.main(["graph", "gx.data_request", "--paths", str(GX_REQUEST.parent)]) == 0
    assert capsys.readouterr().out.startswith("stateDiagram-v2")
    assert cli.main(["graph", "gx.nothing", "--paths", str(GX_REQUEST.parent)]) == 1
    assert "gx.data_request" in capsys.readouterr().err


def test_schema_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    """schema prints the JSON Schema."""
    assert cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$schema"].startswith("http://json-schema.org/draft-07")
