"""Render card Markdown to the HTML of an Anki field."""

from __future__ import annotations

import bisect
import html
import re
import xml.etree.ElementTree as etree
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import markdown
from markdown.extensions import Extension
from markdown.extensions.def_list import DefListExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import ETX, STX, AtomicString, code_escape

from deckbuilder.fences import Fence, find_fences
from deckbuilder.highlight import Highlighter
from deckbuilder.model import Location
from deckbuilder.report import Diagnostic, Severity


@dataclass(frozen=True)
class Rendered:
    """A field's HTML and the warnings found while rendering it."""

    html: str
    diagnostics: tuple[Diagnostic, ...]


class Renderer:
    """Render Markdown the way the card format describes; build once, call often."""

    def __init__(self) -> None:
        self._call = _Call()
        self._highlighter = Highlighter()
        self._markdown = self._new_markdown()

    def render(self, text: str, *, path: Path, first_line: int) -> Rendered:
        """Return the HTML for `text`, whose first line is line `first_line` of `path`."""
        self._call.start(path, first_line)
        self._markdown.reset()
        try:
            output = self._markdown.convert(text)
        except RecursionError:
            # Python-Markdown recurses once per level of nesting, so a few hundred
            # nested lists or quotes exhaust the stack. Its parser state is not
            # reset by reset(), hence a fresh instance.
            self._markdown = self._new_markdown()
            output = f"<pre>{html.escape(text, quote=False)}</pre>"
            self._call.diagnostics.append(
                Diagnostic(
                    Location(path, first_line),
                    Severity.WARNING,
                    "text nests too deeply to render",
                    "nest lists and quotes less deeply; the text is shown as written",
                )
            )
        return Rendered(output, tuple(self._call.diagnostics))

    def _new_markdown(self) -> markdown.Markdown:
        return markdown.Markdown(
            extensions=[
                TableExtension(),
                FootnoteExtension(),
                DefListExtension(),
                SaneListExtension(),
                _CardExtension(self._highlighter, self._call),
            ],
            output_format="html",
        )


@dataclass
class _Call:
    """What the Markdown steps share during one `render` call."""

    path: Path = Path()
    first_line: int = 1
    diagnostics: list[Diagnostic] = field(default_factory=list)
    fences: set[str] = field(default_factory=set)
    """Placeholders that stand for a whole fenced block."""
    math: dict[str, str] = field(default_factory=dict)
    """Placeholder of each math span, mapped to the span's source."""

    def start(self, path: Path, first_line: int) -> None:
        self.path = path
        self.first_line = first_line
        self.diagnostics = []
        self.fences = set()
        self.math = {}


class _CardExtension(Extension):
    def __init__(self, highlighter: Highlighter, call: _Call) -> None:
        super().__init__()
        self._highlighter = highlighter
        self._call = call

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Replaces Python-Markdown's whitespace step, which would expand tabs in code.
        fences = _FencePreprocessor(md, self._highlighter, self._call)
        md.preprocessors.register(fences, "normalize_whitespace", 30)
        md.preprocessors.register(_MathPreprocessor(md, self._call), "math", 29)
        md.preprocessors.register(_ListPreprocessor(md, self._call), "lists", 28)
        # After "inline" (20), which builds the <code> elements this step mends.
        md.treeprocessors.register(_CodeTextTreeprocessor(md, self._call), "code", 18)
        md.ESCAPED_CHARS.append("$")


# Fenced code ---------------------------------------------------------------------


class _FencePreprocessor(Preprocessor):
    """Stash fenced blocks as highlighted HTML; normalise whitespace around them."""

    def __init__(
        self, md: markdown.Markdown, highlighter: Highlighter, call: _Call
    ) -> None:
        super().__init__(md)
        self._highlighter = highlighter
        self._call = call

    def run(self, lines: list[str]) -> list[str]:
        source = "\n".join(lines).replace(STX, "").replace(ETX, "")
        source = source.replace("\r\n", "\n").replace("\r", "\n")
        # A final newline ends the last line; it does not add an empty line to an
        # unclosed block.
        lines = source.removesuffix("\n").split("\n")

        output: list[str] = []
        done = 0
        for fence in find_fences(lines):
            output += self._normalise(lines[done : fence.start])
            # Blank lines make the block a paragraph of its own, which the raw HTML
            # step unwraps (never <p><pre>); the indent keeps it in its list item.
            # The price: an item holding a fence is loose (its text in <p>), where
            # GitHub keeps the list tight.
            output += ["", " " * fence.indent + self._stash(fence), ""]
            done = len(lines) if fence.end is None else fence.end + 1
        output += self._normalise(lines[done:])
        return [*output, "", ""]

    def _normalise(self, lines: list[str]) -> list[str]:
        # What Python-Markdown's own step does, outside code only.
        expanded = (line.expandtabs(self.md.tab_length) for line in lines)
        return [line if line.strip(" ") else "" for line in expanded]

    def _stash(self, fence: Fence) -> str:
        location = Location(
            self._call.path, self._call.first_line + fence.start, fence.indent + 1
        )
        highlighted = self._highlighter.highlight(
            fence.code, fence.info, location=location
        )
        if highlighted.diagnostic is not None:
            self._call.diagnostics.append(highlighted.diagnostic)
        placeholder = self.md.htmlStash.store(highlighted.html)
        self._call.fences.add(placeholder)
        return placeholder


# Math ----------------------------------------------------------------------------


class _MathPreprocessor(Preprocessor):
    """Stash math spans as MathJax-delimited HTML before Markdown can read them."""

    def __init__(self, md: markdown.Markdown, call: _Call) -> None:
        super().__init__(md)
        self._call = call

    def run(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)
        if "$" not in text and "\\" not in text:
            return lines

        pieces: list[str] = []
        done = 0
        for start, end, math_html in _MathScanner(text).spans():
            placeholder = self.md.htmlStash.store(math_html)
            self._call.math[placeholder] = text[start:end]
            pieces += [text[done:start], placeholder]
            done = end
        pieces.append(text[done:])
        return "".join(pieces).split("\n")


_BLANK_LINE = re.compile(r"^$", re.MULTILINE)
_BACKTICKS = re.compile(r"`+")
_DOLLAR = re.compile(r"(?<!\\)(?P<backslashes>\\*)\$")
_BRACKETS = {"(": ("\\(", "\\)"), "[": ("\\[", "\\]")}


class _MathScanner:
    """Find math spans in text, left to right, skipping code spans and escapes.

    Every look-up goes through precomputed positions, so a paragraph full of stray
    `$` or backticks costs n log n, not n squared.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._blank_lines = [match.start() for match in _BLANK_LINE.finditer(text)]
        self._found: dict[str, int] = {}
        self._backticks = [match.start() for match in _BACKTICKS.finditer(text)]
        self._runs: dict[int, list[int]] = {}
        for match in _BACKTICKS.finditer(text):
            self._runs.setdefault(len(match[0]), []).append(match.start())
        self._closers = [
            match.end() - 1 for match in _DOLLAR.finditer(text) if self._closes(match)
        ]

    def spans(self) -> Iterator[tuple[int, int, str]]:
        """Yield `(start, end, html)` for each math span."""
        text = self._text
        index = 0
        while index < len(text):
            char = text[index]
            if char == "\\":
                bracket = text[index + 1 : index + 2]
                if bracket in _BRACKETS:
                    opening, closing = _BRACKETS[bracket]
                    end = self._find(closing, index + 2)
                    if end is not None:
                        yield (
                            index,
                            end + 2,
                            _math(opening, text[index + 2 : end], closing),
                        )
                        index = end + 2
                        continue
                index += 2  # an escaped character, `\$` included, is never a delimiter
            elif char == "`":
                index = self._skip_code_span(index)
            elif text.startswith("$$", index):
                end = self._find("$$", index + 2)
                if end is None:
                    index += 2
                    continue
                if text[index + 2 : end].strip():
                    yield index, end + 2, _math("\\[", text[index + 2 : end], "\\]")
                index = end + 2  # an empty pair stays text, and closes nothing later
            elif char == "$" and text[index + 1 : index + 2].strip():
                end = self._inline_close(index)
                if end is not None:
                    yield index, end + 1, _math("\\(", text[index + 1 : end], "\\)")
                    index = end + 1
                else:
                    index += 1
            else:
                index += 1

    def _closes(self, dollar: re.Match[str]) -> bool:
        # Pandoc's rule: a closing `$` follows a non-space and precedes no digit.
        if len(dollar["backslashes"]) % 2 == 1:
            return False
        position = dollar.end() - 1
        before = self._text[position - 1 : position]
        after = self._text[position + 1 : position + 2]
        return bool(before.strip()) and not after.isdigit()

    def _inline_close(self, opening: int) -> int | None:
        # Content is not empty, so the closer is at least two past the opener.
        position = bisect.bisect_left(self._closers, opening + 2)
        if position == len(self._closers):
            return None
        closer = self._closers[position]
        return closer if self._is_math(opening, closer) else None

    def _find(self, closing: str, start: int) -> int | None:
        # Scanning goes forward only, so the last answer stands until passed; this
        # keeps many unclosed openers linear.
        end = self._found.get(closing)
        if end is None or -1 < end < start:
            end = self._found[closing] = self._text.find(closing, start)
        return end if end != -1 and self._is_math(start - 1, end) else None

    def _skip_code_span(self, index: int) -> int:
        run = _BACKTICKS.match(self._text, index)
        length = len(run[0]) if run else 1
        runs = self._runs.get(length, [])
        position = bisect.bisect_left(runs, index + length)
        if position < len(runs):
            closer = runs[position]
            if not _any_between(self._blank_lines, index, closer):
                return closer + length
        return index + length

    def _is_math(self, start: int, end: int) -> bool:
        # A backtick inside would mean a code span's dollar closes the math; LaTeX
        # for MathJax has no use for backticks, so such a span is never math.
        return not (
            _any_between(self._blank_lines, start, end)
            or _any_between(self._backticks, start, end)
        )


def _any_between(positions: list[int], start: int, end: int) -> bool:
    """Return whether the sorted `positions` hold one with start < position < end."""
    index = bisect.bisect_right(positions, start)
    return index < len(positions) and positions[index] < end


def _math(opening: str, source: str, closing: str) -> str:
    # MathJax reads the text content, so only what HTML itself needs is escaped.
    return opening + html.escape(source, quote=False) + closing


# Lists ---------------------------------------------------------------------------


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


class _ListPreprocessor(Preprocessor):
    """Re-indent lists from CommonMark's widths to the 4 spaces per level that
    Python-Markdown reads, so that lists indented by 2 (as on GitHub) nest.
    """

    def __init__(self, md: markdown.Markdown, call: _Call) -> None:
        super().__init__(md)
        self._call = call

    def run(self, lines: list[str]) -> list[str]:
        nester = _ListNester(self._call.fences)
        for line in lines:
            nester.add(line)
        return nester.output


class _ListNester:
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


class _CodeTextTreeprocessor(Treeprocessor):
    """Give `<code>` back the text that earlier steps hid from it or left escaped."""

    def __init__(self, md: markdown.Markdown, call: _Call) -> None:
        super().__init__(md)
        self._call = call

    def run(self, root: etree.Element) -> None:
        for code in root.iter("code"):
            if code.text and self._call.math:
                code.text = AtomicString(self._unstash_math(code.text))
        # GitHub's tables read `\|` as a pipe before anything else, in code too;
        # Python-Markdown's do so only outside code spans.
        for cell in (*root.iter("td"), *root.iter("th")):
            for code in cell.iter("code"):
                if code.text:
                    code.text = AtomicString(code.text.replace("\\|", "|"))

    def _unstash_math(self, text: str) -> str:
        # Code that Markdown found where the math scanner saw none (an indented code
        # block) must show its dollars as written.
        for placeholder, source in self._call.math.items():
            if placeholder in text:
                text = text.replace(placeholder, code_escape(source))
        return text
