"""Convert the HTML of one Anki field into card Markdown, removing anything unsafe.

Anki stores every field as HTML written by its editor: a `<div>` or a `<br>` per line,
`&nbsp;` for spaces, MathJax between `\\(` and `\\)`, `[sound:...]` tags and cloze
markers in the text. The field comes from someone else's package, so it is untrusted:
scripts, event handlers and `javascript:` links are removed and reported before the
rest is converted, and every piece of text is escaped so that it shows as written.

Choices: Anki's lines (`<div>`s, `<br>`s) stay lines, joined by `<br>` in one
paragraph, and an empty line starts a new paragraph, so the card keeps its spacing;
headings start at level 3, as `##` starts a card; `<u>`, `<sub>`, `<sup>`, `<kbd>`,
`<mark>`, `<s>`, `<del>` and ruby (`<ruby>`, `<rt>`, `<rp>`) stay inline HTML without
attributes; a `[` that Markdown could read as a link is written `&#91;` (`\\[` would
open display math), any other stays `[`.

Known limitations: math and `[sound:...]` are found only within one run of text (not
across tags such as `\\(x<sup>2</sup>\\)`); trailing spaces on code lines are dropped;
a table keeps only the text of block content in its cells, on `<br>`-separated lines;
formatting or a link around whole blocks (lists, tables, code) is dropped; code in a
quote is an indented block, without its language, as our renderer reads no fence
there; styling (colours, fonts, alignment) is lost, as Markdown has none; a `>` or
`#` that starts a line only after a `<br>` in other markup (`<b>1</b><br><i>></i>`)
can still read as a quote or heading marker (found by the long fuzz run).
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, Tag
from markdownify import MarkdownConverter

from deckbuilder.importers.plaintext import escape
from deckbuilder.importers.sanitise import sanitise


@dataclass(frozen=True)
class Converted:
    """A field's Markdown, what was removed as unsafe, and the media it refers to."""

    markdown: str
    """The Markdown, without leading or trailing blank lines."""
    removed: tuple[str, ...]
    """One phrase per unsafe thing removed, such as "<script> element"."""
    media: tuple[str, ...]
    """Names of the images and sounds used, as the field writes them (unescaped and
    unquoted), in order of first use, once each; web addresses are not media."""


def to_markdown(
    html: str,
    *,
    media_path: Callable[[str], str] = lambda name: name,
    cloze: bool = False,
) -> Converted:
    """Return the Markdown for one field of an Anki note.

    `media_path` maps a media name of the field to the path the Markdown refers to.
    With `cloze`, the field is a cloze note's text: braces inside its clozes are
    written so that our renderer ends each cloze where Anki does.
    """
    soup = BeautifulSoup(html, "html.parser")
    removed = sanitise(soup)
    _clean_text(soup)
    _fill_rowspans(soup)
    _drop_empty_inline(soup)
    _merge_touching(soup)
    soup.smooth()  # removed elements may leave neighbouring strings that read as one

    converter = _Converter(media_path, cloze)
    markdown = _plain_brackets(_tidy(converter.convert_soup(soup), converter.stash))
    return Converted(markdown, (*removed, *converter.dropped), converter.media)


# A `[` written as a reference that can be a plain `[` again: not after a backslash
# (`\[` opens display math), not before `^` (a footnote) or `sound:` (a sound), and
# not closed on its line by a `]` that a `(`, `[` or `:` follows (a link).
_BRACKET = re.compile(r"(?<!\\)&#91;(?!\^|sound:)(?![^\]\n]*\][(\[:])")


def _plain_brackets(markdown: str) -> str:
    """Write back as `[` the brackets that Markdown would read as text anyway, so the
    field holds `[` itself: Anki's furigana (`漢字[かんじ]`) reads the field's HTML."""
    return _BRACKET.sub("[", markdown)


def _clean_text(soup: BeautifulSoup) -> None:
    """Drop control characters, which card files may not hold (Anki cannot store
    them either), and the characters this module uses as markers."""
    for string in list(soup.find_all(string=True)):
        cleaned = _CONTROL.sub("", _MARKERS.sub("", str(string)))
        if cleaned != string:
            string.replace_with(cleaned)
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            if isinstance(value, str):
                tag[name] = _CONTROL.sub("", _MARKERS.sub("", value))


def _fill_rowspans(soup: BeautifulSoup) -> None:
    """Give rows an empty cell where a cell above spans down, as Markdown cannot."""
    for table in soup.find_all("table"):
        spanning: dict[int, int] = {}  # column -> rows it still covers
        for row in _rows(table):
            column = 0
            for cell in list(row.find_all(["td", "th"], recursive=False)):
                while spanning.get(column, 0) > 0:
                    cell.insert_before(soup.new_tag("td"))
                    spanning[column] -= 1
                    column += 1
                rows = _span(cell, "rowspan")
                for covered in range(column, column + _span(cell, "colspan")):
                    spanning[covered] = rows - 1
                column += _span(cell, "colspan")
            while spanning.get(column, 0) > 0:
                row.append(soup.new_tag("td"))
                spanning[column] -= 1
                column += 1


def _rows(table: Tag) -> Iterable[Tag]:
    for child in table.find_all("tr"):
        if child.find_parent("table") is table:
            yield child


def _span(cell: Tag, attribute: str) -> int:
    value = str(cell.get(attribute, "1")).strip()
    return max(1, min(int(value), 100)) if value.isdigit() else 1


def _drop_empty_inline(soup: BeautifulSoup) -> None:
    # `<b></b>` shows nothing, and would keep apart two tags that must merge.
    for tag in reversed(soup.find_all(True)):
        if (
            tag.name not in _BLOCKS
            and tag.name not in ("img", "wbr", "audio", "video", "source")
            and not tag.get_text()
            and tag.find(["img", "br"]) is None
        ):
            tag.decompose()


def _merge_touching(soup: BeautifulSoup) -> None:
    """Join `<b>a</b><b>b</b>` into one, as `**a****b**` would not read back, nor
    would two code spans that touch."""
    for tag in soup.find_all([*_EMPHASIS, "code"]):
        if tag.decomposed:
            continue
        following = tag.next_sibling
        while isinstance(following, Tag) and following.name == tag.name:
            tag.extend(list(following.contents))
            following.decompose()
            following = tag.next_sibling


# Conversion ----------------------------------------------------------------------

# Noncharacters (never interchanged as text) mark what only the end can decide.
_BR = "\ufdd0"
"""A `<br>`: ends the line, or makes an empty line when the line is empty."""
_EDGE = "\ufdd1"
"""The start or end of a `<div>`: ends the line unless it is empty."""
_CELL = "\ufdd2"
_ROW = "\ufdd3"
_STASH = "\ufdd4"
"""Opens and closes the number of a code block kept aside until the end."""
_CLOSE_BRACKET = "\ufdd5"
"""A `]` in a link's text, written as a reference once the text is escaped."""
_MARKERS = re.compile("[\ufdd0-\ufdd5]")
_LINE_MARKERS = re.compile(f"([{_BR}{_EDGE}]+)")

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "ul", "br",
    }
)  # fmt: skip
_EMPHASIS = {"b": "strong", "strong": "strong", "i": "em", "em": "em"}
_KEPT_INLINE = {
    "u": "u", "ins": "u", "sub": "sub", "sup": "sup", "kbd": "kbd", "mark": "mark",
    "s": "s", "strike": "s", "del": "del", "ruby": "ruby", "rt": "rt", "rp": "rp",
}  # fmt: skip
"""Tags with no Markdown form, kept as inline HTML without their attributes."""

_BLOCK_START = re.compile(f"{_STASH}|[|>#]|(?:-|\\d+\\.) ")
_CLOSING_HASHES = re.compile(r"(?<!\\)((?:\\\\)*)(#+)$")  # `#`s not escaped
_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_BACKTICKS = re.compile(r"`+")
_LANGUAGE = re.compile(r"(?:language|lang|highlight(?:-source)?)-(?P<name>\w[\w+#.-]*)")
_WEB = re.compile(r"(?:https?:)?//", re.IGNORECASE)
_SPECIAL = re.compile(
    r"\\\((?P<inline>.*?)\\\)"  # MathJax inline math
    r"|\\\[(?P<display>.*?)\\\]"  # MathJax display math
    r"|\[sound:(?P<sound>[^\]]+)\]"
    r"|(?P<opener>\{\{c\d+::)|(?P<closer>\}\})|(?P<brace>[{}])",
    re.DOTALL,
)
# What plaintext.escape leaves alone because it sees a whole line, while a text node
# is only part of one: `[` or `$` closed by a later node, `|` that a later line turns
# into a table, `<` or `&` completed by the next node, and `&` before `#` or a
# letter, which browsers read as a reference even without its `;`. `[` becomes a
# reference, never `\[`: that opens display math, which a later `\]` (as in `\\]`)
# would close.
_FRAGMENT = re.compile(
    r"\\.|&#?\w+;|[\[$|]|<$|&(?=[#\w]|$)"
    r"|(?<![^\W_])_|_(?![^\W_])"  # `_` not inside a word: escape() leaves `__1__`
)
_FRAGMENT_ENTITIES = {"<": "&lt;", "&": "&amp;", "[": "&#91;", "\\[": "&#91;"}
# Line starts escape() misses: "1." before a <b> (it sees no space after it), `-- -`
# (a rule too), and `=` which, under a line that a <br> ended, makes it a heading.
_LINE_START = (
    (re.compile(r"(\d+)\.$"), r"\1\\."),
    (re.compile(r"-(?=[ -]*$)"), r"\\-"),
    (re.compile(r"="), "&#61;"),
)
# A character of a media path that Markdown, our math or cloze scanning, or media.py
# (which takes `name:` for a web address and unescapes `&lt;`) could misread.
_UNSAFE_IN_PATH = re.compile(r"[^\w./!+,;=@~-]|(?<!\w)_|_(?!\w)")
# The same for a web address, which keeps its `:`, `?`, `#` and percent-escapes.
_UNSAFE_IN_URL = re.compile(r"[\s()<>\[\]\"`\\${}|^]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class _CodeBlock:
    language: str
    code: str

    def lines(self, *, quoted: bool) -> list[str]:
        """Return the block's Markdown lines; `quoted` for a block in a quote, where
        our renderer reads no fence, but an indented block (without language)."""
        code = [line.rstrip() for line in self.code.split("\n")]
        if quoted:
            return ["    " + line for line in code]
        longest = max((len(run) for run in _BACKTICKS.findall(self.code)), default=0)
        fence = "`" * max(3, longest + 1)
        return [fence + self.language, *code, fence]


class _Converter(MarkdownConverter):
    """markdownify, told how Anki writes fields and how our card format reads them."""

    def __init__(self, media_path: Callable[[str], str], cloze: bool) -> None:
        super().__init__(heading_style="atx", bullets="-")
        self._media_path = media_path
        self._cloze = cloze
        self._depth = 0  # clozes open at this point of the text
        self._after_sound = False
        self._media: dict[str, None] = {}
        self.dropped: list[str] = []
        """What the field shows that the Markdown cannot, in the words of `removed`."""
        self.stash: list[_CodeBlock] = []
        """Code blocks, written last so that no step of the conversion sees them."""

    @property
    def media(self) -> tuple[str, ...]:
        """The media names met so far, in order of first use."""
        return tuple(self._media)

    # Text -------------------------------------------------------------------

    def process_text(self, el: NavigableString, parent_tags: set[str]) -> str:
        if "pre" in parent_tags or "code" in parent_tags:
            return ""  # code is read whole by its element
        text = str(el).replace("\xa0", " ")
        if "a" in parent_tags:
            # A `]` would end the link's text early; `\]` could close `\[` math.
            text = text.replace("]", _CLOSE_BRACKET)
        pieces: list[str] = []
        done = 0
        for match in _SPECIAL.finditer(text):
            pieces.append(self._text(text[done : match.start()], el, not pieces))
            pieces.append(self._special(match, text[match.end() :], el))
            done = match.end()
        pieces.append(self._text(text[done:], el, not pieces))
        converted = self._trim("".join(pieces), el).replace(_CLOSE_BRACKET, "&#93;")
        following = _visible_sibling(el, 1)
        if converted.endswith("!") and isinstance(following, Tag):
            converted = converted[:-1] + "\\!"  # `!` before a link makes an image
        return converted

    def _text(self, text: str, el: NavigableString, first: bool) -> str:
        if not text:
            return ""
        text = _WHITESPACE.sub(" ", text)
        if first and _at_line_start(el):
            # escape() reads a whole line: spaces at its ends hide `---` from it.
            leading, body, trailing = _chomp(text)
            escaped = leading + _escape_line_start(body) + trailing
        else:
            escaped = _escape_inline(text)
        escaped = _FRAGMENT.sub(_escape_fragment, escaped)
        if self._after_sound and escaped[0] in "(:":
            # `[sound:x](url)` or `[sound:x]: url` would make the tag a link.
            escaped = f"&#{ord(escaped[0])};" + escaped[1:]
        self._after_sound = False
        return escaped

    def _special(self, match: re.Match[str], rest: str, el: NavigableString) -> str:
        self._after_sound = False
        if match["inline"] is not None or match["display"] is not None:
            return self._math(match, rest, el)
        if match["sound"] is not None:
            self._after_sound = True
            return f"[sound:{self._media_file(match['sound'])}]"
        if not self._cloze:
            return match[0]  # braces are text outside a cloze note
        if match["opener"]:
            self._depth += 1
            return match[0]
        if not self._depth:
            return match[0]  # outside clozes, braces are text for Anki and for us
        if match["closer"]:
            self._depth -= 1
            return match[0]
        # Anki ends a cloze at its first `}}` and our renderer at the `}}` that
        # closes no brace opened inside, so a brace inside is written as a
        # reference, which neither counts.
        return "".join(f"&#{ord(char)};" for char in match[0])

    def _math(self, match: re.Match[str], rest: str, el: NavigableString) -> str:
        display = match["display"] is not None
        source = match["display"] if display else match["inline"]
        source = re.sub(r"[ \t]*\n\s*", "\n", source.replace("\xa0", " "))
        if "$" in source or "`" in source or not source.strip():
            # MathJax reads such spans, but our format would not: a backtick inside
            # is never math there, so that one is kept as text.
            if "`" in source:
                return _FRAGMENT.sub(_escape_fragment, _escape_inline(match[0]))
            return match[0]
        if display:
            return f"$${source}$$"
        following = rest[:1] or _next_text(el)[:1]
        if (
            source[0].isspace()
            or source[-1].isspace()
            or source.endswith("\\")
            or following.isdigit()
        ):
            return match[0]  # our format would not read `$...$` as this math
        return f"${source}$"

    def _trim(self, text: str, el: NavigableString) -> str:
        # As a browser does, spaces next to a block's edge or a line break show not.
        if _block_edge(el.previous_sibling, el.parent):
            text = text.lstrip(" ")
        if _block_edge(el.next_sibling, el.parent):
            text = text.rstrip(" ")
        return text

    def _media_file(self, written: str) -> str:
        name = urllib.parse.unquote(written)
        self._media.setdefault(name, None)
        return _quote(self._media_path(name))

    # Lines and blocks ----------------------------------------------------------

    def convert_br(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return _BR

    def convert_div(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return _EDGE + text + _EDGE

    convert_article = convert_section = convert_div
    convert_header = convert_footer = convert_main = convert_aside = convert_div
    convert_nav = convert_figure = convert_address = convert_div
    convert_dt = convert_div

    def convert_p(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_inline" in parent_tags:
            return _EDGE + text + _EDGE
        return f"\n\n{text.strip()}\n\n"

    def convert_hN(self, n: int, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = _resolve(text, inline=True).strip()
        if "_inline" in parent_tags or not text:
            return _EDGE + text + _EDGE
        if "li" in parent_tags:
            # Our renderer reads no heading in a list item: a line in bold instead.
            return _EDGE + _wrap(text, "<strong>", "</strong>") + _EDGE
        # A heading's closing `#`s are dropped, so the text's own are escaped.
        text = _CLOSING_HASHES.sub(lambda m: m[1] + "\\#" * len(m[2]), text)
        # `##` would start a new card, so headings start at level 3.
        return f"\n\n{'#' * min(6, n + 2)} {text}\n\n"

    def convert_hr(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return _EDGE if "_inline" in parent_tags else "\n\n---\n\n"

    def convert_blockquote(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = _resolve(text, inline=False).strip("\n ")
        if "_inline" in parent_tags or not text:
            return _EDGE + text + _EDGE
        quoted = "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
        return f"\n\n{quoted}\n\n"

    def convert_dd(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = _resolve(text, inline=False).strip("\n ")
        if "_inline" in parent_tags or not text:
            return _EDGE + text + _EDGE
        if "\n" in text:
            # Our renderer reads one paragraph per definition: more are kept as
            # paragraphs of their own.
            return f"\n\n{text}\n\n"
        return f"\n:   {text}\n\n"

    def convert_dl(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return f"\n\n{text.strip()}\n\n"

    # Lists ---------------------------------------------------------------------

    def convert_ul(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_inline" in parent_tags:
            return _EDGE + text + _EDGE
        nearest = el.find_parent(["li", "blockquote"])
        if nearest is not None and nearest.name == "li":
            # Tight after the item's text; text after it is a paragraph of its own.
            # In a quote, even one inside an item, a list needs a blank line first.
            return "\n" + text.strip("\n") + "\n\n"
        return "\n\n" + text.strip("\n") + "\n\n"

    convert_ol = convert_ul

    def convert_li(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = _resolve(text, inline="_inline" in parent_tags).strip("\n ")
        if "_inline" in parent_tags:
            return _EDGE + text + _EDGE
        if not text:
            return ""
        marker = "-"
        parent = el.parent
        if parent is not None and parent.name == "ol":
            start = str(parent.get("start", "1")).strip()
            first = int(start) if start.isdigit() else 1
            marker = f"{first + len(el.find_previous_siblings('li'))}."
        # Content lines line up with the item's text, which is where our renderer
        # reads nested lists: 2 spaces under "-", 3 under "1.".
        return _indent(_hold_first_line(text), marker + " ") + "\n"

    # Inline formatting -----------------------------------------------------------

    def convert_b(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        # `*` inside `*`, or next to another, may pair with the wrong one; HTML
        # tags cannot.
        if _touches_markup(el) or not parent_tags.isdisjoint(_EMPHASIS):
            tag = _EMPHASIS[el.name]
            return _wrap(text, f"<{tag}>", f"</{tag}>")
        return _wrap(text, "**" if _EMPHASIS[el.name] == "strong" else "*")

    convert_strong = convert_i = convert_em = convert_b

    def convert_u(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        tag = _KEPT_INLINE[el.name]
        return _wrap(text, f"<{tag}>", f"</{tag}>")

    convert_ins = convert_sub = convert_sup = convert_kbd = convert_mark = convert_u
    convert_s = convert_strike = convert_del = convert_u
    convert_ruby = convert_rt = convert_rp = convert_u

    def convert_samp(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self.convert_code(el, text, parent_tags)

    def convert_q(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return f'"{text}"'

    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        href = str(el.get("href", "")).strip()
        if not href or "a" in parent_tags:
            # Its address was unsafe and removed, or it had none; a link inside a
            # link is no link in a browser either.
            return text
        if "]" in text:
            # A `]` can only be in code here (text ones are escaped), where no escape
            # works: `[`]:`](x)` would be read as a reference definition. Inline HTML
            # keeps the link, and Markdown inside it still reads.
            opening = f'<a href="{html.escape(_quote(href, url=True))}">'
            return _wrap(text, opening, "</a>")
        return _wrap(text, "[", f"]({_quote(href, url=True)})")

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        alt = _WHITESPACE.sub(" ", str(el.get("alt", ""))).strip()
        alt = _escape_inline(alt) if alt else ""
        alt = _FRAGMENT.sub(_escape_fragment, alt).replace("]", "&#93;")
        src = str(el.get("src", "")).strip()
        if not src:
            return alt  # its source was unsafe and removed, or it had none
        path = _quote(src, url=True) if _WEB.match(src) else self._media_file(src)
        size = [
            f'{name}="{value}"'
            for name in ("width", "height")
            if (value := str(el.get(name, "")).strip()).isdigit()
        ]
        if size:
            # Markdown has no size for an image; an <img> tag keeps the one it had.
            text_alt = html.escape(str(el.get("alt", "")).strip())
            return f'<img src="{html.escape(path)}" alt="{text_alt}" {" ".join(size)}>'
        return f"![{alt}]({path})"

    def convert_audio(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        # Anki plays a file named in a `[sound:...]` tag, with its own controls.
        source = el if el.get("src") else el.find("source", src=True)
        src = str(source.get("src", "")) if source is not None else ""
        if src and not _WEB.match(src) and ":" not in src.split("/")[0]:
            return f"[sound:{self._media_file(src)}]"
        self.dropped.append(f"<{el.name}> element (Markdown has no player for it)")
        return text

    convert_video = convert_audio

    # Code ----------------------------------------------------------------------

    def convert_pre(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        code = _code_text(el)
        if "_inline" in parent_tags:
            return _apart(el, _code_span(code, in_table=_in_table(parent_tags)))
        return self._fence(code.strip("\n"), _language(el))

    def convert_code(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "pre" in parent_tags:
            return ""
        code = _code_text(el)
        language = _language(el)
        if language and "\n" in code.strip("\n") and "_inline" not in parent_tags:
            return self._fence(code.strip("\n"), language)
        return _apart(el, _code_span(code, in_table=_in_table(parent_tags)))

    def _fence(self, code: str, language: str) -> str:
        if not code.strip():
            return _EDGE  # an empty block still ends the line before it
        self.stash.append(_CodeBlock(language, code))
        return f"\n\n{_STASH}{len(self.stash) - 1}{_STASH}\n\n"

    # Tables --------------------------------------------------------------------

    def convert_td(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        cell = _resolve(text, inline=True).strip()
        return cell + _CELL + _CELL * (_span(el, "colspan") - 1)

    convert_th = convert_td

    def convert_tr(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return text + _ROW

    def convert_table(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        rows = [row.split(_CELL)[:-1] for row in text.split(_ROW)[:-1]]
        rows = [row for row in rows if row]
        if not any(cell.strip() for row in rows for cell in row):
            return _EDGE + text.replace(_CELL, " ").replace(_ROW, " ") + _EDGE
        if "_inline" in parent_tags:  # a table in a table's cell: its text, in lines
            return _EDGE + _BR.join(" ".join(row) for row in rows) + _EDGE
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        first = _rows(el)
        header = next(iter(first), None)
        if header is not None and _is_header(header):
            head, body = rows[0], rows[1:]
        else:
            head, body = [""] * width, rows  # Anki's tables have no header row
        lines = [head, ["---"] * width, *body]
        table = "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
        return f"\n\n{table}\n\n"

    # Everything else ---------------------------------------------------------------

    def convert__document_(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return _resolve(text, inline=False)


def _is_header(row: Tag) -> bool:
    cells = row.find_all(["td", "th"], recursive=False)
    in_head = row.parent is not None and row.parent.name == "thead"
    return in_head or (bool(cells) and all(cell.name == "th" for cell in cells))


def _touches_markup(el: Tag) -> bool:
    """Return whether `el` touches other emphasis, where `*` next to another `*`
    (`*a**b*`) would not read back as two emphases."""
    return _emphasis_beside(el, -1) or _emphasis_beside(el, 1)


def _emphasis_beside(el: Tag, step: int) -> bool:
    """Return whether what shows just before (-1) or after (1) `el` is emphasis,
    looking through tags that have no Markdown form, such as `<span>`."""
    node: Tag = el
    while (sibling := _visible_sibling(node, step)) is None:
        parent = node.parent
        if parent is None or parent.name in _BLOCKS or parent.name == "[document]":
            return False
        if parent.name in _EMPHASIS:
            return True
        node = parent
    while isinstance(sibling, Tag) and sibling.name not in _BLOCKS:
        if sibling.name in _EMPHASIS:
            return True
        children = sibling.contents
        sibling = (children[0] if step > 0 else children[-1]) if children else None
    return False


def _visible_sibling(el: PageElement, step: int) -> PageElement | None:
    """Return the sibling before (-1) or after (1) `el` that shows something."""
    sibling = el.previous_sibling if step < 0 else el.next_sibling
    while (
        isinstance(sibling, Tag)
        and sibling.name not in _BLOCKS
        and not sibling.get_text().strip()
        and sibling.find("img") is None
        and sibling.name != "img"
    ):
        sibling = sibling.previous_sibling if step < 0 else sibling.next_sibling
    return sibling


def _at_line_start(el: PageElement) -> bool:
    """Return whether `el` may start a line: nothing visible comes before it inline."""
    sibling = el.previous_sibling
    while sibling is not None:
        if isinstance(sibling, Tag):
            if sibling.name in _BLOCKS:
                return True
            if sibling.name == "img" or sibling.get_text().strip():
                return False
        elif str(sibling).strip():
            return False
        sibling = sibling.previous_sibling
    parent = el.parent
    # At the start of an inline element, the line may have started before it; an
    # escape too many shows the same text.
    return parent is None or parent.name in _BLOCKS or _at_line_start(parent)


def _block_edge(sibling: PageElement | None, parent: Tag | None) -> bool:
    if sibling is None:
        return parent is None or parent.name in _BLOCKS or parent.name == "[document]"
    return isinstance(sibling, Tag) and sibling.name in _BLOCKS


def _in_table(parent_tags: set[str]) -> bool:
    return "td" in parent_tags or "th" in parent_tags


def _apart(el: Tag, span: str) -> str:
    """Return the code `span` of `el`, with a space after it if the next text is
    code too: two spans in a row would run their backticks together (`a``b`)."""
    following = _string_after(el)
    if span and following is not None and following.find_parent(["code", "pre"]):
        return span if str(following)[:1].isspace() else span + " "
    return span


def _string_after(el: Tag) -> PageElement | None:
    last: PageElement = el
    while isinstance(last, Tag) and last.contents:
        last = last.contents[-1]
    return last.find_next(string=True)


def _next_text(el: PageElement) -> str:
    following = el.find_next(string=True)
    return str(following) if following is not None else ""


def _escape_inline(text: str) -> str:
    # A leading space keeps escape's line-start rules off text in mid-line.
    return escape(" " + text)[1:]


def _escape_line_start(text: str) -> str:
    escaped = escape(text)
    for pattern, replacement in _LINE_START:
        if pattern.match(escaped):
            return pattern.sub(replacement, escaped, count=1)
    return escaped


def _escape_fragment(match: re.Match[str]) -> str:
    found = match[0]
    if found in _FRAGMENT_ENTITIES:
        return _FRAGMENT_ENTITIES[found]
    if found.startswith(("\\", "&")):
        return found  # escaped already, or a reference escape() wrote
    return "\\" + found


def _chomp(text: str) -> tuple[str, str, str]:
    body = text.strip(" ")
    if not body:
        return text, "", ""
    start = text.index(body)
    return text[:start], body, text[start + len(body) :]


def _wrap(text: str, opening: str, closing: str | None = None) -> str:
    """Return `text` between `opening` and `closing` (by default `opening`)."""
    if "\n" in text:
        return text  # markup around blocks (lists, tables) has no Markdown form
    # Markup cannot span paragraphs, so each line is wrapped on its own.
    lines = _LINE_MARKERS.split(text)
    return "".join(
        _wrap_line(line, opening, opening if closing is None else closing)
        for line in lines
    )


def _wrap_line(text: str, opening: str, closing: str) -> str:
    # Markdown's emphasis may not start or end with a space, so spaces go outside.
    leading, body, trailing = _chomp(text)
    if not body or _LINE_MARKERS.fullmatch(body):
        return text
    return f"{leading}{opening}{body}{closing}{trailing}"


def _indent(text: str, first: str) -> str:
    padding = " " * len(first)
    lines = text.split("\n")
    rest = [padding + line if line.strip() else "" for line in lines[1:]]
    return "\n".join([first + lines[0], *rest])


def _hold_first_line(text: str) -> str:
    # A fence, a table, a quote or a heading cannot start on a list item's marker
    # line, nor should a nested list; an empty comment, which shows nothing, holds
    # that line. (Text that merely looks like these is escaped already.)
    return "<!-- -->\n\n" + text if _BLOCK_START.match(text) else text


def _quote(path: str, *, url: bool = False) -> str:
    """Percent-encode what Markdown, our math or cloze reading could misread."""
    unsafe = _UNSAFE_IN_URL if url else _UNSAFE_IN_PATH
    return unsafe.sub(
        lambda m: "".join(f"%{byte:02X}" for byte in m[0].encode("utf-8")), path
    )


def _code_text(el: Tag) -> str:
    # Anki's editor writes the lines of code with <br>, or as one <div> each.
    parts: list[str] = []
    for node in el.descendants:
        if isinstance(node, Tag) and node.name == "br":
            parts.append("\n")
        elif isinstance(node, Tag) and node.name in _BLOCKS:
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
        elif isinstance(node, NavigableString):
            parts.append(str(node))
    return "".join(parts).replace("\xa0", " ")


def _code_span(code: str, *, in_table: bool) -> str:
    code = _WHITESPACE.sub(" ", code).strip()
    if not code:
        return ""
    if in_table:
        code = code.replace("|", "\\|")  # our renderer reads `\|` back in cells
    longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
    ticks = "`" * (longest + 1)
    padded = f" {code} " if code.startswith("`") or code.endswith("`") else code
    return f"{ticks}{padded}{ticks}"


def _language(el: Tag) -> str:
    """Return the language named by the classes of `el`, its code or its wrapper."""
    candidates: list[Tag] = [el]
    candidates += el.find_all("code", limit=1)
    candidates += [parent for parent in el.parents if parent.name == "div"][:2]
    for tag in candidates:
        classes = tag.get("class")
        names = [classes] if isinstance(classes, str) else list(classes or [])
        for name in names:
            if match := _LANGUAGE.fullmatch(name):
                return match["name"]
    return ""


# Lines ---------------------------------------------------------------------------

_LINE_TOKENS = re.compile(f"(\n+|{_BR}|{_EDGE})")


def _resolve(text: str, *, inline: bool) -> str:
    """Turn the line markers of `<br>` and `<div>` into Markdown, as a browser
    breaks lines: a line ends at a `<br>` or a `<div>` edge, an empty line is a
    paragraph break, and breaks at the start or end of a block show nothing.

    Lines become `<br>` line breaks, not paragraphs, since Anki's lines have no
    space between them; `inline` is for a table cell or heading, one line of text.
    """
    line_break, paragraph = ("<br>", "<br><br>") if inline else ("<br>\n", "\n\n")
    out: list[str] = []
    pending = ""  # the break owed before the next content
    at_line_start = True
    has_content = False  # content since the last block boundary
    indented = False  # the line started in the Markdown, its indent is structure
    for token in _LINE_TOKENS.split(text):
        if not token:
            continue
        if token.startswith("\n") and not inline:
            out.append(token)
            pending, at_line_start, has_content, indented = "", True, False, True
        elif token in (_BR, _EDGE) or token.startswith("\n"):
            if token == _BR and at_line_start and pending:
                pending = paragraph
            elif not at_line_start and has_content:
                pending = line_break
            at_line_start, indented = True, False
        else:
            if at_line_start and not indented:
                token = token.lstrip(" ")
                if not token:
                    continue
                if out and pending:
                    out[-1] = out[-1].rstrip(" ")
            out.append(pending + token)
            pending, at_line_start, has_content, indented = "", False, True, False
    return "".join(out)


_SETEXT = re.compile(
    r"(?P<above>^[^\n]*\S[^\n]*\n[ >]*)(?P<mark>=+|-+)(?=[ \t]*$)", re.MULTILINE
)
_SETEXT_ENTITIES = {"=": "&#61;", "-": "&#45;"}


def _tidy(markdown: str, stash: list[_CodeBlock]) -> str:
    lines = [line.rstrip() for line in markdown.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    # A line of `=` or `-` under text makes it a heading, however the line was put
    # together from the field's pieces; its first character then becomes a reference.
    text = _SETEXT.sub(
        lambda m: m["above"] + _SETEXT_ENTITIES[m["mark"][0]] + m["mark"][1:], text
    )

    def unstash(match: re.Match[str]) -> str:
        # Every line of the block gets the indent or quote marks of its placeholder.
        prefix = match["prefix"]
        lines = stash[int(match["number"])].lines(quoted=">" in prefix)
        return "\n".join((prefix + line).rstrip() for line in lines)

    return re.sub(
        f"^(?P<prefix>[ >]*){_STASH}(?P<number>\\d+){_STASH}$",
        unstash,
        text,
        flags=re.MULTILINE,
    )
