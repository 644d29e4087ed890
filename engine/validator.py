"""Checks a parsed definition as a whole and builds its WorkflowSpec, reporting every problem of the file at once
as `file:line:col: path: problem (did you mean ...?)`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from engine.errors import MAX_PROBLEMS, DefinitionError, DefinitionProblem
from engine.spec import WorkflowSpec
from engine.validation.build import Builder
from engine.validation.checks import Checker

if TYPE_CHECKING:
    from engine.loader import ParsedDocument


def check_document(
    doc: ParsedDocument, known_templates: Collection[str] | None = None
) -> tuple[WorkflowSpec | None, list[DefinitionProblem]]:
    """Build the spec and run every check; answer the spec (None if unbuildable) and all problems, sorted."""
    spec, builder = _checked(doc, known_templates, stored=False)
    return spec, sorted(set(builder.problems))


def validate_document(doc: ParsedDocument, known_templates: Collection[str] | None = None) -> WorkflowSpec:
    """The valid WorkflowSpec of a parsed document; raise DefinitionError listing every problem otherwise."""
    spec, problems = check_document(doc, known_templates)
    return _valid(doc, spec, problems)


def validate_stored(doc: ParsedDocument) -> tuple[WorkflowSpec, list[DefinitionProblem]]:
    """The spec of a version kept in the database for the instances that run on it, and the rules for new
    definitions it breaks (waived: it was accepted when they started); DefinitionError for any other problem."""
    spec, builder = _checked(doc, None, stored=True)
    return _valid(doc, spec, sorted(set(builder.problems))), sorted(set(builder.waived))


def _checked(doc: ParsedDocument, known_templates: Collection[str] | None, *,
             stored: bool) -> tuple[WorkflowSpec | None, Builder]:
    """The spec (None if unbuildable) and its builder, which holds every problem and waiver the checks found."""
    builder = Builder(doc.filename, doc.locations, doc.key_locations)
    builder.stored = stored
    spec = builder.workflow(doc.data, doc.content_hash)
    if spec is not None:
        Checker(spec, builder, known_templates).run()
    return spec, builder


def _valid(doc: ParsedDocument, spec: WorkflowSpec | None, problems: list[DefinitionProblem]) -> WorkflowSpec:
    if problems or spec is None:
        raise DefinitionError(_listed(problems)
                              or [DefinitionProblem(doc.filename, 1, 1, "", "not a workflow definition")])
    return spec


def _listed(problems: list[DefinitionProblem]) -> list[DefinitionProblem]:
    """The first MAX_PROBLEMS by position, and after them one line counting the rest."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    last = problems[MAX_PROBLEMS - 1]
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], DefinitionProblem(
        last.file, last.line, last.col, last.path,
        f"{rest:,} more problem(s) after this one are not listed: mend these (they are often one mistake "
        "repeated) and validate again")]


__all__ = ["check_document", "validate_document", "validate_stored"]
