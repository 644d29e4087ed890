"""Exports a workflow as BPMN 2.0 XML with diagram layout (BPMNDI) that opens in bpmn.io / Camunda Modeler.

Tasks become user tasks, automatic steps service tasks, decisions exclusive gateways (with their default flow),
timers timer events, end states end events. A task's SLA is a non-interrupting boundary timer leading to its
escalation ladder, one escalation event per level (督办). The result validates against the OMG BPMN 2.0 XSD.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from engine.spec import SlaSpec, StateKind, StateSpec, WorkflowSpec

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
TARGET_NAMESPACE = "https://shixian.example/workflows"

_SIZES = {
    "userTask": (110, 80), "serviceTask": (110, 80), "receiveTask": (110, 80),
    "exclusiveGateway": (50, 50), "startEvent": (36, 36), "endEvent": (36, 36),
    "intermediateCatchEvent": (36, 36), "intermediateThrowEvent": (36, 36), "boundaryEvent": (36, 36),
}
_COL_WIDTH = 190
_ROW_HEIGHT = 140
_CHAIN_STEP = 90


@dataclass
class _Node:
    id: str
    tag: str
    name: str
    docs: str = ""
    timer: tuple[str, str] | None = None  # (timeDuration|timeDate, text)
    escalation: str | None = None  # escalation id thrown
    attached_to: str | None = None
    interrupting: bool = True
    default: str | None = None
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)
    x: float = 0.0  # centre
    y: float = 0.0


@dataclass
class _Edge:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str | None = None


class _Graph:
    """The BPMN elements of one workflow, before layout and serialisation."""

    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.nodes: dict[str, _Node] = {}
        self.edges: list[_Edge] = []
        self.escalations: dict[int, str] = {}
        self.main: list[str] = []  # ids laid out on the grid, in build order
        self.chains: list[tuple[str, list[str]]] = []  # (task id, [boundary, ... chain ids])

    def node(self, node: _Node, main: bool = True) -> _Node:
        self.nodes[node.id] = node
        if main:
            self.main.append(node.id)
        return node

    def edge(self, source: str, target: str, name: str = "", condition: str | None = None) -> _Edge:
        e = _Edge(f"Flow_{len(self.edges) + 1}", source, target, name, condition)
        self.edges.append(e)
        self.nodes[source].outgoing.append(e.id)
        self.nodes[target].incoming.append(e.id)
        return e

    @staticmethod
    def element_id(st: StateSpec) -> str:
        prefix = {StateKind.TASK: "Task", StateKind.AUTO: "Service", StateKind.TIMER: "Timer",
                  StateKind.DECISION: "Gateway", StateKind.END: "End"}[st.kind]
        return f"{prefix}_{st.name}"

    def build(self) -> None:
        spec = self.spec
        start = self.node(_Node("StartEvent_1", "startEvent", "start"))
        for st in spec.states.values():
            self.node(self.state_node(st))
        if spec.initial in spec.states:
            self.edge(start.id, self.element_id(spec.states[spec.initial]))
        for st in spec.states.values():
            self.exits(st)
        for st in spec.states.values():
            if st.kind is StateKind.TASK and st.sla is not None:
                self.sla_chain(st, st.sla)

    def state_node(self, st: StateSpec) -> _Node:
        nid = self.element_id(st)
        title = str(st.title) if st.title else st.name
        if st.kind is StateKind.TASK:
            docs = f"assignee: {st.assignee}" + (f"; SLA {self.due_text(st.sla)}" if st.sla else "")
            return _Node(nid, "userTask", f"{title} [{st.assignee}]", docs)
        if st.kind is StateKind.AUTO:
            return _Node(nid, "serviceTask", title, f"hook: {st.hook}")
        if st.kind is StateKind.TIMER:
            timer = ("timeDuration", str(st.after)) if st.after else ("timeDate", f"end of {st.at_variable}")
            if self.spec.events_from(st.name):  # events may leave earlier: a wait with a boundary timer
                return _Node(nid, "receiveTask", title, f"waits {timer[1]}; events may leave earlier")
            return _Node(nid, "intermediateCatchEvent", title, timer=timer)
        if st.kind is StateKind.DECISION:
            return _Node(nid, "exclusiveGateway", title)
        return _Node(nid, "endEvent", f"{title} ({st.outcome})" if st.title else str(st.outcome))

    def target(self, state: str | None) -> str | None:
        st = self.spec.states.get(state or "")
        return self.element_id(st) if st is not None else None

    def exits(self, st: StateSpec) -> None:
        nid = self.element_id(st)
        if st.kind is StateKind.DECISION:
            for br in st.branches:
                dest = self.target(br.to)
                if dest:
                    self.edge(nid, dest, br.when, br.when)
            dest = self.target(st.default)
            if dest:
                self.nodes[nid].default = self.edge(nid, dest, "otherwise").id
            return
        source = nid
        if st.kind is StateKind.TIMER and self.nodes[nid].tag == "receiveTask" and st.next:
            timer = ("timeDuration", str(st.after)) if st.after else ("timeDate", f"end of {st.at_variable}")
            boundary = self.node(_Node(f"Boundary_{st.name}_timer", "boundaryEvent", "time up", timer=timer,
                                       attached_to=nid), main=False)
            self.chains.append((nid, [boundary.id]))
            dest = self.target(st.next)
            if dest:
                self.edge(boundary.id, dest, "time up")
        elif st.kind in (StateKind.AUTO, StateKind.TIMER) and st.next:
            dest = self.target(st.next)
            if dest:
                self.edge(nid, dest, "hook done" if st.kind is StateKind.AUTO else "time up")
        events = [(t.event, t.guard, self.target(t.dest)) for t in self.spec.events_from(st.name)]
        events = [e for e in events if e[2]]
        if len(events) > 1:
            gateway = self.node(_Node(f"Choice_{st.name}", "exclusiveGateway", "event?"))
            self.edge(source, gateway.id)
            source = gateway.id
        for event, guard, dest in events:
            cond = f"event == '{event}'" + (f" and ({guard})" if guard else "") if len(events) > 1 else guard
            self.edge(source, dest or "", event, cond)

    @staticmethod
    def due_text(sla: SlaSpec | None) -> str:
        if sla is None:
            return ""
        return str(sla.due.duration) if sla.due.duration else f"end of {sla.due.date_variable}"

    def escalation(self, level: int) -> str:
        return self.escalations.setdefault(level, f"Escalation_level_{level}")

    def sla_chain(self, st: StateSpec, sla: SlaSpec) -> None:
        task = self.element_id(st)
        due = self.due_text(sla)
        kind = "timeDuration" if sla.due.duration else "timeDate"
        boundary = self.node(_Node(f"Boundary_{st.name}_sla", "boundaryEvent", f"SLA {due}", timer=(kind, due),
                                   attached_to=task, interrupting=False,
                                   docs=f"breach notifies {', '.join(sla.breach_notify) or st.assignee}"), main=False)
        chain = [boundary.id]
        previous = boundary.id
        for level in sla.escalations:
            if level.after.amount > 0:
                wait = self.node(_Node(f"Wait_{st.name}_l{level.level}", "intermediateCatchEvent",
                                       f"+{level.after}", timer=("timeDuration", str(level.after))), main=False)
                self.edge(previous, wait.id)
                chain.append(wait.id)
                previous = wait.id
            throw = self.node(_Node(f"Escalate_{st.name}_l{level.level}", "intermediateThrowEvent",
                                    f"督办 {level.level}: {', '.join(level.notify)}",
                                    escalation=self.escalation(level.level)), main=False)
            self.edge(previous, throw.id)
            chain.append(throw.id)
            previous = throw.id
        end = self.node(_Node(f"Done_{st.name}_sla", "endEvent", "breach handled"), main=False)
        self.edge(previous, end.id)
        chain.append(end.id)
        self.chains.append((task, chain))


def _layout(g: _Graph) -> None:
    """Columns by distance from the start event, rows in build order; SLA chains in a band below."""
    succ: dict[str, list[str]] = {n: [] for n in g.nodes}
    for e in g.edges:
        succ[e.source].append(e.target)
    column: dict[str, int] = {"StartEvent_1": 0}
    queue = ["StartEvent_1"]
    while queue:
        current = queue.pop(0)
        for nxt in succ[current]:
            if nxt not in column and nxt in g.main:
                column[nxt] = column[current] + 1
                queue.append(nxt)
    last = max(column.values(), default=0)
    for nid in g.main:  # unreachable elements (a valid definition has none) go after the rest
        if nid not in column:
            last += 1
            column[nid] = last
    rows: dict[int, int] = {}
    for nid in g.main:
        c = column[nid]
        row = rows.get(c, 0)
        rows[c] = row + 1
        g.nodes[nid].x = 120 + c * _COL_WIDTH
        g.nodes[nid].y = 120 + row * _ROW_HEIGHT
    band = max((g.nodes[n].y for n in g.main), default=120) + _ROW_HEIGHT
    for i, (task_id, chain) in enumerate(g.chains):
        task = g.nodes[task_id]
        boundary = g.nodes[chain[0]]
        boundary.x = task.x + (20 if boundary.interrupting else -20)
        boundary.y = task.y + _SIZES[task.tag][1] / 2
        for j, nid in enumerate(chain[1:]):
            g.nodes[nid].x = task.x + 40 + j * _CHAIN_STEP
            g.nodes[nid].y = band + i * 90


def _bounds(n: _Node) -> tuple[float, float, float, float]:
    w, h = _SIZES[n.tag]
    return n.x - w / 2, n.y - h / 2, w, h


def _waypoints(g: _Graph, e: _Edge, k: int) -> list[tuple[float, float]]:
    s, t = g.nodes[e.source], g.nodes[e.target]
    sx, sy, sw, sh = _bounds(s)
    tx, ty, _tw, th = _bounds(t)
    if s.tag == "boundaryEvent":
        return [(s.x, sy + sh), (s.x, t.y), (tx, t.y)] if t.y > s.y + 1 else [(s.x, sy + sh), (s.x, t.y + th),
                                                                                (t.x, ty + th)]
    if t.x > s.x + 1:
        mid = (sx + sw + tx) / 2
        if abs(t.y - s.y) < 1:
            return [(sx + sw, s.y), (tx, t.y)]
        return [(sx + sw, s.y), (mid, s.y), (mid, t.y), (tx, t.y)]
    top = 40 - (k % 6) * 6  # back edges run above the diagram, slightly apart
    return [(s.x, sy), (s.x, top), (t.x, top), (t.x, ty)]


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _fmt(v: float) -> str:
    return f"{v:g}"


def to_bpmn(spec: WorkflowSpec) -> str:
    """The BPMN 2.0 XML of `spec`, with diagram interchange for layout."""
    g = _Graph(spec)
    g.build()
    _layout(g)
    for prefix, ns in (("bpmn", BPMN), ("bpmndi", BPMNDI), ("dc", DC), ("di", DI), ("xsi", XSI)):
        ET.register_namespace(prefix, ns)
    process_id = "Process_" + spec.id.replace(".", "_")
    root = ET.Element(_q(BPMN, "definitions"), {
        "id": "Definitions_" + spec.id.replace(".", "_"), "targetNamespace": TARGET_NAMESPACE,
        "exporter": "shixian", "exporterVersion": spec.version or "unversioned",
    })
    for level, eid in sorted(g.escalations.items()):
        ET.SubElement(root, _q(BPMN, "escalation"), {"id": eid, "name": f"督办 level {level}",
                                                      "escalationCode": f"level_{level}"})
    process = ET.SubElement(root, _q(BPMN, "process"), {"id": process_id, "name": str(spec.name),
                                                          "isExecutable": "false"})
    doc = ET.SubElement(process, _q(BPMN, "documentation"))
    doc.text = f"{spec.id} version {spec.version}; calendar {spec.calendar}" + (
        f"; procedure SLA {g.due_text(spec.sla)}" if spec.sla else "")
    for n in g.nodes.values():
        attrs = {"id": n.id, "name": n.name}
        if n.attached_to:
            attrs["attachedToRef"] = n.attached_to
            attrs["cancelActivity"] = "true" if n.interrupting else "false"
        if n.default:
            attrs["default"] = n.default
        el = ET.SubElement(process, _q(BPMN, n.tag), attrs)
        if n.docs:
            ET.SubElement(el, _q(BPMN, "documentation")).text = n.docs
        for ref in n.incoming:
            ET.SubElement(el, _q(BPMN, "incoming")).text = ref
        for ref in n.outgoing:
            ET.SubElement(el, _q(BPMN, "outgoing")).text = ref
        if n.timer:
            ted = ET.SubElement(el, _q(BPMN, "timerEventDefinition"), {"id": f"{n.id}_timer"})
            expr = ET.SubElement(ted, _q(BPMN, n.timer[0]), {_q(XSI, "type"): "bpmn:tFormalExpression"})
            expr.text = n.timer[1]
        if n.escalation:
            ET.SubElement(el, _q(BPMN, "escalationEventDefinition"), {"id": f"{n.id}_escalation",
                                                                     "escalationRef": n.escalation})
    for e in g.edges:
        attrs = {"id": e.id, "sourceRef": e.source, "targetRef": e.target}
        if e.name:
            attrs["name"] = e.name
        flow = ET.SubElement(process, _q(BPMN, "sequenceFlow"), attrs)
        if e.condition:
            cond = ET.SubElement(flow, _q(BPMN, "conditionExpression"), {_q(XSI, "type"): "bpmn:tFormalExpression"})
            cond.text = e.condition
    diagram = ET.SubElement(root, _q(BPMNDI, "BPMNDiagram"), {"id": "BPMNDiagram_1"})
    plane = ET.SubElement(diagram, _q(BPMNDI, "BPMNPlane"), {"id": "BPMNPlane_1", "bpmnElement": process_id})
    for n in g.nodes.values():
        attrs = {"id": f"{n.id}_di", "bpmnElement": n.id}
        if n.tag == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        shape = ET.SubElement(plane, _q(BPMNDI, "BPMNShape"), attrs)
        x, y, w, h = _bounds(n)
        ET.SubElement(shape, _q(DC, "Bounds"), {"x": _fmt(x), "y": _fmt(y), "width": _fmt(w), "height": _fmt(h)})
    for k, e in enumerate(g.edges):
        edge = ET.SubElement(plane, _q(BPMNDI, "BPMNEdge"), {"id": f"{e.id}_di", "bpmnElement": e.id})
        for wx, wy in _waypoints(g, e, k):
            ET.SubElement(edge, _q(DI, "waypoint"), {"x": _fmt(wx), "y": _fmt(wy)})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["to_bpmn"]
