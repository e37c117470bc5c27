"""The options a code block's info string may carry, and what makes one wrong.

The build, `check` and the pytest plugin ask the same questions here, so that a typo
(`hdie` for `hide`) stops the build before the code it meant to hide ships on a card,
and fails the card's test with the same words.
"""

from __future__ import annotations

import difflib
import re

from deckbuilder.errors import SourceError
from deckbuilder.fences import info_options
from deckbuilder.model import CodeBlock

PYTHON = frozenset({"python", "py", "python3"})
"""Languages whose blocks run."""
OPTIONS = ("norun", "skip", "raises", "timeout", "fresh", "setup", "include", "hide")
_BARE = ("norun", "setup", "hide")
"""Options that are a word alone."""
SHOWN = ("hide", "norun")
"""The options that mean something to a block of another language."""
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def option_problem(block: CodeBlock, preamble: bool = False) -> SourceError | None:
    """Return what is wrong with the options of the Python `block`, if anything;
    `preamble` tells whether it stands above the file's first card."""
    try:
        written = [key for key, _ in info_options(block.info)[1]]
    except ValueError:
        written = []  # unbalanced quotes: an error of its own (see `parse`)
    for key in written:
        if written.count(key) > 1:
            return SourceError(
                f"code block option {key!r} is given twice",
                block.location,
                "keep one of them",
            )
    for key, value in block.options.items():
        if key not in OPTIONS:
            return unknown_option(key, block)
        if key in _BARE and value:
            return SourceError(
                f"code block option {key!r} takes no value",
                block.location,
                f"write just {key}",
            )
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


def unknown_words(keys: list[str], block: CodeBlock) -> SourceError:
    """Return the warning of words that are no options in a block that does not
    run, where only `SHOWN` mean something."""
    close = [
        match[0]
        for key in keys
        if (match := difflib.get_close_matches(key, SHOWN, n=1))
    ]
    guess = f"did you mean {close[0]!r}? " if close else ""
    words = ", ".join(repr(key) for key in keys)
    return SourceError(
        f"unknown code block option{'s' * (len(keys) > 1)} {words}",
        block.location,
        f"{guess}only {' and '.join(SHOWN)} apply to a {block.language or 'plain'} "
        "block; other words after the language are not read",
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
