"""Templates: every required name renders in Chinese, missing data shows a dash, the sandbox holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from notifiers.errors import TemplateRenderError
from notifiers.rendering import DASH, TEMPLATES_DIR, TemplateRenderer, format_time
from tests.notifiers.conftest import SAMPLE_DATA

REQUIRED = [
    "sla_warning", "sla_breach", "sla_escalation", "supervisor_digest", "daily_digest", "task_assigned",
    "request_granted", "request_refused", "returned_for_correction", "publicity_started", "objection_raised",
    "procedure_completed", "recurring_duty_due",
]


@pytest.fixture
def custom(tmp_path: Path) -> Path:
    """A copy of the shipped templates that a test may add to."""
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, target)
    return target


def test_every_required_template_exists() -> None:
    """The shipped templates include every name the workflows and the SLA clocks use."""
    assert set(REQUIRED) <= set(TemplateRenderer().names())


@pytest.mark.parametrize("name", [n for n in REQUIRED if "digest" not in n])
def test_item_templates_name_procedure_key_department_step_and_due(name: str) -> None:
    """Each single-item message names the procedure, business key, department, step, due time and what to do."""
    rendered = TemplateRenderer().render(name, SAMPLE_DATA)
    for part in (rendered.text, rendered.html, rendered.markdown):
        for needle in ("数据需求申请", "GX-2026-0042", "柳州市公安局", "提供部门审批", "2026年11月25日 24:00"):
            assert needle in part, (name, needle)
    assert "登录平台完成审批" in rendered.text
    assert rendered.subject and "\n" not in rendered.subject


@pytest.mark.parametrize("name", ["supervisor_digest", "daily_digest"])
def test_digest_templates_list_every_item(name: str) -> None:
    """A digest lists each item's business key and the count."""
    items = [dict(SAMPLE_DATA, business_key=f"GX-2026-{n:04d}") for n in range(1, 8)]
    rendered = TemplateRenderer().render(name, {"items": items, "count": 7, "date": "2026-11-26"})
    assert all(f"GX-2026-{n:04d}" in rendered.text for n in range(1, 8))
    assert all(f"GX-2026-{n:04d}" in rendered.html for n in range(1, 8))
    assert "7" in rendered.subject


def test_missing_keys_render_a_dash() -> None:
    """Data without the usual keys still renders; each missing value shows as a dash."""
    rendered = TemplateRenderer().render("sla_warning", {"business_key": "LZ-1"})
    assert "LZ-1" in rendered.subject
    assert f"流程：{DASH}" in rendered.text
    assert f"办理时限：{DASH}" in rendered.text


def test_html_escapes_data() -> None:
    """Data is escaped in the HTML part and left as written in the text part."""
    rendered = TemplateRenderer().render("request_refused", dict(SAMPLE_DATA, reason="<script>x</script> & y"))
    assert "&lt;script&gt;" in rendered.html and "<script>" not in rendered.html
    assert "<script>x</script> & y" in rendered.text


def test_due_time_shows_midnight_as_24_00_of_the_previous_day() -> None:
    """A due time at 00:00 is shown as 24:00 of the day before, in Beijing time."""
    assert format_time("2026-11-26T00:00:00+08:00") == "2026年11月25日 24:00"
    assert format_time("2026-11-26T09:30:00+00:00") == "2026年11月26日 17:30"
    assert format_time(None) == DASH


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "cycler.__init__.__globals__",
        "m.__class__",
        "d.__class__.__subclasses__()",
        "lipsum.__globals__",
        "(1).__class__.__base__",
        "missing_key.__class__",
    ],
)
def test_templates_cannot_reach_python_internals(custom: Path, expression: str) -> None:
    """Reaching for Python internals raises, reported as a sandbox violation with the template's name and line."""
    (custom / "evil.j2").write_text(
        "{% block subject %}x{% endblock %}\n{% block text %}\nline two\n{{ " + expression + " }}\n{% endblock %}\n",
        encoding="utf-8",
    )
    with pytest.raises(TemplateRenderError) as caught:
        TemplateRenderer(custom).render("evil", SAMPLE_DATA)
    assert caught.value.template == "evil.j2"
    assert caught.value.line == 4
    assert "not allowed (sandbox)" in caught.value.detail


def test_templates_cannot_mutate_data(custom: Path) -> None:
    """The immutable sandbox refuses to change the data it renders."""
    (custom / "mutate.j2").write_text(
        "{% block subject %}{{ items.append(1) }}{% endblock %}{% block text %}t{% endblock %}", encoding="utf-8"
    )
    with pytest.raises(TemplateRenderError) as caught:
        TemplateRenderer(custom).render("mutate", {"items": []})
    assert caught.value.line == 1


def test_syntax_error_names_template_and_line(custom: Path) -> None:
    """A template that does not parse is reported with its file name and line."""
    (custom / "broken.j2").write_text(
        "{% block subject %}s{% endblock %}\n{% block text %}\n\n{% if %}\n{% endblock %}\n", encoding="utf-8"
    )
    with pytest.raises(TemplateRenderError) as caught:
        TemplateRenderer(custom).render("broken", SAMPLE_DATA)
    assert (caught.value.template, caught.value.line) == ("broken.j2", 4)
    assert "broken.j2:4" in str(caught.value)


def test_unknown_template_lists_known_ones() -> None:
    """Asking for a template that does not exist lists the available names."""
    with pytest.raises(TemplateRenderError) as caught:
        TemplateRenderer().render("sla_warnnig", SAMPLE_DATA)
    assert "sla_warning" in caught.value.detail


def test_subject_leaves_out_an_unknown_due_time() -> None:
    """Without a due time the assignment subject says nothing of it rather than showing a dash."""
    rendered = TemplateRenderer().render("task_assigned", dict(SAMPLE_DATA, due=None))
    assert "时限" not in rendered.subject and DASH not in rendered.subject
    assert "GX-2026-0042" in rendered.subject
