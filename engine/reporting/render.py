"""Renders a month report as Markdown, CSV or a self-contained HTML page with a chart readable at a glance."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from engine.deadline_text import deadline_plain
from engine.reporting.figures import Figures, MonthReport

FORMATS = ("md", "csv", "html")
TITLE = "政务数据调度督查月报"
_BOM = "\ufeff".encode()

#: 到期前撤销: steps of instances cancelled before the step fell due, in neither 按时 nor 超时 (nor 到期步骤)
_COLUMNS = ("到期步骤", "按时", "超时", "未办结超时", "到期前撤销", "预警", "超时告警", "督办", "平均用时(工作日)",
            "按时率")


def _cells(fig: Figures) -> list[str]:
    avg = "-" if fig.average_working_days is None else f"{fig.average_working_days:.2f}"
    rate = "-" if fig.on_time_rate is None else f"{fig.on_time_rate:.0%}"
    return [str(fig.due), str(fig.on_time), str(fig.late), str(fig.open_overdue), str(fig.cancelled),
            str(fig.warnings), str(fig.breaches), str(fig.escalations), avg, rate]


def render(report: MonthReport, fmt: str) -> str:
    """The report in `fmt` (one of FORMATS); ValueError lists the formats otherwise."""
    if fmt == "md":
        return render_markdown(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def save(report: MonthReport, fmt: str, path: Path) -> None:
    """Write the report to a file; a CSV starts with a byte-order mark, since spreadsheet programs on Chinese
    Windows read a file as UTF-8 only then.

    The text goes to a temporary file beside `path`, which is renamed over it once complete: a failed write
    (a full disk, an interrupted job) leaves the earlier file as it was and no half report. OSError when the
    folder is missing or not writable.
    """
    data = render(report, fmt).encode("utf-8-sig" if fmt == "csv" else "utf-8")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        # created as an ordinary file would be (the umask applies), not owner-only as mkstemp makes it
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileNotFoundError):  # a replaced report keeps its permissions
            os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def is_report(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a report `render` writes, in any of its formats."""
    text = head.removeprefix(_BOM).decode("utf-8", errors="ignore")
    return (text.startswith(f"# {TITLE}") or text.startswith(",".join(_CSV_FIGURES[:3]) + ",")
            or (text.lower().startswith("<!doctype html>") and f"<title>{TITLE}" in text))


_MD_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", "[": "\\[", "]": "\\]", "`": "\\`",
                             "&": "&amp;", "<": "&lt;", ">": "&gt;"})


def md_cell(text: object) -> str:
    """`text` as one Markdown table cell: a `|` cannot open a column, `<...>` is no HTML, `[...](...)` no link, a
    line break does not end the row (business keys and department names come from users and instance data)."""
    return " ".join(str(text).translate(_MD_ESCAPES).split())  # split(): any run of spaces or line breaks


def _md_table(first: str, rows: Sequence[Figures]) -> list[str]:
    out = [f"| {first} | " + " | ".join(_COLUMNS) + " |", "|---|" + "---:|" * len(_COLUMNS)]
    out += ["| " + " | ".join(md_cell(c) for c in (fig.title, *_cells(fig))) + " |" for fig in rows]
    return out


def render_markdown(report: MonthReport) -> str:
    lines = [f"# {TITLE} {report.month}", "", f"统计截至 {deadline_plain(report.as_of)}", ""]
    lines += ["## 按部门", "", *_md_table("部门", [*report.by_department, report.totals]), ""]
    lines += ["## 按流程", "", *_md_table("流程", [*report.by_procedure, report.totals]), ""]
    lines += ["## 数据监督员待督办事项", ""]
    if not report.open_items:
        lines.append("无。")
    else:
        lines.append("| 流程 | 业务编号 | 部门 | 环节 | 到期时间 | 超时(工作日) | 督办级别 |")
        lines.append("|---|---|---|---|---|---:|---:|")
        for item in report.open_items:
            r = item.record
            cells = (r.workflow_name, r.business_key, r.department_name, r.state_title, deadline_plain(r.due),
                     item.late_working_days, r.escalation_level)
            lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


_CSV_FIGURES = ["section", "key", "title", "due", "on_time", "late", "open_overdue", "cancelled", "warnings",
                "breaches", "escalations", "average_working_days", "on_time_rate"]
_CSV_ITEMS = ["business_key", "instance_id", "state", "department", "department_name", "due_at",
              "late_working_days", "escalation_level"]
#: A spreadsheet takes a cell starting with one of these for a formula (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


#: A text a spreadsheet would read as a number: an 18-digit credit code would show as 1.14502E+17, losing digits.
_NUMBER_LIKE = re.compile(r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?")


def csv_cell(value: object) -> object:
    """A text that a spreadsheet would run as a formula (`=HYPERLINK(...)`), prefixed with `'` so that it shows
    as text; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_code(value: str) -> str:
    """An identifier (credit code, business key) as a cell a spreadsheet keeps as text: one that would read as a
    number is written `="..."`, a formula giving back the text. That form only ever wraps digits, a point and an
    exponent, so it runs nothing; any other text goes through `csv_cell`'s guard."""
    if _NUMBER_LIKE.fullmatch(value):
        return f'="{value}"'
    return str(csv_cell(value))


@dataclass(frozen=True, slots=True)
class _Code:
    """A cell holding an identifier, written by `csv_code`."""

    value: str

    @property
    def text(self) -> str:
        return csv_code(self.value)


def render_csv(report: MonthReport) -> str:
    """One table for a spreadsheet: the figures by department, by procedure and in total, then the open items
    the supervisors must chase (section `open_item`), under one header so that every row reads alike."""
    buf = io.StringIO()
    # CRLF as RFC 4180 and spreadsheets write it; with it the writer also quotes a cell holding a lone CR, which
    # a spreadsheet would otherwise take for the end of the row
    writer = csv.writer(buf, lineterminator="\r\n")

    def row(cells: Sequence[object]) -> None:
        writer.writerow([c.text if isinstance(c, _Code) else csv_cell(c) for c in cells])

    row(_CSV_FIGURES + _CSV_ITEMS)
    blank_items = [""] * len(_CSV_ITEMS)
    for section, rows in (("department", report.by_department), ("procedure", report.by_procedure),
                          ("total", (report.totals,))):
        for fig in rows:
            row([section, _Code(fig.key), fig.title, fig.due, fig.on_time, fig.late, fig.open_overdue,
                 fig.cancelled, fig.warnings, fig.breaches, fig.escalations,
                 "" if fig.average_working_days is None else fig.average_working_days,
                 "" if fig.on_time_rate is None else fig.on_time_rate, *blank_items])
    blank_figures = [""] * (len(_CSV_FIGURES) - 3)
    for item in report.open_items:
        r = item.record
        row(["open_item", _Code(r.workflow_id), r.workflow_name, *blank_figures, _Code(r.business_key),
             _Code(r.instance_id), r.state_title, _Code(r.department), r.department_name, deadline_plain(r.due),
             item.late_working_days, r.escalation_level])
    return buf.getvalue()


def _bar_chart(rows: Sequence[Figures]) -> str:
    """Horizontal stacked bars per department: on time (green), finished late (red), open past due (amber)."""
    bar_h, gap, label_w, chart_w = 22, 8, 260, 520
    scale = max((f.on_time + f.late_finished + f.open_overdue for f in rows), default=0) or 1
    height = len(rows) * (bar_h + gap) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + chart_w + 60}" height="{height}" '
             'role="img" aria-label="按部门的按时与超时步骤">']
    for i, fig in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h - 6}" text-anchor="end" font-size="13">'
                     f"{escape(fig.title)}</text>")
        x = float(label_w)
        for count, colour, name in ((fig.on_time, "#2e7d32", "按时"), (fig.late_finished, "#c62828", "超时办结"),
                                    (fig.open_overdue, "#f9a825", "未办结超时")):
            if count <= 0:
                continue
            w = chart_w * count / scale
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                         f"<title>{escape(fig.title)} {name} {count}</title></rect>")
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + bar_h - 6}" font-size="12">{fig.on_time}/{fig.due}</text>')
    legend_y = height - 12
    for j, (colour, name) in enumerate((("#2e7d32", "按时"), ("#c62828", "超时办结"), ("#f9a825", "未办结超时"))):
        lx = label_w + j * 120
        parts.append(f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 16}" y="{legend_y}" font-size="12">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _html_table(first: str, rows: Sequence[Figures]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in (first, *_COLUMNS))
    body = []
    for fig in rows:
        cls = ' class="late"' if fig.late or fig.open_overdue else ""
        cells = "".join(f"<td>{escape(c)}</td>" for c in _cells(fig))
        body.append(f"<tr{cls}><th>{escape(fig.title)}</th>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: MonthReport) -> str:
    items = "".join(
        f"<tr><td>{escape(i.record.workflow_name)}</td><td>{escape(i.record.business_key)}</td>"
        f"<td>{escape(i.record.department_name)}</td><td>{escape(i.record.state_title)}</td>"
        f"<td>{escape(deadline_plain(i.record.due))}</td><td>{i.late_working_days}</td>"
        f"<td>{i.record.escalation_level}</td></tr>"
        for i in report.open_items
    ) or '<tr><td colspan="7">无</td></tr>'
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{TITLE} {escape(report.month)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; }}
td {{ text-align: right; }} tr.late th {{ color: #c62828; }} thead th {{ background: #f0f0f0; }}
</style></head><body>
<h1>{TITLE} {escape(report.month)}</h1>
<p>统计截至 {escape(deadline_plain(report.as_of))}（北京时间）。
到期步骤 {report.totals.due} 个，按时 {report.totals.on_time} 个，超时 {report.totals.late} 个，
未办结超时 {report.totals.open_overdue} 个；到期前撤销的步骤 {report.totals.cancelled} 个，不计入按时与超时。</p>
<h2>按部门</h2>
{_bar_chart(report.by_department)}
{_html_table("部门", [*report.by_department, report.totals])}
<h2>按流程</h2>
{_html_table("流程", [*report.by_procedure, report.totals])}
<h2>数据监督员待督办事项</h2>
<table><thead><tr><th>流程</th><th>业务编号</th><th>部门</th><th>环节</th><th>到期时间</th><th>超时(工作日)</th>
<th>督办级别</th></tr></thead><tbody>{items}</tbody></table>
</body></html>
"""
