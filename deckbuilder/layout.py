"""Warn of lines that look like card syntax and are not: the format's near misses.

A card file parses whatever it holds; these are the lines whose meaning a reader would
likely mistake: front matter below blank lines (text, so its settings are lost) and
`##Text` (no card, but a heading in the card above).
"""

from __future__ import annotations

import re
from pathlib import Path

from deckbuilder.model import Location
from deckbuilder.report import Diagnostic, Severity

_NEAR_HEADING = re.compile(r"^ {0,3}(?:> ?)*##[^#\s]")
"""`##` and text without a space: not a card, but Python-Markdown makes it a heading
(in a quote too)."""
_HTML_BLOCK = re.compile(r"^ {0,3}<(?P<tag>[A-Za-z][\w-]*)")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote details dialog div dl fieldset figure footer "
    "form header main nav ol p pre section table ul script style textarea".split()
)
"""Tags that start a block Python-Markdown passes through as it is."""
_KEY_LINE = re.compile(r"^[A-Za-z][\w-]*[ \t]*:")


def layout_warnings(
    path: Path, lines: list[str], in_fence: list[bool], body_start: int
) -> list[Diagnostic]:
    """Return the warnings about the lines of the card file at `path`; its body (after
    any front matter) starts at index `body_start`, and `in_fence` marks code."""
    warnings = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if (
        body_start == 0
        and first
        and lines[first].rstrip() == "---"
        and first + 1 < len(lines)
        and _KEY_LINE.match(lines[first + 1])
    ):
        warnings.append(
            Diagnostic(
                Location(path, first + 1),
                Severity.WARNING,
                "front matter must start on the file's first line; this is read as "
                "text",
                "delete the blank lines above `---`",
            )
        )
    raw = _raw_lines(lines, body_start)
    for index in range(body_start, len(lines)):
        if not (in_fence[index] or raw[index]) and _NEAR_HEADING.match(lines[index]):
            warnings.append(
                Diagnostic(
                    Location(path, index + 1),
                    Severity.WARNING,
                    "`##` without a space after it does not start a card "
                    "(Python-Markdown shows it as a heading)",
                    "write `## ` with a space to start a card, or `\\##` for the "
                    "characters themselves",
                )
            )
    return warnings


def _raw_lines(lines: list[str], start: int) -> list[bool]:
    """Tell, for each line from `start`, whether Markdown passes it through as it is:
    inside an HTML comment, a block-level HTML element (to its closing tag) or `$$`
    display math. An approximation, for warnings only."""
    raw = [False] * len(lines)
    closing = ""  # what ends the raw region the line is in, if it is in one
    for index in range(start, len(lines)):
        line = lines[index]
        if closing:
            raw[index] = True
            if closing in line.lower():
                closing = ""
        elif "<!--" in line and "-->" not in line.split("<!--", 1)[1]:
            raw[index], closing = True, "-->"
        elif line.count("$$") % 2:
            raw[index], closing = True, "$$"
        elif (block := _HTML_BLOCK.match(line)) and block["tag"].lower() in _BLOCK_TAGS:
            end = f"</{block['tag'].lower()}"
            raw[index] = True
            closing = "" if end in line.lower() else end
    return raw
