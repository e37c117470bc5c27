"""Highlight fenced code with Pygments into HTML that stylesheet classes colour."""

from __future__ import annotations

import difflib
import functools
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.style import Style
from pygments.styles import get_style_by_name
from pygments.token import STANDARD_TYPES, Token, Whitespace, is_token_subtype
from pygments.util import ClassNotFound

from deckbuilder.fences import split_info
from deckbuilder.model import Location
from deckbuilder.report import Diagnostic, Severity

CODE_CLASS = "code"
"""Class of the `<pre>` around every fenced block; the stylesheet hangs on it."""

TOKEN_PREFIX = "hl-"
"""Prefix of Pygments' token classes, so that `.k` or `.s` elsewhere cannot clash."""

PLAIN_LANGUAGES = frozenset({"output", "text"})
"""Languages that are known to be plain text. Pygments has an `output` lexer, but the
card format promises that output blocks are shown as plain text."""

LIGHT_STYLE = "default"
NIGHT_STYLE = "github-dark"
"""Pygments styles for Anki's light and night modes; both keep every token colour at a
WCAG AA contrast (4.5:1) against their own background, which a test pins."""

NIGHT_MODE_CLASSES = ("nightMode", "night_mode")
"""Classes that Anki's clients put around the card in night mode; which one depends
on the client and its version, so the night scheme covers both."""


@dataclass(frozen=True)
class Highlighted:
    """A code block's HTML and, for an unknown language, the warning about it."""

    html: str
    diagnostic: Diagnostic | None = None


class Highlighter:
    """Turn code blocks into `<pre class="code">` HTML, caching lexers per name."""

    def __init__(self) -> None:
        # nowrap: we write the <pre><code> ourselves so that highlighted, plain and
        # unknown blocks share one shape; Pygments' wrapper adds a stray <span></span>.
        self._formatter = HtmlFormatter(nowrap=True, classprefix=TOKEN_PREFIX)
        self._plain = _lexer("text")
        self._lexers: dict[str, Lexer | None] = {}

    def highlight(self, code: str, info: str, *, location: Location) -> Highlighted:
        """Return the HTML for `code` whose fence has the info string `info`.

        `location` is the opening fence, where a warning about the language points.
        """
        written = language_of(info)
        language = written.lower()  # as Pygments' own look-up does
        if not language:
            return Highlighted(self._render(code, self._plain, ""))

        lexer = self._lexer(language)
        if lexer is None:
            warning = Diagnostic(
                location,
                Severity.WARNING,
                f'unknown code language "{written}"',
                f'use a Pygments lexer name such as "{_suggest(language)}"; '
                "the block is shown as plain text",
            )
            return Highlighted(self._render(code, self._plain, ""), warning)
        return Highlighted(self._render(code, lexer, language))

    def _lexer(self, language: str) -> Lexer | None:
        if language not in self._lexers:
            if language in PLAIN_LANGUAGES:
                self._lexers[language] = self._plain
            else:
                try:
                    self._lexers[language] = _lexer(language)
                except ClassNotFound:
                    self._lexers[language] = None
        return self._lexers[language]

    def _render(self, code: str, lexer: Lexer, language: str) -> str:
        # Pygments would turn empty code into a lone newline.
        body = pygments_highlight(code, lexer, self._formatter) if code else ""
        attribute = f' class="language-{html.escape(language)}"' if language else ""
        return f'<pre class="{CODE_CLASS}"><code{attribute}>{body}</code></pre>'


def language_of(info: str) -> str:
    """Return the language of a fence's info string: its first word, or ""."""
    try:
        language, _ = split_info(info)
    except ValueError:
        # Unbalanced quotes in an option are the parser's to report; the language
        # is still the first word.
        words = info.split()
        language = words[0] if words else ""
    return language


def _lexer(name: str) -> Lexer:
    # Lexers strip leading and trailing blank lines by default; code must appear
    # exactly as written. get_lexer_by_name never guesses, unlike guess_lexer.
    return get_lexer_by_name(name, stripnl=False)


def _suggest(language: str) -> str:
    matches = difflib.get_close_matches(language, _known_names(), n=1)
    return matches[0] if matches else "python"


@functools.cache
def _known_names() -> tuple[str, ...]:
    names = {alias for _, aliases, _, _ in get_all_lexers() for alias in aliases}
    return tuple(sorted(names | PLAIN_LANGUAGES))


def stylesheet() -> str:
    """Return the note type's CSS: the theme, then the code colours of both modes."""
    theme = resources.files("deckbuilder").joinpath("theme.css")
    return theme.read_text(encoding="utf-8") + "\n" + code_colours()


def code_colours() -> str:
    """Return the CSS that colours highlighted code in Anki's light and night modes.

    Both schemes give every token class a complete rule (colour, weight, slant,
    decoration, background, border), so nothing from the light scheme leaks into
    night mode where the night style leaves a token at its default.
    """
    night_scopes = [f".{name} .{CODE_CLASS}" for name in NIGHT_MODE_CLASSES]
    parts = [
        (
            f"/* Code colours: Pygments styles {LIGHT_STYLE!r} (light) and "
            f"{NIGHT_STYLE!r} (night), from deckbuilder.highlight.code_colours(). */"
        ),
        *_scheme(get_style_by_name(LIGHT_STYLE), [f".{CODE_CLASS}"]),
        *_scheme(get_style_by_name(NIGHT_STYLE), night_scopes),
    ]
    return "\n".join(parts) + "\n"


def _scheme(style: type[Style], scopes: list[str]) -> list[str]:
    background = style.background_color
    text = _text_colour(style)
    rules = [
        f"{', '.join(scopes)} {{ color: {text}; background-color: {background}; }}"
    ]

    # Group token classes with the same declarations into one rule to keep the
    # note type's CSS short; sorting keeps the output byte-for-byte reproducible.
    groups: dict[str, list[str]] = {}
    for token, name in STANDARD_TYPES.items():
        # Whitespace shows no colour; some styles give it one for a visible-space
        # option that we do not use.
        if name and not is_token_subtype(token, Whitespace):
            declarations = _declarations(style.style_for_token(token), text)
            groups.setdefault(declarations, []).append(TOKEN_PREFIX + name)
    for declarations, names in sorted(groups.items(), key=lambda item: item[1]):
        selectors = _selectors(scopes, sorted(names))
        rules.append(f"{selectors} {{ {declarations} }}")
    return rules


def _text_colour(style: type[Style]) -> str:
    colour = style.style_for_token(Token)["color"]
    if colour:
        return f"#{colour}"
    # A style without a text colour relies on the page's; pick the readable extreme.
    return "#000000" if _luminance(style.background_color) > 0.5 else "#ffffff"


def _declarations(token_style: Mapping[str, object], text: str) -> str:
    colour = f"#{token_style['color']}" if token_style["color"] else text
    background = (
        f"#{token_style['bgcolor']}" if token_style["bgcolor"] else "transparent"
    )
    border = f"1px solid #{token_style['border']}" if token_style["border"] else "none"
    return (
        "; ".join(
            [
                f"color: {colour}",
                f"background-color: {background}",
                f"font-weight: {'bold' if token_style['bold'] else 'normal'}",
                f"font-style: {'italic' if token_style['italic'] else 'normal'}",
                f"text-decoration: {'underline' if token_style['underline'] else 'none'}",
                f"border: {border}",
            ]
        )
        + ";"
    )


def _selectors(scopes: Iterable[str], classes: Iterable[str]) -> str:
    return ", ".join(f"{scope} .{name}" for scope in scopes for name in classes)


def _luminance(colour: str) -> float:
    """Return the WCAG relative luminance of a `#rrggbb` or `#rgb` colour."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    channels = [int(digits[index : index + 2], 16) / 255 for index in (0, 2, 4)]
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
