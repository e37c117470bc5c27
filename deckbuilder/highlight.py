"""Highlight fenced code with Pygments into HTML that stylesheet classes colour."""

from __future__ import annotations

import difflib
import functools
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

from pygments import format as pygments_format
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.style import Style
from pygments.styles import get_style_by_name
from pygments.token import (
    STANDARD_TYPES,
    Token,
    Whitespace,
    _TokenType,
    is_token_subtype,
)
from pygments.util import ClassNotFound

from deckbuilder.cloze import HTML_SEPARATOR, Cloze
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

    def highlight(
        self,
        code: str,
        info: str,
        *,
        location: Location,
        clozes: Sequence[Cloze] = (),
    ) -> Highlighted:
        """Return the HTML for `code` whose fence has the info string `info`.

        `location` is the opening fence, where a warning about the language points.
        `clozes` are Anki cloze deletions found in `code`: the code is highlighted
        without their markers, which are then put back whole around the tokens.
        """
        written = language_of(info)
        language = written.lower()  # as Pygments' own look-up does
        if not language:
            return Highlighted(self._render(code, self._plain, "", clozes))

        lexer = self._lexer(language)
        if lexer is None:
            warning = Diagnostic(
                location,
                Severity.WARNING,
                f'unknown code language "{written}"',
                f'use a Pygments lexer name such as "{_suggest(language)}"; '
                "the block is shown as plain text",
            )
            return Highlighted(self._render(code, self._plain, "", clozes), warning)
        return Highlighted(self._render(code, lexer, language, clozes))

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

    def _render(
        self, code: str, lexer: Lexer, language: str, clozes: Sequence[Cloze] = ()
    ) -> str:
        if clozes:
            body = self._with_clozes(code, lexer, clozes)
        else:
            # Pygments would turn empty code into a lone newline.
            body = pygments_highlight(code, lexer, self._formatter) if code else ""
        attribute = f' class="language-{html.escape(language)}"' if language else ""
        return f'<pre class="{CODE_CLASS}"><code{attribute}>{body}</code></pre>'

    def _with_clozes(self, code: str, lexer: Lexer, clozes: Sequence[Cloze]) -> str:
        # Pygments would split `{{c1::` into coloured braces and names, which Anki
        # no longer reads as a cloze, and the markers would confuse the lexer. So
        # the lexer sees the code without them, and a private-use character stands
        # in for each marker: as a plain-text token it ends the token around it
        # and comes out bare, between spans, where the marker then replaces it.
        stand_in = _unused_character(code)
        cuts = sorted(
            [(c.start, c.text_start, f"{{{{c{c.number}::") for c in clozes]
            + [(c.text_end, c.end, html.escape(c.closing, quote=False)) for c in clozes]
        )
        pieces: list[str] = []
        done = 0
        for start, end, _ in cuts:
            pieces += [code[done:start], stand_in]
            done = end
        pieces.append(code[done:])
        clean = "".join(pieces)

        tokens = [
            token for token in lexer.get_tokens(clean.replace(stand_in, "")) if token[1]
        ]
        body = pygments_format(_insert(tokens, clean, stand_in), self._formatter)
        return _join_markers(body.split(stand_in), [marker for *_, marker in cuts])


def _unused_character(code: str) -> str:
    return next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in code)


def _insert(
    tokens: list[tuple[_TokenType, str]], clean: str, stand_in: str
) -> list[tuple[_TokenType, str]]:
    """Split `tokens` where `clean` (their text with stand-ins) holds a stand-in."""
    offsets = [match.start() for match in re.finditer(re.escape(stand_in), clean)]
    # Offsets into the text without stand-ins: each earlier stand-in shifts by one.
    points = [offset - index for index, offset in enumerate(offsets)]
    result: list[tuple[_TokenType, str]] = []
    position = 0
    point = 0
    for token_type, value in tokens:
        end = position + len(value)
        cut = position
        while point < len(points) and points[point] <= end:
            if points[point] > cut:
                result.append(
                    (token_type, value[cut - position : points[point] - position])
                )
                cut = points[point]
            result.append((Token.Text, stand_in))
            point += 1
        if cut < end:
            result.append((token_type, value[cut - position :]))
        position = end
    result += [(Token.Text, stand_in)] * (len(points) - point)
    return result


def _join_markers(pieces: list[str], markers: list[str]) -> str:
    # Anki ends a cloze at the first `}}` after its opening; Pygments merges
    # neighbouring braces into one span, so braces in hidden code are kept apart.
    output = [pieces[0]]
    depth = 0
    for marker, piece in zip(markers, pieces[1:], strict=True):
        if depth > 0 and marker.startswith("}") and output[-1].endswith("}"):
            output.append(HTML_SEPARATOR)
        output.append(marker)
        depth += -1 if marker.endswith("}}") else 1
        output.append(
            re.sub(r"\}(?=\})", "}" + HTML_SEPARATOR, piece) if depth > 0 else piece
        )
    return "".join(output)


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
    # A looser match suggests names that only share letters ("spicelang" for
    # "nosuchlang").
    matches = difflib.get_close_matches(language, _known_names(), n=1, cutoff=0.75)
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
    underline = "underline" if token_style["underline"] else "none"
    return (
        "; ".join(
            [
                f"color: {colour}",
                f"background-color: {background}",
                f"font-weight: {'bold' if token_style['bold'] else 'normal'}",
                f"font-style: {'italic' if token_style['italic'] else 'normal'}",
                f"text-decoration: {underline}",
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
