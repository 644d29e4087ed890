"""What a YAML syntax error in a definition usually is, said where it is: full-width punctuation or space, a tab,
an indentation that lines up with nothing above. The loader (engine.loader) adds these to the parser's words."""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

_FULL_WIDTH_KEY = re.compile(r"^[ \t]*(?:- )?([^\s:#'\"{}\[\],][^:#{}\[\],]*?)[ \t]*：")


def syntax_hint(text: str, line: int, opened: int = 0) -> tuple[int, int, str] | None:
    """The usual slips behind a YAML syntax error, said plainly: a full-width colon after a key (typed with a
    Chinese input method), a full-width space (U+3000) in the indentation or after a key's colon, or a tab in
    the indentation. The parser notices them a line late or in its own words. Looks at the line it stopped on
    and the two before it, and for a U+3000 back to line `opened`, where the collection it was reading began
    (a key the U+3000 moved out of a mapping closes it only at the next key); lines count from 1."""
    lines = text.splitlines()
    for index in range(min(line, len(lines)) - 1, max(line - 4, -1), -1):
        found = _FULL_WIDTH_KEY.match(lines[index])
        if found:
            return (index + 1, found.end(),
                    f"key {found.group(1)!r} is followed by a full-width colon '：': YAML needs the ASCII ':' "
                    "and a space after it")
        wide = _ideographic_space(lines[index])
        if wide is not None:
            return (index + 1, *wide)
    if 0 < line <= len(lines):
        indent = lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip(" \t"))]
        if "\t" in indent:
            return (line, indent.index("\t") + 1, "a tab in the indentation: YAML indents with spaces only")
    for index in range(min(line, len(lines)) - 4, opened - 2 if opened else -1, -1):
        wide = _ideographic_space(lines[index])
        if wide is not None:
            return (index + 1, *wide)
    return None


def _value_starts(before: str) -> bool:
    """Whether a value starts after `before` on its line: nothing, or a key's ':', a list's '-' or a flow
    collection's '[', '{' or ','. A quote or bracket there is YAML structure; elsewhere it is text."""
    stripped = before.rstrip()
    return not stripped or stripped[-1] in ":-[{,"


#: What a full-width character a parser stumbled over should have been, where it stands for YAML structure.
_STRUCTURE = {**{c: f"full-width {c!r} between items: use ASCII ','" for c in "，、"},
              "：": "full-width '：' after a key: use ASCII ':' and a space",
              **{c: f"curly quote {c!r} used as a YAML quote: use ASCII quotes ' or \"" for c in "‘’“”"}}


def structure_hint(text: str, line: int, col: int) -> tuple[int, int, str] | None:
    """A full-width comma, colon or curly quote standing for YAML structure before the place the parser gave
    up on, in the same item of a flow collection or the same value: `["22"， "23"]`, `{a: 1， b: 2}`,
    `title: “a: b”`. A full-width character in the text of an earlier item (`{zh: 申请，审核, en: ...}`) is
    not blamed: an ASCII ',' '[' or '{' stands between it and the error."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    source = lines[line - 1]
    for index in range(min(col, len(source)) - 1, -1, -1):
        char = source[index]
        if char in ",[]{}":
            return None
        if char in _STRUCTURE:
            before = source[:index]
            # a comma or colon is structure inside a flow collection only; a quote only where a value starts
            structure = ("[" in before or "{" in before) if char in "，、：" else _value_starts(before)
            return (line, index + 1, _STRUCTURE[char]) if structure else None
    return None


#: Full-width brackets a Chinese input method types, and the ASCII YAML wants.
_BRACKETS = {"｛": "{", "｝": "}", "［": "[", "］": "]"}


def bracket_hint(text: str, line: int, col: int, flow_opened: int) -> tuple[int, int, str] | None:
    """A full-width bracket standing for YAML structure: a `｝` or `］` between the line where a flow collection
    opened and the place the parser found it unclosed (`flow_opened`, 0 when no flow collection failed), or a
    `｛` or `［` where a value starts on the line the parser gave up on (`- ｛event: ...}`)."""
    lines = text.splitlines()
    if flow_opened:
        for number in range(flow_opened, min(line, len(lines)) + 1):
            for index, char in enumerate(lines[number - 1]):
                if char in "｝］":
                    return (number, index + 1,
                            f"full-width {char!r} closing a flow collection: use ASCII {_BRACKETS[char]!r}")
    if 0 < line <= len(lines):
        source = lines[line - 1][:col]
        for index, char in enumerate(source):
            if char in "｛［" and _value_starts(source[:index]):
                return (line, index + 1, f"full-width {char!r} opening a flow collection: use ASCII "
                                         f"{_BRACKETS[char]!r}")
    return None


#: A key, a list entry or nothing after an indentation holding U+3000: a line of text (a paragraph of a folded
#: description may start with two U+3000 by Chinese custom) has no ASCII ': '.
_WIDE_INDENT = re.compile(r"^[ \t\u3000]*\u3000[ \t\u3000]*(?:$|-(?:[ \t\u3000]|$)|[^\s#'\"][^#]*?:(?:[ \t]|$))")
_WIDE_AFTER_COLON = re.compile(r"^[ \t]*(?:- )?([^\s:#'\"{}\[\],][^:#{}\[\],]*?):\u3000")


def _ideographic_space(line: str) -> tuple[int, str] | None:
    """The column of a full-width space (U+3000) where YAML needs an ASCII one, and what to do, or None."""
    if _WIDE_INDENT.match(line):
        return (line.index("\u3000") + 1,
                "a full-width space (U+3000) in the indentation: indent with ASCII spaces only")
    found = _WIDE_AFTER_COLON.match(line)
    if found:
        return (found.end(), f"key {found.group(1)!r} is followed by ':' and a full-width space (U+3000): "
                             "write an ASCII space after the ':'")
    return None


#: A line opening a key (after any `- `), and a line holding nothing for YAML.
_KEY_LINE = re.compile(r"(?:-[ ]+)*(?:(?:[^\s#'\"\[{-]|-\S)[^#]*?|'[^']*'|\"[^\"]*\"):(?:[ \t]|$)")
_BLANK = re.compile(r"[ \t]*(?:#.*)?")


@dataclass(frozen=True, slots=True)
class _Level:
    """A column an indented line can line up with: the keys of a mapping or the `- ` of a list."""

    col: int
    line: int  # 1-based
    is_list: bool

    def __str__(self) -> str:
        what = "the '- ' items of the list at" if self.is_list else "the keys at"
        return f"{what} line {self.line} ({_spaces(self.col)})"


def _spaces(count: int) -> str:
    return "1 space" if count == 1 else f"{count} spaces"


def _levels(lines: list[str], offending: int) -> list[_Level]:
    """The columns open above the line of index `offending`: each line's key column and list column, walking
    up while they go left, nearest first."""
    levels: list[_Level] = []
    left = 1 << 30
    for index in range(offending - 1, -1, -1):
        line = lines[index]
        if _BLANK.fullmatch(line):
            continue
        indent = len(line) - len(line.lstrip(" "))
        content = line[indent:]
        key_col = indent
        while content.startswith("- ") or content == "-":
            key_col += len(content) - len(content[1:].lstrip(" "))
            content = content[1:].lstrip(" ")
        if _KEY_LINE.match(content) and key_col < left:
            levels.append(_Level(key_col, index + 1, False))
        if key_col != indent and indent < left:
            levels.append(_Level(indent, index + 1, True))
        left = min(left, indent)
        if left == 0:
            break
    return levels


def _outdented_above(lines: list[str], above: int, indent: int) -> tuple[int, int, str] | None:
    """The line above a too-deep line (index `above`) as the one at fault, where it is the line that moved left:

    - it sits left of the lines before and after it, which line up (`kind: task` / `  title:` / `assignee:`);
    - or it sits no deeper than the key before it, which has nothing after its ':' and so opens a mapping for
      it (`normative_review:` / `kind: task` / `    title:`).

    The parser stops only at the line after it, which it cannot nest under a key with a value."""
    before = next((i for i in range(above - 1, -1, -1) if not _BLANK.fullmatch(lines[i])), None)
    if before is None:
        return None
    prev, source = lines[before], lines[above]
    prev_indent = len(prev) - len(prev.lstrip(" "))
    own = len(source) - len(source.lstrip(" "))
    prev_key = _KEY_LINE.match(prev[prev_indent:])
    if prev_key is None or prev[prev_indent:].startswith("-"):
        return None
    where = f"line {above + 1} is indented {_spaces(own)}"
    if prev_indent == indent:
        return (above + 1, own + 1, f"{where}, but line {before + 1} before it and line {above + 2} after it use "
                                    f"{indent}: indent it to match")
    opens = not prev[prev_indent + prev_key.end():].split("#", 1)[0].strip()  # nothing after its ':'
    if opens and own <= prev_indent < indent:
        return (above + 1, own + 1, f"{where}, no deeper than line {before + 1}, whose key opens a mapping for it, "
                                    f"and line {above + 2} after it uses {indent}: indent it to {_spaces(indent)}")
    return None


def indent_hint(text: str, err: yaml.MarkedYAMLError) -> tuple[int, int, str] | None:
    """What a block mapping or list the parser could not continue says about indentation: the offending
    line's indentation next to the columns open above it, or a ':' missing on the line above, or a value
    holding ': ' that needs quotes. None where it is no such error."""
    mark, problem, context = err.problem_mark, str(err.problem or ""), str(err.context or "")
    value = "mapping values are not allowed" in problem
    if mark is None or not (value or context.startswith(("while parsing a block mapping",
                                                          "while parsing a block collection"))):
        return None
    lines = text.splitlines()
    if mark.line >= len(lines):
        return None
    source = lines[mark.line]
    indent = len(source) - len(source.lstrip(" "))
    line, col = mark.line + 1, indent + 1
    if value and _KEY_LINE.match(source[indent:mark.column]):
        return line, mark.column + 1, "a plain value may not hold ': ': put the value in quotes"
    above = next((i for i in range(mark.line - 1, -1, -1) if not _BLANK.fullmatch(lines[i])), None)
    if value and above is not None:
        prev = lines[above]
        prev_indent = len(prev) - len(prev.lstrip(" "))
        if indent >= prev_indent and not _KEY_LINE.match(prev[prev_indent:]) \
                and not prev[prev_indent:].startswith(("-", "[", "{", "'", '"')):
            return (above + 1, prev_indent + 1, f"line {above + 1} has no ':' after its key, so YAML reads it and "
                                                f"line {line} as one text: add the ':'")
    levels = _levels(lines, mark.line)
    above_line = above + 1 if above is not None else 0
    if not levels:
        return None
    deeper = [lv for lv in levels if lv.col > indent]
    shallower = [lv for lv in levels if lv.col < indent]
    same = [lv for lv in levels if lv.col == indent]
    where = f"line {line} is indented {_spaces(indent)}"
    if same and same[0].is_list and not source[indent:].startswith("-"):
        others = " or ".join(str(lv) for lv in deeper[-1:] + shallower[:1])
        return line, col, (f"{where} like {same[0]}, but does not start with '- ': write '- ' for a new item"
                           + (f", or indent it to match {others}" if others else ""))
    if deeper and shallower:
        return line, col, (f"{where}, between {deeper[-1]} and {shallower[0]}: indent it to match the one it "
                           "belongs to")
    if shallower and not same:
        nearest = shallower[0]
        if nearest.line == above_line and above is not None:
            outdented = _outdented_above(lines, above, indent)
            if outdented is not None:
                return outdented
        # right under a key with its value on its line, the line cannot be nested: say why
        why = "; lines nest only under a key with nothing after its ':'" if nearest.line == above_line else ""
        return line, col, (f"{where} but the mapping it belongs to uses {nearest.col} (line {nearest.line}): "
                           f"indent it to match{why}")
    return None
