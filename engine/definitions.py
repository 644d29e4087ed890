"""A set of loaded, compiled definitions, by id and by version: what the engine serves instances from."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.compiler import CompiledWorkflow, compile_workflow
from engine.errors import DefinitionError, DefinitionProblem, UnknownWorkflow
from engine.loader import load_file, load_text, parse_text
from engine.spec import WorkflowSpec
from engine.store import StoredDefinition
from engine.validator import validate_stored

log = logging.getLogger(__name__)

#: The file names a folder is searched for.
DEFINITION_GLOBS = ("*.yaml", "*.yml")


def definition_files(paths: Iterable[str | Path]) -> list[Path]:
    """The definition files named by `paths` (files, or folders searched recursively), sorted, no repeats."""
    found: dict[Path, None] = {}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for pattern in DEFINITION_GLOBS:
                for f in sorted(p.rglob(pattern)):
                    found[f] = None
        else:
            found[p] = None
    return list(found)


def template_names(folder: str | Path) -> frozenset[str]:
    """The template names a notifier folder offers (`NAME.j2`; names starting with `_` are partials)."""
    return frozenset(p.stem for p in Path(folder).glob("*.j2") if not p.stem.startswith("_"))


class DefinitionSet:
    """Compiled definitions by id (latest added wins, older versions kept for their instances don't) and by
    (id, content hash); add-only, versions kept."""

    def __init__(self) -> None:
        self._latest: dict[str, CompiledWorkflow] = {}
        self._versions: dict[str, dict[str, CompiledWorkflow]] = {}

    @classmethod
    def load(cls, paths: Sequence[str | Path] | str | Path = ("workflows",),
             known_templates: Collection[str] | None = None) -> DefinitionSet:
        """Load, validate and compile every definition under `paths`; raise DefinitionError with ALL problems of
        ALL files when any file is wrong (nothing is loaded then)."""
        if isinstance(paths, str | Path):
            paths = [paths]
        problems: list[DefinitionProblem] = []
        specs: list[WorkflowSpec] = []
        for p in paths:
            if not Path(p).exists():
                problems.append(DefinitionProblem(str(p), 1, 1, "", "no such file or folder"))
        sources: dict[str, str] = {}
        for f in definition_files(p for p in paths if Path(p).exists()):
            try:
                spec = load_file(f, known_templates)
            except DefinitionError as err:
                problems.extend(err.problems)
                continue
            specs.append(spec)
            sources[spec.source_path] = _source_of(f, spec)
        first_file: dict[str, WorkflowSpec] = {}
        for spec in specs:
            other = first_file.get(spec.id)
            if other is not None and other.source_path != spec.source_path:
                loc = spec.location("id")
                problems.append(DefinitionProblem(spec.source_path, loc.line if loc else 1, loc.col if loc else 1,
                                                  "id", f"id {spec.id!r} is also defined in {other.source_path}"))
            first_file.setdefault(spec.id, spec)
        if problems:
            raise DefinitionError(problems)
        out = cls()
        for spec in specs:
            out.add(spec, source=sources.get(spec.source_path) or None)
        return out

    @classmethod
    def from_texts(cls, texts: Iterable[tuple[str, str]], known_templates: Collection[str] | None = None
                   ) -> DefinitionSet:
        """Load definitions from (file name, YAML text) pairs, e.g. sources kept in the database."""
        out = cls()
        problems: list[DefinitionProblem] = []
        for name, text in texts:
            try:
                out.add(load_text(text, name, known_templates), source=text)
            except DefinitionError as err:
                problems.extend(err.problems)
        if problems:
            raise DefinitionError(problems)
        return out

    def add(self, item: WorkflowSpec | CompiledWorkflow, *, source: str | None = None,
            newest: bool = True) -> CompiledWorkflow:
        """Add a spec (compiled here, once per version) or a compiled workflow; it becomes the latest of its id.

        `source`, the exact YAML text of that version, is kept as the compiled workflow's `source`, which the
        engine stores so that instances on the version can be served again after a restart.

        `newest=False` keeps an older version only for the instances that run on it (the engine reloading a
        stored version): it is served by `get_version`, listed first by `versions`, and never by `get`, so
        it does not displace the version the files define; an id known only that way starts no instances.
        """
        compiled = item if isinstance(item, CompiledWorkflow) else compile_workflow(item)
        if source and not compiled.source:
            compiled.source = source
        wid = compiled.spec.id
        versions = self._versions.setdefault(wid, {})
        known = versions.get(compiled.version)
        if known is not None:
            compiled = known
        elif newest:
            versions[compiled.version] = compiled
        else:
            self._versions[wid] = {compiled.version: compiled, **versions}
        if newest:
            self._latest[wid] = compiled
        return compiled

    def get(self, workflow_id: str) -> CompiledWorkflow:
        """The latest loaded version of `workflow_id`; UnknownWorkflow otherwise."""
        try:
            return self._latest[workflow_id]
        except KeyError:
            raise UnknownWorkflow(workflow_id, None, self.ids()) from None

    def get_version(self, workflow_id: str, content_hash: str) -> CompiledWorkflow:
        """A given version of `workflow_id` (its full content hash, or the 12-character version label)."""
        versions = self._versions.get(workflow_id, {})
        hit = versions.get(content_hash)
        if hit is None and len(content_hash) >= 12:
            matches = [c for h, c in versions.items() if h.startswith(content_hash)]
            hit = matches[0] if len(matches) == 1 else None
        if hit is None:
            raise UnknownWorkflow(workflow_id, content_hash, self.ids())
        return hit

    def versions(self, workflow_id: str) -> tuple[str, ...]:
        """The content hashes loaded for `workflow_id`, oldest first."""
        return tuple(self._versions.get(workflow_id, {}))

    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._latest))

    def __iter__(self) -> Iterator[CompiledWorkflow]:
        return iter([self._latest[i] for i in self.ids()])

    def __len__(self) -> int:
        return len(self._latest)

    def __contains__(self, workflow_id: object) -> bool:
        return workflow_id in self._latest


def add_stored_version(definitions: Any, stored: StoredDefinition) -> bool:
    """Serve a version kept in the database (its YAML source) to the instances that run on it, unless that
    version is loaded already; it never becomes the newest of its id. True when it was added.

    Its instances started under the rules of their day: a rule added since for new definitions only (who may
    start, a cron) is waived and logged; any other problem raises DefinitionError."""
    try:
        definitions.get_version(stored.workflow_id, stored.version)
        return False
    except UnknownWorkflow:
        pass
    spec, waived = stored_spec(stored)
    for problem in waived:
        log.warning("stored version %s of %s, kept for its running instances, breaks a rule for new definitions "
                    "(waived for them): %s", stored.version[:12], stored.workflow_id, problem)
    definitions.add(spec, source=stored.source, newest=False)
    return True


def stored_spec(stored: StoredDefinition) -> tuple[WorkflowSpec, list[DefinitionProblem]]:
    """The spec of a stored version and the rules for new definitions it breaks (waived for it)."""
    name = stored.source_path or f"<stored {stored.workflow_id} {stored.version[:12]}>"
    return validate_stored(parse_text(stored.source, name))


__all__ = ["CompiledWorkflow", "DefinitionSet", "add_stored_version", "definition_files", "stored_spec",
           "template_names"]


def _source_of(path: Path, spec: WorkflowSpec) -> str:
    """The text of the file `spec` was loaded from, or "" when it changed since (another version now)."""
    try:
        text = path.read_text(encoding="utf-8")
        return text if parse_text(text, str(path)).content_hash == spec.content_hash else ""
    except (OSError, UnicodeDecodeError, DefinitionError):
        return ""
