"""Draws a workflow as a Mermaid `stateDiagram-v2`: tasks with their assignee and SLA, decisions as choices,
timers and automatic steps, user events with their guards, end states to the final marker.
"""

from __future__ import annotations

from engine.spec import StateKind, StateSpec, WorkflowSpec

#: Words Mermaid reads as syntax: a state so named is drawn under a suffixed id.
_RESERVED = frozenset({"end", "state", "note", "direction", "class", "classdef", "style", "click", "default"})


def _id(name: str) -> str:
    return f"{name}_" if name.lower() in _RESERVED else name


def _clean(text: str) -> str:
    """Mermaid labels end at a line break and treat some characters as syntax: keep them plain."""
    return " ".join(text.replace(";", ",").replace("#", "").replace("\"", "'").split())


def _describe(st: StateSpec) -> str:
    title = str(st.title) if st.title else st.name
    parts = [title]
    if st.kind is StateKind.TASK:
        parts.append(st.assignee or "")
        if st.sla is not None:
            due = st.sla.due.duration or f"end of {st.sla.due.date_variable}"
            parts.append(f"SLA {due}")
    elif st.kind is StateKind.AUTO:
        parts.append(f"auto: {st.hook}")
    elif st.kind is StateKind.TIMER:
        parts.append(f"wait {st.after}" if st.after else f"until end of {st.at_variable}")
    elif st.kind is StateKind.END:
        parts.append(f"end: {st.outcome}")
    return _clean(" · ".join(p for p in parts if p))


def to_mermaid(spec: WorkflowSpec) -> str:
    """The Mermaid text of `spec` (paste it into any Mermaid renderer)."""
    lines = ["stateDiagram-v2", f"    %% {spec.id} version {spec.version}: {_clean(str(spec.name))}"]
    for name, st in spec.states.items():
        if st.kind is StateKind.DECISION:
            lines.append(f"    state {_id(name)} <<choice>>")
        else:
            lines.append(f"    {_id(name)}: {_describe(st)}")
    lines.append(f"    [*] --> {_id(spec.initial)}")
    for name, st in spec.states.items():
        if st.kind is StateKind.DECISION:
            for br in st.branches:
                lines.append(f"    {_id(name)} --> {_id(br.to)}: {_clean(br.when)}")
            if st.default:
                lines.append(f"    {_id(name)} --> {_id(st.default)}: otherwise")
        elif st.kind is StateKind.AUTO and st.next:
            lines.append(f"    {_id(name)} --> {_id(st.next)}: hook done")
        elif st.kind is StateKind.TIMER and st.next:
            lines.append(f"    {_id(name)} --> {_id(st.next)}: time up")
    for t in spec.transitions:
        label = t.event + (f" [{t.guard}]" if t.guard else "")
        lines.append(f"    {_id(t.source)} --> {_id(t.dest)}: {_clean(label)}")
    for name in spec.end_states():
        lines.append(f"    {_id(name)} --> [*]")
    return "\n".join(lines) + "\n"


__all__ = ["to_mermaid"]
