"""The report's three formats with hostile business keys and department names: no formula, no markup, no new column."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from functools import partial
from itertools import groupby

import pytest
from lxml import html as lxml_html

from calendars import get_calendar
from engine.clock import SHANGHAI
from engine.reporting.figures import MonthReport, StepRecord, build_month_report
from engine.reporting.render import csv_cell, csv_code, md_cell, render
from engine.sla import SlaCalculator

FORMULA_KEY = '=HYPERLINK("http://evil.example","点击")'
PIPE_KEY = "K|<script>alert(1)</script>"
HOSTILE_DEPARTMENT = "@SUM(1+1)|<img src=x onerror=alert(1)>\n| 伪造 | 行 |"
HOSTILE_DEPARTMENT_CODE = "-2+3"
KEYS = (FORMULA_KEY, PIPE_KEY, "+86 771 1234567", "\tTAB\\", "\rCR [点击](http://evil.example)")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def report() -> MonthReport:
    """One open overdue step per hostile key, all answerable by a department with a hostile code and name."""
    records = [
        StepRecord(workflow_id="lz.data_request", workflow_name="数据|申请", instance_id=f"i{n}", business_key=key,
                   state="review", state_title="审批<b>", department=HOSTILE_DEPARTMENT_CODE,
                   department_name=HOSTILE_DEPARTMENT, started=at(2026, 10, 20, 9), due=at(2026, 10, 23),
                   finished=None, breached=True, escalation_level=1)
        for n, key in enumerate(KEYS)
    ]
    return build_month_report(records, "2026-10", at(2026, 10, 31, 12), get_calendar("CN").working_days_between,
                              late_by=partial(SlaCalculator().late_by, "CN"))


def _gfm_cells(line: str) -> list[str]:
    """A Markdown table row split as GitHub's table extension splits it: at every pipe not escaped by `\\`."""
    cells, current, i = [], "", 0
    body = line.strip()
    assert body.startswith("|") and body.endswith("|"), line
    body = body[1:-1]
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            current += body[i:i + 2]
            i += 2
            continue
        if body[i] == "|":
            cells.append(current)
            current = ""
        else:
            current += body[i]
        i += 1
    return [*cells, current]


def test_csv_cells_never_start_a_formula(report: MonthReport) -> None:
    """Every text cell a spreadsheet would run as a formula starts with `'`; keys keep their text after it."""
    rows = list(csv.reader(io.StringIO(render(report, "csv"), newline="")))
    header, body = rows[0], rows[1:]
    assert all(len(r) == len(header) for r in body)
    cells = [cell for r in body for cell in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    items = [dict(zip(header, r, strict=True)) for r in body if r[0] == "open_item"]
    assert sorted(i["business_key"] for i in items) == sorted([*("'" + k for k in KEYS if k != PIPE_KEY), PIPE_KEY])
    assert {i["department"] for i in items} == {"'" + HOSTILE_DEPARTMENT_CODE}
    assert {i["department_name"] for i in items} == {"'" + HOSTILE_DEPARTMENT}


def test_csv_numbers_stay_numbers() -> None:
    """Only text is prefixed: counts and rates, negative or not, are written as they are."""
    assert [csv_cell(v) for v in (-1, 0.25, 3, "", "GX-1", "-1")] == [-1, 0.25, 3, "", "GX-1", "'-1"]


def test_markdown_rows_keep_their_columns_and_carry_no_markup(report: MonthReport) -> None:
    """Every table row has as many cells as its header, and no tag or link from the data survives."""
    text = render(report, "md")
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "](http" not in text.replace("\\](http", "")
    tables = [list(rows) for is_row, rows in groupby(text.splitlines(), lambda line: line.startswith("|"))
              if is_row]
    assert len(tables) == 3
    for table in tables:
        widths = {len(_gfm_cells(line)) for line in table}
        assert widths == {len(_gfm_cells(table[0]))}, table
    items = tables[2][2:]
    assert len(items) == len(KEYS)
    assert {_gfm_cells(line)[1].strip() for line in items} >= {md_cell(PIPE_KEY), md_cell(FORMULA_KEY)}


def test_a_markdown_cell_reads_back_as_its_text() -> None:
    """Escaping loses nothing: undoing the backslashes and entities gives the text, line breaks as spaces."""
    def unescape(cell: str) -> str:
        out, i = "", 0
        while i < len(cell):
            if cell[i] == "\\":
                out, i = out + cell[i + 1], i + 2
            else:
                out, i = out + cell[i], i + 1
        return out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    for text in (PIPE_KEY, "a\\|b", "x & y", "第一行\r\n第二行", "[点击](http://evil.example)"):
        assert unescape(md_cell(text)) == " ".join(text.split())


def test_html_shows_hostile_text_as_text(report: MonthReport) -> None:
    """The HTML page has no element from the data, and the keys and department name read back as written."""
    page = lxml_html.fromstring(render(report, "html"))
    assert page.xpath("//script") == [] and page.xpath("//img") == [] and page.xpath("//td//b") == []
    def lines(text: str) -> str:  # HTML reads a carriage return as a line feed
        return text.replace("\r\n", "\n").replace("\r", "\n")

    cells = {lines(td.text_content()) for td in page.xpath("//h2[.='数据监督员待督办事项']/following::table[1]//td")}
    assert {lines(k) for k in KEYS} <= cells
    assert HOSTILE_DEPARTMENT in cells


def test_an_all_digit_credit_code_stays_text_in_a_spreadsheet() -> None:
    """An 18-digit code (and a numeric business key) is written `="..."`, which Excel keeps as the text instead
    of 1.14502E+17; a code with letters is written as it is, and the formula guard still prefixes other text."""
    code = "114502000009000010"
    rec = StepRecord(workflow_id="gx.data_request", workflow_name="申请", instance_id="ab12", business_key="20261001",
                     state="review", state_title="审批", department=code, department_name="某局",
                     started=at(2026, 10, 20, 9), due=at(2026, 10, 23), finished=None, breached=True)
    rep = build_month_report([rec], "2026-10", at(2026, 10, 31, 12), get_calendar("CN").working_days_between,
                             late_by=partial(SlaCalculator().late_by, "CN"))
    text = render(rep, "csv")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    item = next(r for r in rows if r["section"] == "open_item")
    department = next(r for r in rows if r["section"] == "department")
    assert (item["department"], department["key"], item["business_key"]) == (f'="{code}"', f'="{code}"',
                                                                             '="20261001"')
    assert f'"=""{code}"""' in text.splitlines()[1]
    assert (item["instance_id"], item["key"]) == ("ab12", "gx.data_request")
    assert [csv_code(v) for v in ("91450200MA5K000001", "1E5", "=1+1", "-1")] == [
        "91450200MA5K000001", '="1E5"', "'=1+1", "'-1"]
