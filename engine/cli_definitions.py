"""Command-line group for definitions: `validate` files or folders, draw a workflow with `graph`, print the `schema`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from engine.cli_checks import UsageError, exit_codes, workflow_file
from engine.definitions import DEFINITION_GLOBS, DefinitionSet, definition_files, template_names
from engine.diagrams import to_bpmn, to_mermaid
from engine.errors import DefinitionError, DefinitionProblem, UnknownWorkflow
from engine.loader import load_file
from engine.reporting.target import refusal
from engine.schema import schema_json
from engine.spec import WorkflowSpec

_REPO = Path(__file__).resolve().parent.parent
#: What `schema` writes carries this id near its top: a file holding it is an earlier schema, replaced freely.
_SCHEMA_ID = b'"$id": "https://shixian.example/schemas/workflow.schema.json"'


def _default_workflows() -> Path:
    here = Path("workflows")
    return here if here.is_dir() else _REPO / "workflows"


def _known_templates(args: argparse.Namespace) -> frozenset[str] | None:
    """The template names to check against; a `--templates` folder that is missing or empty is refused, since
    checking against nothing would pass every misspelt name."""
    if args.no_templates:
        return None
    if args.templates:
        folder = Path(args.templates)
        if not folder.is_dir():
            raise UsageError(f"--templates {args.templates}: no such folder; give the folder of the notifier "
                             "templates (*.j2), or --no-templates")
        if not any(folder.glob("*.j2")):
            raise UsageError(f"--templates {args.templates} holds no *.j2 template; give the folder of the notifier "
                             "templates, or --no-templates")
        return template_names(folder)
    folder = _REPO / "notifiers" / "templates"
    return template_names(folder) if folder.is_dir() and any(folder.glob("*.j2")) else None


def _usage(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    return exit_codes(fn, [(UsageError, 2, None)])


def cmd_validate(args: argparse.Namespace) -> int:
    paths = args.paths or [_default_workflows()]
    try:
        _holds_definitions(paths)
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


def _holds_definitions(paths: list[str] | list[Path]) -> None:
    """Refuse a folder with no definition in it: validating nothing would pass, and the administrator who gave
    the repository's root or a templates folder by mistake would read "ok"."""
    empty = [str(p) for p in paths if Path(p).is_dir() and not definition_files([p])]
    if empty:
        wanted = " or ".join(DEFINITION_GLOBS)
        raise DefinitionError([DefinitionProblem(folder, 1, 1, "", f"this folder holds no workflow definition "
                                                                   f"({wanted}); give the folder of the "
                                                                   "workflows' YAML files") for folder in empty])


def _find(workflow: str, paths: list[str], known: frozenset[str] | None) -> WorkflowSpec:
    """The workflow a file path names (an argument with '/' or a YAML suffix is one), or a loaded id."""
    path = workflow_file(workflow)
    if path is not None:
        return load_file(str(path), known)
    return DefinitionSet.load(paths or [_default_workflows()], known_templates=known).get(workflow).spec


def _is_diagram(head: bytes) -> bool:
    """Whether a file begins as `graph` writes it: a Mermaid state diagram or a BPMN 2.0 document."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    return text.startswith(b"stateDiagram-v2") or (text.startswith(b"<?xml") and b"<bpmn:definitions" in text)


def _is_schema(head: bytes) -> bool:
    return _SCHEMA_ID in head


def _write(args: argparse.Namespace, text: str, is_own: Callable[[bytes], bool], kind: str) -> int:
    """`text` to `-o FILE` (never over a file of another kind without --force), or to standard output."""
    if not args.output:
        sys.stdout.write(text)
        return 0
    refused = refusal(Path(args.output), None, force=args.force, option="-o", kind=kind, is_own=is_own)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as err:
        print(f"error: cannot write {args.output}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    try:
        spec = _find(args.workflow, args.paths, _known_templates(args))
    except DefinitionError as err:
        print(err, file=sys.stderr)
        return 1
    except UnknownWorkflow as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    fmt = _graph_format(args.format, args.output)
    if fmt is None:
        print(f"error: -o {args.output} names a BPMN file, but --format is mermaid: drop --format, or name the "
              "file .mmd", file=sys.stderr)
        return 2
    text = to_bpmn(spec) if fmt == "bpmn" else to_mermaid(spec)
    return _write(args, text, _is_diagram, "diagram")


def _graph_format(given: str | None, output: str | None) -> str | None:
    """The diagram's format: --format, else the -o file's suffix (.bpmn or .xml: BPMN), else Mermaid; None when
    --format mermaid would be written to a .bpmn file, which a BPMN tool would refuse."""
    bpmn_file = output is not None and output.lower().endswith((".bpmn", ".bpmn20.xml"))
    if given is None:
        return "bpmn" if bpmn_file or (output is not None and output.lower().endswith(".xml")) else "mermaid"
    return None if given == "mermaid" and bpmn_file else given


def cmd_schema(args: argparse.Namespace) -> int:
    return _write(args, schema_json() + "\n", _is_schema, "schema")


def _output_options(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("-o", "--output", help=f"write to this file instead of standard output; replaces an earlier "
                                          f"{kind}, never another file unless --force is given")
    p.add_argument("--force", action="store_true", help=f"replace an existing -o file that is not a {kind} "
                                                         "(never a SQLite database)")


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
    p.set_defaults(func=_usage(cmd_validate))

    p = subparsers.add_parser("graph", help="draw a workflow as Mermaid or BPMN 2.0",
                              description="Draw a workflow, named by its id or by a file path.")
    p.add_argument("workflow", help="a workflow id (e.g. gx.data_request) or a YAML file")
    p.add_argument("--format", choices=("mermaid", "bpmn"), default=None,
                   help="default: BPMN for an -o file named .bpmn or .xml, else Mermaid")
    p.add_argument("--paths", nargs="*", default=[], help="where to look the id up (default: workflows/)")
    _output_options(p, "diagram")
    _template_options(p)
    p.set_defaults(func=_usage(cmd_graph))

    p = subparsers.add_parser("schema", help="print the JSON Schema of the workflow language (for editors)")
    _output_options(p, "schema")
    p.set_defaults(func=_usage(cmd_schema))
