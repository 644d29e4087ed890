"""Diagrams: Mermaid state diagrams, and BPMN 2.0 that validates against the OMG XSD and carries a layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compiler import CompiledWorkflow
from engine.diagrams import to_bpmn, to_mermaid
from engine.loader import load_file
from tests.definitions.conftest import REPO, VALID

etree = pytest.importorskip("lxml.etree")
spiff = pytest.importorskip("SpiffWorkflow")

XSD_PATH = Path(spiff.__file__).parent / "bpmn" / "parser" / "schema" / "BPMN20.xsd"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
ALL = sorted(VALID.glob("*.yaml")) + sorted((REPO / "workflows").glob("**/*.yaml"))


@pytest.fixture(scope="module")
def xsd() -> object:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(REPO)) for p in ALL])
def test_bpmn_of_every_workflow_is_valid_against_the_xsd(path: Path, xsd: object) -> None:
    """The export of each fixture and each shipped workflow validates against BPMN20.xsd."""
    doc = etree.fromstring(to_bpmn(load_file(path)).encode("utf-8"))
    valid = xsd.validate(doc)  # type: ignore[attr-defined]
    assert valid, [str(e) for e in xsd.error_log]  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(REPO)) for p in ALL])
def test_every_bpmn_element_has_a_shape_or_edge(path: Path) -> None:
    """BPMNDI covers every flow node and flow, so bpmn.io draws the whole process."""
    doc = etree.fromstring(to_bpmn(load_file(path)).encode("utf-8"))
    process = doc.find("bpmn:process", NS)
    flows = {e.get("id") for e in process.findall("bpmn:sequenceFlow", NS)}
    nodes = {e.get("id") for e in process if e.get("id") and e.get("id") not in flows}
    shapes = {s.get("bpmnElement") for s in doc.iter(f"{{{NS['bpmndi']}}}BPMNShape")}
    edges = {s.get("bpmnElement") for s in doc.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
    assert shapes == nodes and edges == flows


def test_main_shapes_do_not_overlap(gx: CompiledWorkflow) -> None:
    """No two tasks, gateways or events of the main flow share space in the layout."""
    doc = etree.fromstring(to_bpmn(gx.spec).encode("utf-8"))
    boxes = []
    for shape in doc.iter(f"{{{NS['bpmndi']}}}BPMNShape"):
        if shape.get("bpmnElement").startswith("Boundary_"):
            continue  # boundary events sit on their task's border by design
        b = shape.find("dc:Bounds", NS)
        boxes.append((float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height"))))
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


def test_sla_is_a_boundary_timer_and_escalations_are_escalation_events(gx: CompiledWorkflow) -> None:
    """The normative review carries a non-interrupting 2 WD timer leading to two 督办 escalation events."""
    doc = etree.fromstring(to_bpmn(gx.spec).encode("utf-8"))
    process = doc.find("bpmn:process", NS)
    boundary = process.find("bpmn:boundaryEvent[@attachedToRef='Task_normative_review']", NS)
    assert boundary is not None and boundary.get("cancelActivity") == "false"
    assert boundary.find("bpmn:timerEventDefinition/bpmn:timeDuration", NS).text == "2 WD"
    throws = process.findall("bpmn:intermediateThrowEvent", NS)
    refs = [t.find("bpmn:escalationEventDefinition", NS).get("escalationRef") for t in throws
            if t.get("id").startswith("Escalate_normative_review_")]
    assert refs == ["Escalation_level_1", "Escalation_level_2"]
    assert {e.get("id") for e in doc.findall("bpmn:escalation", NS)} == set(refs)


def test_decision_default_is_the_gateway_default_flow(gx: CompiledWorkflow) -> None:
    """The decision's default branch is the gateway's `default` flow and carries no condition."""
    doc = etree.fromstring(to_bpmn(gx.spec).encode("utf-8"))
    process = doc.find("bpmn:process", NS)
    gateway = process.find("bpmn:exclusiveGateway[@id='Gateway_route']", NS)
    default = process.find(f"bpmn:sequenceFlow[@id='{gateway.get('default')}']", NS)
    assert default.get("targetRef") == "Task_normative_review"
    assert default.find("bpmn:conditionExpression", NS) is None


def test_mermaid_draws_states_choices_and_events(gx: CompiledWorkflow) -> None:
    """The Mermaid text declares decisions as choices and has one arrow per user event and branch."""
    text = to_mermaid(gx.spec)
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    state route <<choice>>" in lines
    assert "    [*] --> route" in lines
    assert "    normative_review --> provider_approval: pass" in lines
    arrows = [ln for ln in lines if "-->" in ln and "[*]" not in ln]
    branches = sum(len(s.branches) + 1 for s in gx.spec.states.values() if s.kind.value == "decision")
    assert len(arrows) == len(gx.spec.transitions) + branches


def test_mermaid_renames_states_named_like_its_keywords(gx: CompiledWorkflow) -> None:
    """A state called `end` is drawn as `end_` so Mermaid does not read it as syntax."""
    import dataclasses

    from engine.spec import frozen_map

    states = {("end" if k == "granted" else k): dataclasses.replace(v, name="end" if k == "granted" else k)
              for k, v in gx.spec.states.items()}
    transitions = tuple(dataclasses.replace(t, dest="end") if t.dest == "granted" else t for t in gx.spec.transitions)
    spec = dataclasses.replace(gx.spec, states=frozen_map(states), transitions=transitions)
    lines = to_mermaid(spec).splitlines()
    assert "    subscription --> end_: subscribe" in lines and "    end_ --> [*]" in lines


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(REPO)) for p in ALL])
def test_a_bpmn_engine_reads_every_export(path: Path) -> None:
    """SpiffWorkflow's parser resolves every reference (flows, defaults, boundary attachments, escalations).

    The export says isExecutable="false" (its conditions are Jinja and its durations working days), which
    Spiff refuses outright; the structure is read with the flag flipped.
    """
    from SpiffWorkflow.bpmn.parser import BpmnParser

    spec = load_file(path)
    parser = BpmnParser()
    parser.add_bpmn_str(to_bpmn(spec).replace('isExecutable="false"', 'isExecutable="true"').encode("utf-8"))
    process = parser.get_spec("Process_" + spec.id.replace(".", "_"))
    names = set(process.task_specs)
    assert {f"Task_{n}" for n, s in spec.states.items() if s.kind.value == "task"} <= names
