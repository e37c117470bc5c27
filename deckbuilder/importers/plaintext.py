"""Turn plain-text lines from an export into Markdown that shows the same words.

Flashcard sites export rich text as plain lines: lists become "1." and "•" lines (or a
whole numbered list run together on one line), nesting becomes indentation. This module
rebuilds those lists and escapes every other character Markdown, Python-Markdown or our
card format would read as syntax, so the card shows the text as it was exported. Only
"1." numbers and bullets make lists: lines numbered "a)", "i." or "1)" stay lines of
text, as Python-Markdown reads them; an item indented deeper than the item above it
nests under it, written where that item's text starts.

Known limitation: a line indented deeper than the list item above it (a wrapped item,
or code under it) joins that item's paragraph, as any Markdown continuation line does;
the text is kept but the line break is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_NUMBERED = re.compile(r"(?P<number>\d{1,9})\.\s+(?P<text>\S.*)")
# Export bullets may touch their text; a typed ASCII bullet needs its space.
_BULLET = re.compile(r"(?:[•◦▪‣]\s*|[-+*]\s+)(?P<text>\S.*)")

_INLINE = re.compile(
    r"[\\`*]"
    r"|\$(?=\S)"  # a dollar that could open math
    # An underscore that could open or close emphasis: any not between two letters
    # or digits (`__init__` holds four, `snake_case` none).
    r"|(?<![^\W_])_|_(?![^\W_])"
    r"|<(?=[A-Za-z/!?])"  # a tag, comment or autolink
    r"|&(?=#?\w+;)"  # a character reference
    r"|\[(?=[^\]]*\][(\[:])"  # a link, reference or footnote definition
)
_INLINE_ENTITIES = {"<": "&lt;", "&": "&amp;"}
# Line starts that are block syntax. Python-Markdown cannot backslash-escape `~`, `?`
# and `:`, so those get a character reference instead.
_LINE_START = (
    (re.compile(r"#"), "\\#"),  # a heading; `##` would also start a new card
    (re.compile(r">"), "\\>"),  # a block quote
    # A rule such as `-- -`; after `\-`, Python-Markdown reads `- -` as a list.
    (re.compile(r"-(?=(?:[ \t]*-){2,}[ \t]*$)"), "&#45;"),
    (re.compile(r"[-+](?=\s|-*$)"), lambda m: "\\" + m[0]),  # a list or a rule
    (re.compile(r"(\d+)\.(?=\s)"), r"\1\\."),  # an ordered list
    (re.compile(r"~(?=~~)"), "&#126;"),  # a code fence
    (re.compile(r"\?(?=\?\?\s*$)"), "&#63;"),  # our question/answer separator
    (re.compile(r":(?=\s)"), "&#58;"),  # a definition
)


@dataclass(frozen=True)
class _Line:
    indent: int
    marker: str
    """"1." or "-" for a list item, "" for text."""
    text: str


def to_markdown(lines: Sequence[str]) -> str:
    """Return the Markdown for plain-text `lines`, without surrounding blank lines."""
    out: list[str] = []
    open_items: list[int] = []  # source indents of the list items we are inside
    # Where each of those items' content starts in the output: a nested item goes
    # there, as CommonMark nests it (2 spaces under `-`, 3 under `1.`, 4 under
    # `10.`); fewer would make it a list of its own after the item's list.
    columns: list[int] = []
    continuation = ""  # indentation that continues the last list item
    for line in _classify(_split_runs(lines)):
        if line is None:
            if out and out[-1]:
                out.append("")
        elif line.marker:
            while open_items and open_items[-1] > line.indent:
                open_items.pop()
            if not open_items or open_items[-1] < line.indent:
                open_items.append(line.indent)
            if len(open_items) == 1 and out and out[-1] and not continuation:
                out.append("")  # a list cannot interrupt a paragraph
            level = len(open_items) - 1
            indent = " " * (columns[level - 1] if level else 0)
            del columns[level:]
            columns.append(len(indent) + len(line.marker) + 1)
            out.append(f"{indent}{line.marker} {escape(line.text)}")
            continuation = " " * columns[-1]
        elif open_items and line.indent > open_items[0]:
            out.append(continuation + escape(line.text))
        else:
            # Every exported line is a deliberate break, so each is a paragraph.
            open_items.clear()
            columns.clear()
            continuation = ""
            if out and out[-1]:
                out.append("")
            out.append(escape(line.text))
    return "\n".join(out).strip("\n")


def escape(text: str) -> str:
    """Return `text` with the characters Markdown would read as syntax escaped."""
    escaped = _INLINE.sub(lambda m: _INLINE_ENTITIES.get(m[0], "\\" + m[0]), text)
    for pattern, replacement in _LINE_START:
        if pattern.match(escaped):
            return pattern.sub(replacement, escaped, count=1)
    return escaped


def _split_runs(lines: Iterable[str]) -> Iterable[str]:
    """Split numbered lists written on one line ("1. a 2. b") into one line per item."""
    for line in lines:
        body = line.lstrip()
        first = _NUMBERED.fullmatch(body)
        if first is None:
            yield line
            continue
        indent = line[: len(line) - len(body)]
        number, text = int(first["number"]), first["text"]
        # Only the next number in sequence, after a space, starts the next item.
        while marker := re.search(rf"\s+{number + 1}\.\s+(?=\S)", text):
            yield f"{indent}{number}. {text[: marker.start()]}"
            number, text = number + 1, text[marker.end() :]
        yield f"{indent}{number}. {text}"


def _classify(lines: Iterable[str]) -> Iterable[_Line | None]:
    """Yield each line's indentation, list marker and text; None for a blank line."""
    for line in lines:
        body = line.strip()
        if not body:
            yield None
            continue
        indent = len(line[: len(line) - len(line.lstrip())].expandtabs(4))
        if numbered := _NUMBERED.fullmatch(body):
            yield _Line(indent, f"{numbered['number']}.", numbered["text"])
        elif bullet := _BULLET.fullmatch(body):
            yield _Line(indent, "-", bullet["text"])
        else:
            yield _Line(indent, "", body)
