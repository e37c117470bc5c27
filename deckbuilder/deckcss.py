"""Scope a deck's own CSS to that deck's cards, since all decks share one note type."""

from __future__ import annotations

import os
import re
from pathlib import Path

from deckbuilder import inputs
from deckbuilder.errors import SourceError
from deckbuilder.model import Location, location_at
from deckbuilder.sources import decode_utf8, project_boundary

CARD_CLASS = "deck"
"""Class of the element around every card; its `data-deck` holds Anki's `{{Deck}}`."""

# Anki puts these on <html> or <body>, outside the card's own element: a selector
# starting with them keeps them in front of the deck's scope.
_OUTER = re.compile(
    r"^(?:(?:html|body|:root|\.card\d*|\.nightMode|\.night_mode|\.night-mode"
    r"|\.mobile|\.android|\.iphone|\.ipad|\.win|\.mac|\.linux)(?![\w-]))+"
)
_LEADING = re.compile(r"(?:\s|/\*.*?\*/)*", re.DOTALL)
_GROUPING_AT_RULES = ("@media", "@supports", "@container", "@layer")


class CssError(ValueError):
    """CSS that cannot be scoped: an unclosed block, comment or string."""

    def __init__(self, offset: int, message: str, remedy: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.remedy = remedy


def deck_selector(deck: str) -> str:
    """Return the selector that matches the cards of `deck` (its full name)."""
    escaped = deck.replace("\\", "\\\\").replace('"', '\\"')
    return f'.{CARD_CLASS}[data-deck="{escaped}"]'


def scope_css(css: str, deck: str) -> str:
    """Return `css` with every style rule limited to the cards of `deck`.

    `h3 { ... }` becomes `.deck[data-deck="ML::GANs"] h3 { ... }`; a selector that
    starts with what Anki sets outside the card (`.nightMode`, `.card`, `body`)
    keeps that part in front: `.nightMode h3` becomes `.nightMode .deck[...] h3`.
    Rules inside `@media` and `@supports` are scoped too; `@font-face` and
    `@keyframes` are kept as written. Raise `CssError` for unbalanced CSS.
    """
    scoped, end = _block(css, 0, deck_selector(deck), top=True)
    assert end == len(css)
    return scoped


def _block(css: str, start: int, scope: str, *, top: bool) -> tuple[str, int]:
    """Scope the rules from `start` to the `}` closing their block (or the end)."""
    output: list[str] = []
    index = start
    while True:
        prelude_start = index
        index = _skip(css, index, "{};")
        if index == len(css) or css[index] == "}":
            output.append(css[prelude_start:index])
            if index == len(css) and not top:
                raise CssError(start - 1, "block is never closed", "close it with }")
            if index < len(css) and top:
                raise CssError(index, "unexpected }", "delete it or open its block")
            return "".join(output), index
        prelude = css[prelude_start:index]
        if css[index] == ";":
            output.append(prelude + ";")
            index += 1
            continue
        name = prelude.strip().split(None, 1)[0].lower() if prelude.strip() else ""
        if name.startswith(_GROUPING_AT_RULES):
            inner, close = _block(css, index + 1, scope, top=False)
            output.append(f"{prelude}{{{inner}}}")
        elif name.startswith("@"):
            close = _matching(css, index)
            output.append(css[prelude_start : close + 1])
        else:
            close = _matching(css, index)
            output.append(_scope_selectors(prelude, scope) + css[index : close + 1])
        index = close + 1


def _scope_selectors(prelude: str, scope: str) -> str:
    # Comments between rules end up at the start of the next rule's prelude.
    leading = _LEADING.match(prelude)
    assert leading is not None
    selectors = prelude[leading.end() :].rstrip()
    trailing = prelude[leading.end() + len(selectors) :]
    scoped = ", ".join(_scope_one(s.strip(), scope) for s in _split_commas(selectors))
    return leading[0] + scoped + trailing


def _scope_one(selector: str, scope: str) -> str:
    outer = _OUTER.match(selector)
    if outer is None:
        return f"{scope} {selector}"
    rest = selector[outer.end() :].strip()
    return f"{outer[0]} {scope} {rest}".rstrip()


def _split_commas(selectors: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(selectors):
        char = selectors[index]
        if char in "\"'":
            index = _string_end(selectors, index)
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(selectors[start:index])
            start = index + 1
        index += 1
    parts.append(selectors[start:])
    return parts


def _skip(css: str, index: int, stops: str) -> int:
    """Return the offset of the next character in `stops` outside comments and
    strings, or the end."""
    while index < len(css):
        char = css[index]
        if css.startswith("/*", index):
            end = css.find("*/", index + 2)
            if end == -1:
                raise CssError(index, "comment is never closed", "close it with */")
            index = end + 2
        elif char in "\"'":
            index = _string_end(css, index)
        elif char == "\\":
            index += 2
        elif char in stops:
            return index
        else:
            index += 1
    return index


def _matching(css: str, opening: int) -> int:
    """Return the offset of the `}` that closes the `{` at `opening`."""
    depth = 0
    index = opening
    while True:
        index = _skip(css, index, "{}")
        if index == len(css):
            raise CssError(opening, "block is never closed", "close it with }")
        depth += 1 if css[index] == "{" else -1
        if depth == 0:
            return index
        index += 1


def _string_end(css: str, opening: int) -> int:
    quote = css[opening]
    index = opening + 1
    while index < len(css):
        if css[index] == "\\":
            index += 2
        elif css[index] == quote:
            return index + 1
        elif css[index] == "\n":
            break
        else:
            index += 1
    raise CssError(opening, "string is never closed", f"close it with {quote}")


def read_deck_css(value: object, card_file: Path, deck: str, where: Location) -> str:
    """Read the stylesheet the front matter's `css` names and scope it to `deck`.

    The path is relative to the card file and must stay inside the card's project
    (or, outside any project, the card's folder). Problems are `SourceError`s at
    `where`, the `css` line, or in the stylesheet itself.
    """
    if not isinstance(value, str) or not value.strip():
        raise SourceError(
            "css must name a stylesheet", where, "write e.g. `css: decks/gans.css`"
        )
    boundary = project_boundary(card_file)
    target = Path(os.path.realpath(card_file.parent / value.strip()))
    if not target.is_relative_to(boundary):
        raise SourceError(
            f"stylesheet {value!r} is outside the project",
            where,
            f"keep it inside {boundary}",
        )
    try:
        # By the path as written, so that a build can tell when a symbolic link
        # on the way is pointed elsewhere.
        data = inputs.read_bytes(card_file.parent / value.strip())
    except OSError as error:
        raise SourceError(
            f"cannot read stylesheet {value!r}: {error.strerror}",
            where,
            "paths are relative to the card file",
        ) from error
    shown = Path(os.path.normpath(card_file.parent / value.strip()))
    text = decode_utf8(data, shown, SourceError, "stylesheet", "save it as UTF-8")
    try:
        return scope_css(text, deck)
    except CssError as error:
        raise SourceError(
            f"stylesheet {error.message}",
            location_at(shown, text, error.offset),
            error.remedy,
        ) from error
