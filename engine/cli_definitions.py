"""Command-line group for definitions: `validate` files or folders, draw a workflow with `graph`, print the `schema`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.definitions import DefinitionSet, definition_files, template_names
from engine.diagrams import to_bpmn, to_mermaid
from engine.errors import DefinitionError, UnknownWorkflow
from engine.loader import load_file
from engine.schema import schema_json
from engine.spec import WorkflowSpec

_REPO = Path(__file__).resolve().parent.parent


def _default_workflows() -> Path:
    here = Path("workflows")
    return here if here.is_dir() else _REPO / "workflows"


def _known_templates(args: argparse.Namespace) -> frozenset[str] | None:
    if args.no_templates:
        return None
    folder = Path(args.templates) if args.templates else _REPO / "notifiers" / "templates"
    return template_names(folder) if folder.is_dir() and any(folder.glob("*.j2")) else None


def cmd_validate(args: argparse.Namespace) -> int:
    paths = args.paths or [_default_workflows()]
    try:
        defs = DefinitionSet.load(paths, known_templates=_known_templates(args))
    except DefinitionError as err:
        for problem in err.problems:
            print(problem)
        files = len({p.file for p in err.problems})
        print(f"{len(err.problems)} problem(s) in {files} file(s)", file=sys.stderr)
        return 1
    files = len(definition_files(paths))
    print(f"ok: {len(defs)} workflow(s) in {files} file(s) are valid")
    return 0


def _find(workflow: str, paths: list[str], known: frozenset[str] | None) -> WorkflowSpec:
    if Path(workflow).is_file():
        return load_file(workflow, known)
    return DefinitionSet.load(paths or [_default_workflows()], known_templates=known).get(workflow).spec


def cmd_graph(args: argparse.Namespace) -> int:
    try:
        spec = _find(args.workflow, args.paths, _known_templates(args))
    except (DefinitionError, UnknownWorkflow) as err:
        print(err, file=sys.stderr)
        return 1
    text = to_bpmn(spec) if args.format == "bpmn" else to_mermaid(spec)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    text = schema_json() + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _template_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--templates", metavar="DIR", help="notifier template folder to check template names against "
                                                      "(default: notifiers/templates)")
    p.add_argument("--no-templates", action="store_true", help="do not check template names against any folder")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("validate", help="check workflow definitions; list every problem (exit 1) or say ok",
                              description="Check workflow YAML files (or folders of them, default workflows/). Every "
                                          "problem of every file is printed as file:line:col: path: problem.")
    p.add_argument("paths", nargs="*", help="files or folders (default: workflows/)")
    _template_options(p)
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("graph", help="draw a workflow as Mermaid or BPMN 2.0",
                              description="Draw a workflow, named by its id or by a file path.")
    p.add_argument("workflow", help="a workflow id (e.g. gx.data_request) or a YAML file")
    p.add_argument("--format", choices=("mermaid", "bpmn"), default="mermaid")
    p.add_argument("--paths", nargs="*", default=[], help="where to look the id up (default: workflows/)")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    _template_options(p)
    p.set_defaults(func=cmd_graph)

    p = subparsers.add_parser("schema", help="print the JSON Schema of the workflow language (for editors)")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_schema)
