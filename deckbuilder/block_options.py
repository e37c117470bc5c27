"""The options a code block's info string may carry, and what makes one wrong.

The build, `check` and the pytest plugin ask the same questions here, so that a typo
(`hdie` for `hide`) stops the build before the code it meant to hide ships on a card,
and fails the card's test with the same words.
"""

from __future__ import annotations

import difflib
import re

from deckbuilder.errors import SourceError
from deckbuilder.model import CodeBlock

PYTHON = frozenset({"python", "py", "python3"})
"""Languages whose blocks run."""
OPTIONS = ("norun", "skip", "raises", "timeout", "fresh", "setup", "include", "hide")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def option_problem(block: CodeBlock, preamble: bool = False) -> SourceError | None:
    """Return what is wrong with the options of the Python `block`, if anything;
    `preamble` tells whether it stands above the file's first card."""
    for key, value in block.options.items():
        if key not in OPTIONS:
            return unknown_option(key, block)
        if key == "raises" and not _DOTTED.match(value):
            return SourceError(
                f"raises={value!r} does not name an exception class",
                block.location,
                "write e.g. raises=ValueError",
            )
        if key == "timeout" and timeout_seconds(value) is None:
            return SourceError(
                f"timeout={value!r} is not a number of seconds",
                block.location,
                f"write e.g. timeout=30; at most {MAX_TIMEOUT:.0f} (a day)",
            )
    if "setup" in block.options and not preamble:
        return SourceError(
            "a `setup` block runs before every card, so it belongs in the preamble",
            block.location,
            "move it above the first `##` heading, or drop `setup`",
        )
    return None


def unknown_option(key: str, block: CodeBlock) -> SourceError:
    """Return the error of a word in `block`'s info string that is no option."""
    close = difflib.get_close_matches(key, OPTIONS, n=1)
    known = f"use one of: {', '.join(OPTIONS)}"
    return SourceError(
        f"unknown code block option {key!r}",
        block.location,
        f"did you mean {close[0]!r}? Otherwise {known}" if close else known,
    )


MAX_TIMEOUT = 86_400.0
"""The longest time limit a block may ask for: a day (the clock cannot count to
`inf`)."""


def timeout_seconds(value: str) -> float | None:
    """Return the seconds a `timeout=` value gives, or None if it gives none."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 < seconds <= MAX_TIMEOUT else None
