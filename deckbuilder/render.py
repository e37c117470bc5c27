"""Render card Markdown to the HTML of an Anki field."""

from __future__ import annotations

import html
import xml.etree.ElementTree as etree
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import markdown
from markdown.extensions import Extension
from markdown.extensions.def_list import DefListExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import ETX, STX, AtomicString, code_escape

from deckbuilder.cloze import (
    HTML_SEPARATOR,
    MATH_SEPARATOR,
    Cloze,
    ClozeError,
    find_clozes,
    separate_all,
)
from deckbuilder.fences import Fence, find_fences, split_info
from deckbuilder.highlight import Highlighter
from deckbuilder.lists import ListNester
from deckbuilder.mathjax import MathScanner
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

    def render(
        self,
        text: str,
        *,
        path: Path,
        first_line: int,
        code: Mapping[int, str] | None = None,
        cloze: bool = False,
    ) -> Rendered:
        """Return the HTML for `text`, whose first line is `first_line` of `path`.

        `code` maps the source line of a fence to the code to show in place of what
        is written there: the region an `include=` block names. With `cloze`, the
        text is a cloze note's: its `{{c1::...}}` deletions are checked, kept whole
        in highlighted code, and written so that Anki ends each where its author
        did.
        """
        self._call.start(path, first_line, code or {}, cloze)
        if cloze:
            self._check_clozes(text)
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

    def _check_clozes(self, text: str) -> None:
        # Clozes are checked here, in the source, where their lines are known; code
        # blocks are checked as they are highlighted, so they are blanked out here.
        lines = text.split("\n")
        for fence in find_fences(lines):
            end = len(lines) - 1 if fence.end is None else fence.end
            lines[fence.start : end + 1] = [""] * (end + 1 - fence.start)
        masked = "\n".join(lines)
        try:
            find_clozes(masked)
        except ClozeError as error:
            self._call.cloze_error(error, masked, self._call.first_line, 0)

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
    code: Mapping[int, str] = field(default_factory=dict)
    """Code to show instead of a fence's own, by the fence's source line."""
    cloze: bool = False
    """The text is a cloze note's."""

    def start(
        self, path: Path, first_line: int, code: Mapping[int, str], cloze: bool
    ) -> None:
        self.path = path
        self.first_line = first_line
        self.code = code
        self.cloze = cloze
        self.diagnostics = []
        self.fences = set()
        self.math = {}

    def cloze_error(
        self, error: ClozeError, text: str, first_line: int, indent: int
    ) -> None:
        """Report `error` found in `text`, whose first line is `first_line`."""
        line = text.count("\n", 0, error.offset)
        column = error.offset - (text.rfind("\n", 0, error.offset) + 1) + 1
        self.diagnostics.append(
            Diagnostic(
                Location(self.path, first_line + line, column + indent),
                Severity.ERROR,
                error.message,
                error.remedy,
            )
        )


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
        # Before "raw_html" (30) puts back code blocks and math, which have their
        # clozes written already.
        md.postprocessors.register(_ClozePostprocessor(md, self._call), "cloze", 35)
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
            done = len(lines) if fence.end is None else fence.end + 1
            if _hidden(fence):
                output.append("")
                continue
            # Blank lines make the block a paragraph of its own, which the raw HTML
            # step unwraps (never <p><pre>); the indent keeps it in its list item.
            # The price: an item holding a fence is loose (its text in <p>), where
            # GitHub keeps the list tight.
            output += ["", " " * fence.indent + self._stash(fence), ""]
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
        code = self._call.code.get(location.line, fence.code)
        highlighted = self._highlighter.highlight(
            code, fence.info, location=location, clozes=self._clozes(code, location)
        )
        if highlighted.diagnostic is not None:
            self._call.diagnostics.append(highlighted.diagnostic)
        placeholder = self.md.htmlStash.store(highlighted.html)
        self._call.fences.add(placeholder)
        return placeholder

    def _clozes(self, code: str, fence: Location) -> list[Cloze]:
        if not self._call.cloze:
            return []
        try:
            return find_clozes(code)
        except ClozeError as error:
            self._call.cloze_error(error, code, fence.line + 1, fence.column - 1)
            return []


def _hidden(fence: Fence) -> bool:
    try:
        _, options = split_info(fence.info)
    except ValueError:
        return False
    return "hide" in options


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
        for start, end, math_html in MathScanner(text).spans():
            if self._call.cloze:
                # MathJax ignores spaces, as Anki's manual notes for `}}` in clozes.
                math_html = separate_all(math_html, MATH_SEPARATOR)
            placeholder = self.md.htmlStash.store(math_html)
            self._call.math[placeholder] = text[start:end]
            pieces += [text[done:start], placeholder]
            done = end
        pieces.append(text[done:])
        return "".join(pieces).split("\n")


class _ListPreprocessor(Preprocessor):
    """Re-indent lists from CommonMark's widths to the 4 spaces per level that
    Python-Markdown reads, so that lists indented by 2 (as on GitHub) nest.
    """

    def __init__(self, md: markdown.Markdown, call: _Call) -> None:
        super().__init__(md)
        self._call = call

    def run(self, lines: list[str]) -> list[str]:
        nester = ListNester(self._call.fences)
        for line in lines:
            nester.add(line)
        return nester.output


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


class _ClozePostprocessor(Postprocessor):
    """Keep braces in hidden text from ending a cloze early (see `cloze`)."""

    def __init__(self, md: markdown.Markdown, call: _Call) -> None:
        super().__init__(md)
        self._call = call

    def run(self, text: str) -> str:
        return separate_all(text, HTML_SEPARATOR) if self._call.cloze else text
