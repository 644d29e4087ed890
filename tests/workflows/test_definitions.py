"""The shipped workflow files: each loads, names its articles, and keeps the project's rules on SLAs and templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.loader import load_file
from engine.spec import SlaSpec, StateKind, WorkflowSpec

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "workflows").rglob("*.yaml"))
SUPERVISOR = "bureau.data_supervisor"
#: The notification templates the notifier ships; a workflow may use no other.
TEMPLATES = {
    "task_assigned", "sla_warning", "sla_breach", "sla_escalation", "supervisor_digest", "daily_digest",
    "request_granted", "request_refused", "returned_for_correction", "publicity_started", "objection_raised",
    "procedure_completed", "recurring_duty_due",
}
#: Every procedure the issue asks for, by id.
EXPECTED_IDS = {
    "gx.data_request", "lz.data_request", "lz.dispatch_data_request", "gx.data_quality", "lz.data_quality",
    "lz.resource_offlining", "gx.network_migration", "lz.network_migration", "gx.cloud_resource",
    "gx.cloud_resource_2019", "lz.cloud_resource", "gx.app_migration", "lz.app_migration", "lz.catalog_registration",
    "lz.code_set_registration", "lz.platform_account", "lz.catalog_update", "lz.catalog_refresh",
    "gx.emergency_drill", "lz.emergency_drill", "cq.sharing_report",
}


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def specs() -> dict[str, WorkflowSpec]:
    return {_name(p): load_file(p, known_templates=TEMPLATES) for p in WORKFLOWS}


def _slas(spec: WorkflowSpec) -> list[tuple[str, SlaSpec]]:
    found = [(f"states.{name}.sla", s.sla) for name, s in spec.states.items() if s.sla is not None]
    if spec.sla is not None:
        found.append(("sla", spec.sla))
    return found


def test_every_procedure_of_the_issue_has_a_file(specs: dict[str, WorkflowSpec]) -> None:
    """Each procedure of the regulations is shipped exactly once, under its own id."""
    ids = [s.id for s in specs.values()]
    assert sorted(ids) == sorted(EXPECTED_IDS)


@pytest.mark.parametrize("path", WORKFLOWS, ids=_name)
def test_file_sits_in_its_jurisdiction_folder(path: Path, specs: dict[str, WorkflowSpec]) -> None:
    """A file lives under workflows/<jurisdiction>/ and its id starts with that jurisdiction."""
    spec = specs[_name(path)]
    assert path.parent.name == spec.jurisdiction
    assert spec.id.split(".")[0] == spec.jurisdiction


@pytest.mark.parametrize("path", WORKFLOWS, ids=_name)
def test_file_names_the_articles_it_implements(path: Path, specs: dict[str, WorkflowSpec]) -> None:
    """Each file cites at least one document with at least one article."""
    spec = specs[_name(path)]
    assert spec.sources
    assert all(src.document and src.articles for src in spec.sources)


@pytest.mark.parametrize("path", WORKFLOWS, ids=_name)
def test_guangxi_procedures_use_the_guangxi_calendar(path: Path, specs: dict[str, WorkflowSpec]) -> None:
    """Guangxi and Liuzhou count 壮族三月三 as days off (CN-GX); Chongqing counts the national calendar only."""
    spec = specs[_name(path)]
    expected = "CN" if spec.jurisdiction == "cq" else "CN-GX"
    assert spec.calendar == expected


@pytest.mark.parametrize("path", WORKFLOWS, ids=_name)
def test_every_ladder_ends_at_the_data_supervisor(path: Path, specs: dict[str, WorkflowSpec]) -> None:
    """Every SLA has a warning and an escalation ladder whose last level notifies 数据监督员."""
    spec = specs[_name(path)]
    problems = []
    for where, sla in _slas(spec):
        if not sla.warn_before:
            problems.append(f"{where}: no warning")
        if not sla.escalations or SUPERVISOR not in sla.escalations[-1].notify:
            problems.append(f"{where}: the last escalation level does not notify {SUPERVISOR}")
    assert problems == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=_name)
def test_only_the_shipped_templates_are_used(path: Path, specs: dict[str, WorkflowSpec]) -> None:
    """Notifications name only the templates the notifier ships, and each used template is declared."""
    spec = specs[_name(path)]
    used = {n.template for s in spec.states.values() for n in (*s.on_enter, *s.on_exit)}
    assert used <= TEMPLATES
    assert used <= set(spec.templates)


@pytest.mark.parametrize("path", [p for p in WORKFLOWS if p.stem.endswith("data_request")], ids=_name)
def test_every_refusal_states_its_legal_basis(path: Path, specs: dict[str, WorkflowSpec]) -> None:
    """A data-sharing refusal requires a reason and its legal basis (Guangxi art. 22(3), Liuzhou dispatch art. 22)."""
    spec = specs[_name(path)]
    refusals = [t for t in spec.transitions if t.event == "refuse"]
    assert refusals
    for t in refusals:
        required = {f.name for f in t.payload if f.required}
        assert {"reason", "legal_basis"} <= required, t.source


@pytest.mark.parametrize("path", WORKFLOWS, ids=_name)
def test_every_state_is_reachable(path: Path, specs: dict[str, WorkflowSpec]) -> None:
    """No state is dead weight: each is reached from the initial state by transitions, branches or `next`."""
    spec = specs[_name(path)]
    edges: dict[str, set[str]] = {name: set() for name in spec.states}
    for t in spec.transitions:
        edges[t.source].add(t.dest)
    for name, s in spec.states.items():
        edges[name].update(b.to for b in s.branches)
        edges[name].update(x for x in (s.default, s.next) if x)
    seen, todo = {spec.initial}, [spec.initial]
    while todo:
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert set(spec.states) - seen == set()


@pytest.mark.parametrize("path", WORKFLOWS, ids=_name)
def test_every_non_end_state_can_be_left(path: Path, specs: dict[str, WorkflowSpec]) -> None:
    """Apart from end states, every state has a way out, so no instance is stranded."""
    spec = specs[_name(path)]
    stuck = [
        name for name, s in spec.states.items()
        if s.kind is StateKind.TASK and not spec.events_from(name)
    ]
    assert stuck == []
