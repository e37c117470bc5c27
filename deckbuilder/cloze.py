"""Find Anki cloze deletions in text and write them so that Anki reads them the same."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_OPENER = re.compile(r"\{\{c(\d+)::")
HTML_SEPARATOR = "<!-- -->"
"""Keeps two braces apart in HTML without showing anything (Anki's manual suggests
it for `}}` inside a cloze); MathJax ignores the space used in math instead."""
MATH_SEPARATOR = " "


@dataclass(frozen=True)
class Cloze:
    """One `{{cN::text::hint}}`, as offsets into the text it was found in."""

    number: int
    start: int
    """Offset of the opening `{{c`."""
    text_start: int
    """Offset of the hidden text, just after `{{cN::`."""
    text_end: int
    """Offset just after the hidden text: the hint's `::` or the closing `}}`."""
    end: int
    """Offset just after the closing `}}`."""
    hint: str | None = None

    @property
    def closing(self) -> str:
        """Return the marker that ends the cloze: `}}` or `::hint}}`."""
        return "}}" if self.hint is None else f"::{self.hint}}}}}"


class ClozeError(ValueError):
    """Cloze syntax that Anki would read differently from its author's intent."""

    def __init__(self, offset: int, message: str, remedy: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.remedy = remedy


def find_clozes(text: str) -> list[Cloze]:
    """Return the clozes in `text`, ordered by where they end; they may nest.

    A cloze ends at the first `}}` that closes no brace opened inside it, so
    `{{c1::{"b": 1}}}` hides `{"b": 1}`. A brace after an odd number of backslashes
    (`\\}` in LaTeX) counts for nothing. After a hint's `::`, as in Anki, the next
    `}}` ends the cloze. Raise `ClozeError` for a cloze Anki would misread.
    """
    found: list[Cloze] = []
    stack: list[_Open] = []
    index = 0
    while index < len(text):
        char = text[index]
        opener = _OPENER.match(text, index) if char == "{" else None
        if opener is not None:
            number = int(opener[1])
            if number == 0:
                raise ClozeError(
                    index, "cloze numbers start at 1", "write `{{c1::` for the first"
                )
            stack.append(_Open(number, index, opener.end()))
            index = opener.end()
            continue
        if not stack:
            index += 1
            continue
        top = stack[-1]
        if char == "\\":
            # `\\` is one backslash, so the brace after `\\{` counts again.
            index += 2 if text[index + 1 : index + 2] in ("\\", "{", "}") else 1
        elif top.hint_start is None and text.startswith("::", index):
            top.hint_start = index
            index += 2
        elif char == "{" and top.hint_start is None:
            top.depth += 1
            index += 1
        elif char == "}" and top.depth > 0 and top.hint_start is None:
            top.depth -= 1
            index += 1
        elif text.startswith("}}", index):
            found.append(stack.pop().close(text, index))
            index += 2
        else:
            index += 1
    if stack:
        raise ClozeError(
            stack[0].start,
            "cloze is never closed",
            "end it with `}}`; braces inside a cloze must pair up",
        )
    return found


def cloze_numbers(text: str) -> list[int]:
    """Return the distinct cloze numbers in `text`, ascending; none if it is invalid."""
    try:
        return sorted({cloze.number for cloze in find_clozes(text)})
    except ClozeError:
        return []


def separate_braces(text: str, clozes: Iterable[Cloze], separator: str) -> str:
    """Put `separator` after each `}` of hidden text that a `}` follows.

    Anki ends a cloze at the first `}}` after its opening, so hidden text holding
    `}}`, or ending in `}`, would end early. Markers and hints are left as they are.
    """
    inside = [0] * (len(text) + 1)
    for cloze in clozes:
        inside[cloze.text_start] += 1
        inside[cloze.text_end] -= 1
    markers: set[int] = set()
    for cloze in clozes:
        markers.update(range(cloze.start, cloze.text_start))
        markers.update(range(cloze.text_end, cloze.end))

    pieces: list[str] = []
    depth = 0
    done = 0
    for index, char in enumerate(text):
        depth += inside[index]
        if (
            char == "}"
            and depth > 0
            and index not in markers
            and text[index + 1 : index + 2] == "}"
        ):
            pieces += [text[done : index + 1], separator]
            done = index + 1
    pieces.append(text[done:])
    return "".join(pieces)


def separate_all(text: str, separator: str) -> str:
    """Return `text` with the braces of its clozes separated; unchanged if invalid.

    Invalid clozes are reported from the sources, where their lines are known.
    """
    try:
        clozes = find_clozes(text)
    except ClozeError:
        return text
    return separate_braces(text, clozes, separator) if clozes else text


@dataclass
class _Open:
    number: int
    start: int
    text_start: int
    depth: int = 0
    hint_start: int | None = None

    def close(self, text: str, closing: int) -> Cloze:
        text_end = closing if self.hint_start is None else self.hint_start
        if not text[self.text_start : text_end].strip():
            raise ClozeError(
                self.start,
                "cloze hides nothing",
                "write the text to hide after `::`, e.g. `{{c1::Paris}}`",
            )
        hint = None if self.hint_start is None else text[self.hint_start + 2 : closing]
        return Cloze(
            self.number, self.start, self.text_start, text_end, closing + 2, hint
        )


def remove_markers(text: str) -> str:
    """Return `text` with its clozes' markers and hints removed: the text as it
    reads on the back of the card, which is the code that runs under test.

    Lines stay where they were. Text whose clozes are invalid is returned as it is.
    """
    try:
        clozes = find_clozes(text)
    except ClozeError:
        return text
    cuts = sorted(
        [(cloze.start, cloze.text_start) for cloze in clozes]
        + [(cloze.text_end, cloze.end) for cloze in clozes]
    )
    pieces: list[str] = []
    done = 0
    for start, end in cuts:
        pieces.append(text[done:start])
        done = end
    pieces.append(text[done:])
    return "".join(pieces)
