"""Find fenced code blocks in Markdown lines, the one fence scanner every stage uses."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# CommonMark: up to three spaces of indent inside a top-level block; deeper indents are
# accepted too so that a fence inside a list item is still a fence.
_OPEN = re.compile(r"^(?P<indent>[ ]*)(?P<marker>`{3,}|~{3,})(?P<info>.*)$")
_QUOTING = re.compile(r"[\"'\\]")
_SHELL_SPACE = re.compile(r"[ \t\r\n]+")
"""shlex's whitespace: other spaces (U+000B, U+00A0) are part of a word to it."""


@dataclass(frozen=True)
class Fence:
    """A fenced block found in a list of lines; indices are 0-based line numbers."""

    start: int
    """Index of the opening fence line."""
    end: int | None
    """Index of the closing fence line, or None when the block is never closed."""
    indent: int
    marker: str
    info: str
    code: str
    """The lines between the fences, dedented by the opening fence's indent."""

    @property
    def language(self) -> str:
        words = self.info.split()
        return words[0] if words else ""


def find_fences(lines: list[str]) -> list[Fence]:
    """Return the fenced blocks in `lines` (without line endings), in order."""
    fences: list[Fence] = []
    index = 0
    while index < len(lines):
        opening = _OPEN.match(lines[index])
        if opening is None or (opening["marker"][0] == "`" and "`" in opening["info"]):
            index += 1
            continue
        fence = _read_fence(lines, index, opening)
        fences.append(fence)
        index = len(lines) if fence.end is None else fence.end + 1
    return fences


def _read_fence(lines: list[str], start: int, opening: re.Match[str]) -> Fence:
    indent = len(opening["indent"])
    marker = opening["marker"]
    closing = re.compile(rf"^[ ]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
    end: int | None = None
    for index in range(start + 1, len(lines)):
        if closing.match(lines[index]):
            end = index
            break
    body = lines[start + 1 : len(lines) if end is None else end]
    code = "".join(_dedent(line, indent) + "\n" for line in body)
    return Fence(start, end, indent, marker, opening["info"].strip(), code)


def _dedent(line: str, width: int) -> str:
    stripped = len(line) - len(line.lstrip(" "))
    return line[min(stripped, width) :]


def split_info(info: str) -> tuple[str, dict[str, str]]:
    """Split an info string into its language and its `key=value` options.

    Raises ValueError with a readable reason when quoting is unbalanced.
    """
    language, options = info_options(info)
    return language, dict(options)


def info_options(info: str) -> tuple[str, list[tuple[str, str]]]:
    """Split an info string into its language and its options as written, a key
    given twice twice; raise as `split_info` does."""
    if _QUOTING.search(info):
        words = shlex.split(info, posix=True)
    else:
        # What shlex gives for text without quotes or escapes, at a twentieth of its
        # cost: a build splits the info string of every block of every card.
        bare = info.strip(" \t\r\n")
        words = _SHELL_SPACE.split(bare) if bare else []
    if not words:
        return "", []
    language, *rest = words
    options = []
    for word in rest:
        key, _, value = word.partition("=")
        options.append((key, value))
    return language, options


def fenced_line_mask(lines: list[str], fences: list[Fence] | None = None) -> list[bool]:
    """Return, for each line, whether it belongs to a fenced block (fences included)."""
    mask = [False] * len(lines)
    for fence in find_fences(lines) if fences is None else fences:
        last = len(lines) - 1 if fence.end is None else fence.end
        for index in range(fence.start, last + 1):
            mask[index] = True
    return mask
