"""The lines of a card file with their own line endings, for rewriting it in place.

`deckbuilder ids` and `pytest --deckbuilder-update-output` change a few lines of a
file that may mix line endings (a card pasted from elsewhere); every line they do
not change keeps its bytes, ending included, and a line they add takes the ending of
the line above it.
"""

from __future__ import annotations

import collections
import re

_ENDING = re.compile(r"(\r\n|\r|\n)")
"""What the parser counts as the end of a line (see `parse.decode`)."""


class TextLines:
    """A text split into lines, each with its own ending ("" for a last line
    without one)."""

    def __init__(self, text: str) -> None:
        parts = _ENDING.split(text)
        self.lines = parts[0::2]
        self.endings = [*parts[1::2], ""]

    def replace(self, start: int, end: int, lines: list[str]) -> None:
        """Put `lines` in place of lines `start` to `end` (not included); they take
        the ending of the line above them."""
        ending = self._ending_below(start - 1)
        kept = self.endings[end - 1] if end > start else ending
        self.lines[start:end] = lines
        self.endings[start:end] = [ending] * len(lines)
        if lines:
            self.endings[start + len(lines) - 1] = kept

    def insert(self, index: int, line: str) -> None:
        """Put `line` before line `index`, with the ending of the line above it."""
        self.replace(index, index, [line])

    def __str__(self) -> str:
        return "".join(
            line + ending for line, ending in zip(self.lines, self.endings, strict=True)
        )

    def _ending_below(self, index: int) -> str:
        """Return the ending for a line added below line `index`, giving that line
        an ending first if it is the last and has none."""
        if index < 0:
            return self._usual()
        if not self.endings[index]:
            self.endings[index] = self._usual()
        return self.endings[index]

    def _usual(self) -> str:
        # The most common, the first met of equals.
        counts = collections.Counter(ending for ending in self.endings if ending)
        return counts.most_common(1)[0][0] if counts else "\n"
