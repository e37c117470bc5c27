"""Re-indent Markdown lists so that 2-space nesting (as on GitHub) nests."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MARKER = re.compile(r"(?P<indent> *)(?P<marker>[-*+]|(?P<number>\d+)\.)(?P<gap> +)")
_THEMATIC_BREAK = re.compile(r" {0,3}([-*_])(?: *\1){2,} *$")
_HEADING = re.compile(r" *#{1,6}(?: |$)")
_QUOTE = re.compile(r" *>")


@dataclass(frozen=True)
class _Item:
    content: int
    """Source column where the item's content starts (CommonMark's width rule)."""
    ordered: bool


@dataclass(frozen=True)
class _Line:
    kind: str
    """"marker", "text" or "fence"."""
    depth: int
    """How many list items hold the line; for a marker, the items around its list."""


class ListNester:
    """Re-indent one text's lines, line by line.

    Python-Markdown reads a block between blank lines as a whole: a list item cannot
    interrupt a paragraph there, and a less indented line stays in the block's item.
    So a blank line goes in wherever CommonMark would start a new block anyway.

    Known limitations: lists inside block quotes are left as they are, and lines in
    raw HTML blocks are re-indented like any others.
    """

    def __init__(self, fences: set[str]) -> None:
        self.output: list[str] = []
        self._fences = fences
        self._items: list[_Item] = []
        self._block: _Line | None = None  # the first line of the current block
        self._previous: _Line | None = None  # the line before, None after a blank

    def add(self, line: str) -> None:
        stripped = line.lstrip(" ")
        if not stripped:
            self._end_block()
            return
        indent = len(line) - len(stripped)
        marker = self._marker(line)
        kind = "fence" if stripped in self._fences else "marker" if marker else "text"
        lazy = kind == "text" and self._continues_paragraph(line)

        sibling = None if lazy else self._close_items(indent)
        ordered = marker is not None and marker["number"] is not None
        this = _Line(kind, len(self._items))
        # Python-Markdown (with sane_lists) joins an item of the other kind to the
        # item before; CommonMark starts a new list.
        new_list = (
            sibling is not None and marker is not None and sibling.ordered != ordered
        )
        if self._needs_blank(this, lazy, new_list):
            self._end_block()
        self._block = self._block or this
        self.output.append(self._reindent(line, indent, this, marker, lazy))

        self._previous = this
        if marker:
            width = marker.end("gap") - marker.end("indent")
            self._items.append(_Item(indent + width, ordered))
            self._previous = _Line("marker", this.depth + 1)
        elif not self._items and (_HEADING.match(line) or _THEMATIC_BREAK.match(line)):
            # At the top level, Python-Markdown splits its block after these lines.
            self._block = self._previous = None

    def _marker(self, line: str) -> re.Match[str] | None:
        marker = _MARKER.match(line)
        if marker is None or _THEMATIC_BREAK.match(line):
            return None
        if self._block is not None and self._block.kind == "text" and not self._items:
            return None  # a top-level paragraph goes on: no list interrupts it here
        return marker

    def _continues_paragraph(self, line: str) -> bool:
        # CommonMark's lazy continuation line: it belongs to the open paragraph
        # whatever its indent. Headings and quotes start blocks of their own.
        previous = self._previous
        if previous is None or previous.kind == "fence":
            return False
        return not (_HEADING.match(line) or _QUOTE.match(line))

    def _close_items(self, indent: int) -> _Item | None:
        """Close the items the line is not indented into; return the last closed."""
        closed = None
        while self._items and indent < self._items[-1].content:
            closed = self._items.pop()
        return closed

    def _needs_blank(self, this: _Line, lazy: bool, new_list: bool) -> bool:
        block, previous = self._block, self._previous
        if block is None or previous is None or lazy:
            return False
        if this.kind == "marker":
            if new_list:
                return True
            if block.kind == "marker":
                # Python-Markdown's list step sorts out items at or below the
                # block's first level, but not above it.
                return this.depth < block.depth
            return block.depth > 0  # an item interrupts an item's paragraph
        return this.depth < previous.depth

    def _reindent(
        self,
        line: str,
        indent: int,
        this: _Line,
        marker: re.Match[str] | None,
        lazy: bool,
    ) -> str:
        margin = " " * 4 * this.depth
        if marker is not None:
            return margin + line[marker.end("indent") :]
        if this.kind == "fence":
            # Indented any further, a placeholder would read as an indented code block.
            return margin + line.lstrip(" ")
        if not self._items:
            return line
        if lazy:
            # Python-Markdown keeps a paragraph's lines together whatever their
            # indent, and a margin would only show up in the HTML.
            return line.lstrip(" ")
        # Deeper indent than the item's content is kept: it can mean indented code.
        extra = max(indent - self._items[-1].content, 0)
        return margin + " " * extra + line.lstrip(" ")

    def _end_block(self) -> None:
        self.output.append("")
        self._block = self._previous = None


# Code text -----------------------------------------------------------------------
