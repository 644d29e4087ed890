"""Renders notification templates (subject, text, html, markdown) in a sandbox administrators cannot escape.

A template is `templates/NAME.j2` with the blocks `subject`, `text`, `html` and `markdown` (html and markdown
fall back to the text); `_macros.j2` is available in every block as `m`. Missing data renders as a dash.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    ChainableUndefined,
    FileSystemLoader,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from engine.deadline_text import deadline_text
from notifiers.errors import TemplateRenderError

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DASH = "—"
PARTS = ("subject", "text", "html", "markdown")
#: What a line break inside one value becomes, so data never starts a line of its own in text or markdown.
FOLD = "↵"
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
#: Characters markdown (DingTalk, WeCom) reads as markup: links, emphasis, headings, quotes, tables, HTML, code.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()#>|<~])")


@dataclass(frozen=True, slots=True)
class Rendered:
    """The parts of one rendered message; each channel picks the ones it sends."""

    subject: str
    text: str
    html: str
    markdown: str


class DashUndefined(ChainableUndefined):
    """A missing key renders as a dash (lenient with data), chains through `a.b.c`, and iterates as empty."""

    def __str__(self) -> str:
        return DASH

    def __html__(self) -> str:
        return DASH


class _StrictSandbox(ImmutableSandboxedEnvironment):
    """A sandbox that raises on any unsafe attribute instead of answering an undefined value."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is not allowed")


def format_time(value: Any) -> str:
    """An ISO datetime as Chinese Beijing time; midnight is shown as 24:00 of the day before (the law's form)."""
    if value is None or isinstance(value, ChainableUndefined) or value == "":
        return DASH
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return deadline_text(moment)  # the engine's own words for a deadline (what_to_do), so a mail reads one way


def _shown(value: Any) -> str:
    return DASH if isinstance(value, ChainableUndefined) else str(value)


def one_line(value: Any) -> str:
    """Filter `line`: a value for a text part, its line breaks folded into ↵ so it cannot forge lines."""
    return _LINE_BREAK.sub(FOLD, _shown(value))


def markdown_text(value: Any) -> str:
    """Filter `md`: a value for a markdown part, shown as written: on one line, every markup character escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(value))


def _syntax_line(err: TemplateError) -> int:
    return int(getattr(err, "lineno", 0) or 0)


class TemplateRenderer:
    """Loads templates from a directory (default: the shipped ones) and renders them to `Rendered`."""

    def __init__(self, directory: Path | str = TEMPLATES_DIR) -> None:
        self.directory = Path(directory).resolve()
        # Escaping is decided when a template compiles, so the html block (and the macros it calls) is rendered
        # from its own compilation with autoescape on: every value is escaped there whatever the template says.
        # Text, subject and markdown come from a compilation without it; their values go through the filters
        # `line` (text) and `md` (markdown), which keep data on its line and out of the markup.
        self._env = self._sandbox(autoescape=False)
        self._html_env = self._sandbox(autoescape=True)

    def _sandbox(self, autoescape: bool) -> _StrictSandbox:
        env = _StrictSandbox(
            loader=FileSystemLoader(str(self.directory), encoding="utf-8"),
            undefined=DashUndefined,
            autoescape=autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        env.filters["when"] = format_time
        env.filters["line"] = one_line
        env.filters["md"] = markdown_text
        return env

    def names(self) -> list[str]:
        """The message templates available (files starting with `_` are shared parts, not messages)."""
        return sorted(p.stem for p in self.directory.glob("*.j2") if not p.name.startswith("_"))

    def render(self, name: str, data: Mapping[str, Any]) -> Rendered:
        """Render every part of template `name` over `data`; raise TemplateRenderError (name:line) on failure."""
        filename = f"{name}.j2"
        template = self._load(self._env, filename)
        if "subject" not in template.blocks or "text" not in template.blocks:
            raise TemplateRenderError(filename, 1, "a message template needs the blocks `subject` and `text`")
        parts: dict[str, str] = {}
        for part in PARTS:
            if part not in template.blocks:
                continue
            env = self._html_env if part == "html" else self._env
            compiled = self._load(env, filename) if env is not self._env else template
            parts[part] = self._block(env, compiled, part, filename, data)
        text = parts["text"]
        subject = " ".join(parts["subject"].split())
        html = parts.get("html") or f"<pre>{escape(text)}</pre>"
        return Rendered(subject=subject, text=text, html=str(Markup(html)), markdown=parts.get("markdown") or text)

    def _load(self, env: _StrictSandbox, filename: str) -> Template:
        try:
            return env.get_template(filename)
        except TemplateNotFound:
            raise TemplateRenderError(filename, 0, f"no such template; known: {', '.join(self.names())}") from None
        except TemplateSyntaxError as err:
            raise TemplateRenderError(err.name or filename, _syntax_line(err), err.message or str(err)) from err
        except TemplateError as err:
            raise TemplateRenderError(filename, 0, str(err)) from err

    def _block(
        self, env: _StrictSandbox, template: Template, part: str, filename: str, data: Mapping[str, Any]
    ) -> str:
        """One block rendered over `data`, with the macros of the same compilation as `m`."""
        try:
            macros = env.get_template("_macros.j2").module
        except TemplateError as err:
            raise TemplateRenderError("_macros.j2", _syntax_line(err), str(err)) from err
        values: dict[str, Any] = dict(data)
        values.update({"d": dict(data), "m": macros})
        try:
            ctx = template.new_context(values)
            return "".join(template.blocks[part](ctx)).strip()
        except Exception as err:  # any failure inside a template is the template's, reported by line
            kind = "not allowed (sandbox)" if isinstance(err, SecurityError) else type(err).__name__
            where, line = self._locate(env, err, filename)
            raise TemplateRenderError(where, line, f"block {part!r}: {kind}: {err}") from err

    def _locate(self, env: _StrictSandbox, err: BaseException, default: str) -> tuple[str, int]:
        """The innermost template frame of a rendering error, mapped from compiled code back to the .j2 line."""
        where, line = default, 0
        for frame in traceback.extract_tb(err.__traceback__):
            path = Path(frame.filename)
            if path.suffix != ".j2" or path.resolve().parent != self.directory or not frame.lineno:
                continue
            try:
                compiled = env.get_template(path.name)
            except TemplateError:
                continue
            where, line = path.name, compiled.get_corresponding_lineno(frame.lineno)
        return where, line


__all__ = [
    "DASH", "FOLD", "TEMPLATES_DIR", "DashUndefined", "Rendered", "TemplateRenderer", "format_time", "markdown_text",
    "one_line",
]
