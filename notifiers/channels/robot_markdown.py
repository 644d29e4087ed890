"""Markdown too long for one robot message, split into several that each fit, so no digest item is lost.

Robots (WeCom, DingTalk) refuse or cut content over a byte limit and take about 20 messages a minute, so a
message becomes at most `max_parts` parts, cut between lines (a line longer than a part is cut between
characters); what still does not fit is counted in a closing line that says where to read the full list.
The mention goes into the first part after the split, so it is never cut off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from notifiers.errors import DeliveryError

#: Bytes kept free in each part for its "(k/n)" line.
_MARKER_ROOM = 40
_OVERFLOW = "\n\n……另有{count}行因消息长度限制未列出，请登录时限系统查看完整清单。"


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _chunks(line: str, room: int) -> list[str]:
    """`line` in pieces of at most `room` UTF-8 bytes, cut between characters."""
    pieces: list[str] = []
    data = line.encode("utf-8")
    while len(data) > room:
        piece = data[:room].decode("utf-8", errors="ignore")
        pieces.append(piece)
        data = data[len(piece.encode("utf-8")):]
    pieces.append(data.decode("utf-8"))
    return pieces


def _pack(lines: list[str], room: int) -> list[list[str]]:
    """The lines grouped into parts of at most `room` bytes each (joined by newlines)."""
    parts: list[list[str]] = [[]]
    size = 0
    for line in lines:
        for piece in _chunks(line, room):
            extra = utf8_len(piece) + (1 if parts[-1] else 0)
            if parts[-1] and size + extra > room:
                parts.append([])
                size, extra = 0, utf8_len(piece)
            parts[-1].append(piece)
            size += extra
    return parts


def split_markdown(text: str, limit: int, mention: str = "", max_parts: int = 5) -> list[str]:
    """`text` as at most `max_parts` messages of at most `limit` UTF-8 bytes, `mention` ending the first."""
    room = limit - utf8_len(mention) - _MARKER_ROOM - utf8_len(_OVERFLOW.format(count=10**6))
    if room < 64:
        raise ValueError(f"a limit of {limit} bytes leaves no room for the text")
    parts = _pack(text.split("\n"), room)
    left_out = parts[max_parts:]
    parts = parts[:max_parts]
    texts = ["\n".join(lines) for lines in parts]
    if left_out:
        count = sum(1 for lines in left_out for line in lines if line.strip())
        texts[-1] += _OVERFLOW.format(count=count)
    texts[0] += mention
    if len(texts) > 1:
        texts = [f"{body}\n\n（第{k}/{len(texts)}条）" for k, body in enumerate(texts, 1)]
    return texts


def post_parts(bodies: Sequence[Any], parts_sent: int, post: Callable[[Any], None]) -> None:
    """Post each part not delivered yet, in order. A part that fails raises its DeliveryError counting the parts
    delivered before it, so a retry goes on from there instead of posting the group the first parts again."""
    for k, body in enumerate(bodies[parts_sent:], parts_sent):
        try:
            post(body)
        except DeliveryError as err:
            err.parts_sent = k
            raise


__all__ = ["post_parts", "split_markdown", "utf8_len"]

