"""The demo's closing figures: one row per procedure, read back from the database, and the table printed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ProcedureRow:
    workflow_id: str
    name: str
    started: int = 0
    completed: int = 0
    on_time: int = 0
    late: int = 0
    refused: int = 0
    open: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: dict[int, int] = field(default_factory=dict)
    timer_moves: int = 0
    mails: int = 0


def procedure_rows(instances: Sequence[Any], clocks: Sequence[Any], events: Sequence[Any], outbox: Sequence[Any],
                   timer_moves: dict[str, int], names: dict[str, str]) -> list[ProcedureRow]:
    """Per procedure: cases started and completed, completed on time (no clock breached) or late, alerts, mail."""
    late_instances = {c.instance_id for c in clocks if c.breached}
    rows: dict[str, ProcedureRow] = {}

    def row(wf: str) -> ProcedureRow:
        return rows.setdefault(wf, ProcedureRow(wf, names.get(wf, wf)))

    for inst in instances:
        r = row(inst.workflow_id)
        r.started += 1
        if inst.status == "completed":
            r.completed += 1
            r.refused += inst.outcome in ("refused", "rejected")
            if inst.instance_id in late_instances:
                r.late += 1
            else:
                r.on_time += 1
        elif inst.status == "running":
            r.open += 1
    levels: dict[str, Counter[int]] = {}
    for e in events:
        r = row(e.workflow_id)
        if e.kind == "warning":
            r.warnings += 1
        elif e.kind == "breach":
            r.breaches += 1
        elif e.kind == "escalation":
            levels.setdefault(e.workflow_id, Counter())[e.level] += 1
    for wf, counts in levels.items():
        row(wf).escalations = dict(sorted(counts.items()))
    for m in outbox:
        if m.status == "sent" and m.workflow_id is not None:
            row(m.workflow_id).mails += 1
    for wf, n in timer_moves.items():
        row(wf).timer_moves = n
    return sorted(rows.values(), key=lambda r: r.workflow_id)


def totals(rows: Sequence[ProcedureRow]) -> ProcedureRow:
    total = ProcedureRow("all", "合计")
    levels: Counter[int] = Counter()
    for r in rows:
        for name in ("started", "completed", "on_time", "late", "refused", "open", "warnings", "breaches",
                     "timer_moves", "mails"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        levels.update(r.escalations)
    total.escalations = dict(sorted(levels.items()))
    return total


def table(rows: Sequence[ProcedureRow]) -> str:
    """A fixed-width table, one line per procedure and a total line."""
    top = max((lvl for r in rows for lvl in r.escalations), default=2)
    head = ["procedure", "started", "done", "on time", "late", "refused", "open", "warn", "breach",
            *[f"esc L{n}" for n in range(1, top + 1)], "timer", "mails"]
    lines = []
    body = [*rows, totals(rows)]
    width = max(len(r.workflow_id) for r in body)
    lines.append(f"{head[0]:<{width}}" + "".join(f"{h:>9}" for h in head[1:]))
    for r in body:
        cells = [r.started, r.completed, r.on_time, r.late, r.refused, r.open, r.warnings, r.breaches,
                 *[r.escalations.get(n, 0) for n in range(1, top + 1)], r.timer_moves, r.mails]
        if r.workflow_id == "all":
            lines.append("-" * len(lines[0]))
        lines.append(f"{r.workflow_id:<{width}}" + "".join(f"{c:>9}" for c in cells))
    return "\n".join(lines)


def as_dict(r: ProcedureRow) -> dict[str, Any]:
    out = asdict(r)
    out["escalations"] = {str(k): v for k, v in r.escalations.items()}
    return out
