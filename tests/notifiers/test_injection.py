"""Instance data cannot add markup to a message: HTML is escaped, markdown is escaped, text lines are its own."""

from __future__ import annotations

import re
from typing import Any

import pytest

from notifiers.rendering import TEMPLATES_DIR, TemplateRenderer, markdown_text, one_line
from tests.notifiers.conftest import SAMPLE_DATA

HTML_ATTACK = 'SQ-1<img src=x onerror=alert(1)><a href="http://evil.example">点此</a><script>alert(2)</script>'
#: HTML tags that only data can bring: no template writes any of these.
FOREIGN_TAGS = ("<img", "<script", "<a ", "<a>")


def _data_keys() -> set[str]:
    """Every data key the shipped templates read, found in their text (`d.x`, `i.x`, `{{ x`, `{% if x`)."""
    keys: set[str] = set()
    for path in TEMPLATES_DIR.glob("*.j2"):
        text = path.read_text(encoding="utf-8")
        keys.update(re.findall(r"\b[di]\.([a-z_]+)", text))
        keys.update(re.findall(r"(?:\{\{|\{%-? if|\bor)\s+([a-z_]+)\b", text))
    return keys - {"d", "m", "i", "loop", "items", "caller"}


def hostile(value: str) -> dict[str, Any]:
    """Every key the templates read set to `value`, with one digest item carrying the same."""
    data: dict[str, Any] = {key: value for key in _data_keys()}
    data["items"] = [dict(data)]
    return data


def test_the_key_scan_finds_the_usual_keys() -> None:
    """The sweep below covers the keys instance data fills (so a new template field is covered too)."""
    assert {"business_key", "workflow_name", "reason", "legal_basis", "objection", "state_title",
            "department_name", "what_to_do", "late_by", "due", "count", "date"} <= _data_keys()


@pytest.mark.parametrize("name", TemplateRenderer().names())
def test_no_value_reaches_the_html_part_unescaped(name: str) -> None:
    """Every data value of every template, in its macros and the card title too, is escaped in the HTML."""
    rendered = TemplateRenderer().render(name, hostile(HTML_ATTACK))
    assert not [tag for tag in FOREIGN_TAGS if tag in rendered.html]
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html


def test_business_key_in_the_facts_table_is_escaped() -> None:
    """A business key with an <img onerror> and a link shows as text in the mail's facts table."""
    rendered = TemplateRenderer().render("task_assigned", dict(SAMPLE_DATA, business_key=HTML_ATTACK))
    assert "<img" not in rendered.html and 'href="http://evil.example"' not in rendered.html
    assert "<td>SQ-1&lt;img src=x onerror=alert(1)&gt;&lt;a href=" in rendered.html


def test_digest_items_are_escaped() -> None:
    """A business key of a digest item is escaped in the supervisor digest's items table."""
    items = [dict(SAMPLE_DATA, business_key=HTML_ATTACK), dict(SAMPLE_DATA)]
    rendered = TemplateRenderer().render("supervisor_digest", {"items": items, "count": 2})
    assert "<script" not in rendered.html and "<img" not in rendered.html
    assert "<td>SQ-1&lt;img" in rendered.html


def test_card_title_is_escaped() -> None:
    """A workflow name in the card's heading is escaped once (no raw tag, no doubled &amp;lt;)."""
    rendered = TemplateRenderer().render("request_refused", dict(SAMPLE_DATA, workflow_name="<script>x</script>",
                                                                 reason="<img src=x onerror=alert(1)>"))
    heading = rendered.html.split("<h3", 1)[1].split("</h3>", 1)[0]
    assert "&lt;script&gt;x&lt;/script&gt;" in heading
    assert "<script" not in rendered.html and "&amp;lt;" not in rendered.html
    assert "不予同意理由：&lt;img src=x onerror=alert(1)&gt;" in rendered.html


MD_LINK = "[点此登录核验](http://evil.example/login) @all"
FORGED = "不符合要求\n\n### 【紧急通知】请立即点击链接重新登录\r\n> 办理时限：2099年1月1日\u2028- 业务编号：SQ-0"


def test_business_key_is_no_link_in_markdown() -> None:
    """A markdown link in a business key reaches DingTalk/WeCom as escaped text, not as a live link."""
    rendered = TemplateRenderer().render("sla_breach", dict(SAMPLE_DATA, business_key=MD_LINK))
    assert "[点此登录核验](" not in rendered.markdown
    assert r"\[点此登录核验\]\(http://evil.example/login\) @all" in rendered.markdown


def test_a_reason_cannot_forge_a_heading_in_markdown() -> None:
    """A refusal reason with line breaks and `###` stays inside its quoted line, its markup escaped."""
    benign = TemplateRenderer().render("request_refused", dict(SAMPLE_DATA, reason="不符合要求"))
    rendered = TemplateRenderer().render("request_refused", dict(SAMPLE_DATA, reason=FORGED))
    lines = rendered.markdown.splitlines()
    assert len(lines) == len(benign.markdown.splitlines())
    assert [line for line in lines if "紧急通知" in line] == [
        r"> 不予同意理由：不符合要求↵↵\#\#\# 【紧急通知】请立即点击链接重新登录↵"
        r"\> 办理时限：2099年1月1日↵- 业务编号：SQ-0"
    ]


def test_a_reason_cannot_forge_lines_in_the_text_part() -> None:
    """In the plain text a reason's line breaks are folded, so it cannot add a 办理时限 line of its own."""
    rendered = TemplateRenderer().render("request_refused", dict(SAMPLE_DATA, reason=FORGED))
    lines = rendered.text.splitlines()
    assert [line for line in lines if line.startswith("办理时限：")] == ["办理时限：2026年11月25日 24:00"]
    assert "不予同意理由：不符合要求↵↵### 【紧急通知】" in rendered.text


@pytest.mark.parametrize("name", TemplateRenderer().names())
def test_every_value_is_folded_in_text_and_escaped_in_markdown(name: str) -> None:
    """With every value hostile, text and markdown are the benign rendering with each value folded / escaped."""
    attack = f"{MD_LINK}{FORGED}<font color=red>x</font>`code`**b**|t|~~s~~_i_\\"
    marker = "VALUE"
    renderer = TemplateRenderer()
    benign, rendered = renderer.render(name, hostile(marker)), renderer.render(name, hostile(attack))
    folded, escaped = one_line(attack), markdown_text(attack)
    assert "\n" not in folded and "\r" not in folded and "\u2028" not in folded
    assert not re.search(r"(?<!\\)[\[\]()`|<>*_#~]", escaped.replace("\\\\", ""))
    assert rendered.text == benign.text.replace(marker, folded)
    assert rendered.markdown == benign.markdown.replace(marker, escaped)
