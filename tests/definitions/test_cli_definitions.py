"""The definitions command group: validate, graph and schema through cli.main."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cli
from tests.definitions.conftest import GX_REQUEST, INVALID

REPO = Path(__file__).resolve().parents[2]


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


def test_validate_refuses_a_folder_with_no_definition(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder holding no YAML (the templates folder given by mistake) is a problem at that folder, even beside a
    clean file, instead of 'ok: 0 workflow(s)'."""
    (tmp_path / "task_assigned.j2").write_text("x", encoding="utf-8")
    assert cli.main(["validate", str(GX_REQUEST), str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{tmp_path}:1:1: this folder holds no workflow definition (*.yaml or *.yml); give the folder "
                   "of the workflows' YAML files"]


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


def test_graph_takes_its_format_from_the_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --format, -o d.bpmn writes BPMN and d.mmd Mermaid; --format mermaid into a .bpmn file, which a
    BPMN tool would refuse, is a usage error and writes nothing."""
    assert cli.main(["graph", str(GX_REQUEST), "-o", str(tmp_path / "d.bpmn")]) == 0
    assert cli.main(["graph", str(GX_REQUEST), "-o", str(tmp_path / "d.mmd")]) == 0
    assert (tmp_path / "d.bpmn").read_text(encoding="utf-8").startswith("<?xml")
    assert (tmp_path / "d.mmd").read_text(encoding="utf-8").startswith("stateDiagram-v2")
    assert cli.main(["graph", str(GX_REQUEST), "--format", "mermaid", "-o", str(tmp_path / "e.bpmn")]) == 2
    assert "names a BPMN file" in capsys.readouterr().err and not (tmp_path / "e.bpmn").exists()


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


def test_graph_and_schema_never_overwrite_another_kind_of_file(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`-o` replaces an earlier diagram or schema, refuses a workflow file (exit 2, untouched) unless --force."""
    precious = tmp_path / "data_request.yaml"
    precious.write_text("id: gx.data_request\n", encoding="utf-8")
    graph = ["graph", str(GX_REQUEST), "-o"]
    assert cli.main([*graph, str(precious)]) == 2
    assert cli.main(["schema", "-o", str(precious)]) == 2
    err = capsys.readouterr().err
    assert "is not a diagram this command wrote" in err and "is not a schema this command wrote" in err
    assert "--force" in err and precious.read_text(encoding="utf-8") == "id: gx.data_request\n"
    diagram, schema = tmp_path / "g.mmd", tmp_path / "s.json"
    assert [cli.main([*graph, str(diagram)]), cli.main([*graph, str(diagram), "--format", "bpmn"]),
            cli.main(["schema", "-o", str(schema)]), cli.main(["schema", "-o", str(schema)])] == [0, 0, 0, 0]
    assert diagram.read_text(encoding="utf-8").startswith("<?xml")
    assert cli.main([*graph, str(precious), "--force"]) == 0
    assert precious.read_text(encoding="utf-8").startswith("stateDiagram-v2")


@pytest.mark.parametrize(("target", "said"), [("missing/g.mmd", "there is no folder"), (".", "not a regular file")])
def test_graph_output_that_cannot_be_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       target: str, said: str) -> None:
    """`-o` in a missing folder or naming a folder is one error line, no traceback."""
    code = cli.main(["graph", str(GX_REQUEST), "-o", str(tmp_path / target)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("error: -o ") and said in err and len(err.splitlines()) == 1


def test_graph_output_that_cannot_be_written_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A write the system refuses is `error: cannot write ...`, exit 1."""
    def refuse(*_args: object, **_kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", refuse)
    code = cli.main(["schema", "-o", str(tmp_path / "s.json")])
    assert code == 1
    assert capsys.readouterr().err == f"error: cannot write {tmp_path / 's.json'}: Permission denied\n"


@pytest.mark.parametrize(("workflow", "said"), [
    ("workflows/gx/data_requst.yaml", "no such file: workflows/gx/data_requst.yaml"),
    ("gx.data_requst", "(did you mean 'gx.data_request'?)"),
])
def test_graph_says_which_workflow_argument_is_wrong(capsys: pytest.CaptureFixture[str], workflow: str,
                                                     said: str) -> None:
    """A path-like argument is a file that is missing; a mistyped id names the nearest one, not all 21."""
    code = cli.main(["graph", workflow, "--paths", str(REPO / "workflows")])
    err = capsys.readouterr().err
    assert code == (2 if "/" in workflow else 1)
    assert said in err and "gx.cloud_resource" not in err


@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_validate_refuses_a_templates_folder_without_templates(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               folder: str) -> None:
    """`--templates` that is missing or holds no *.j2 exits 2 instead of switching the template check off."""
    (tmp_path / "empty").mkdir()
    code = cli.main(["validate", str(GX_REQUEST), "--templates", str(tmp_path / folder)])
    err = capsys.readouterr().err
    assert code == 2 and "--templates" in err and "--no-templates" in err
