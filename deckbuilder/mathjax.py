"""Find math in card Markdown and turn it into Anki's MathJax delimiters."""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Iterator

_BLANK_LINE = re.compile(r"^$", re.MULTILINE)
_BACKTICKS = re.compile(r"`+")
_DELIMITER = re.compile(r"[\\`$]")
_DOLLAR = re.compile(r"(?<!\\)(?P<backslashes>\\*)\$")
_BRACKETS = {"(": ("\\(", "\\)"), "[": ("\\[", "\\]")}


class MathScanner:
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
                # Only a backslash, a backtick or a dollar starts anything: go there.
                found = _DELIMITER.search(text, index + 1)
                index = found.start() if found else len(text)

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
