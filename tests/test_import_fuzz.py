"""Fuzzing the import path: whatever an Anki note holds, the card file written for it
parses back into the same cards, with the same GUIDs and tags, and renders without
anything active in it.

Notes are generated as field HTML (tags, attributes, entities, clozes, math, code),
GUIDs over Anki's whole alphabet and tags; they go through the HTML converter and the
card-file writer, then the card-file parser and renderer.
"""

from __future__ import annotations

import string
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from deckbuilder.importers import ImportedCard, ImportedDeck
from deckbuilder.importers.html import to_markdown as html_to_markdown
from deckbuilder.importers.write import to_markdown
from deckbuilder.parse import parse_text
from deckbuilder.render import Renderer

# Anki's GUID alphabet, and any other printable text a note imported from a text file
# may carry.
_GUID = st.text(
    string.ascii_letters + string.digits + "!#$%&()*+,-./:;<=>?@[]^_`{|}~",
    min_size=1,
    max_size=12,
) | st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1)
_TAG = st.text(
    st.characters(codec="utf-8", categories=("L", "N")) | st.sampled_from("-_:"),
    min_size=1,
    max_size=10,
).filter(lambda tag: "::" not in tag.strip(":") and not tag.startswith(":"))
_PIECES = st.sampled_from(
    ["word", "<b>bold</b>", "<i>it</i>", "<br>", "<div>line</div>", "&lt;", "&amp;",
     "&nbsp;", "<ul><li>a</li><li>b</li></ul>", "<ol><li>one</li></ol>",
     '<a href="https://example.org">link</a>', '<a href="javascript:x()">bad</a>',
     "<script>alert(1)</script>", '<img src="a.png" onerror="x()">', "{{c1::hidden}}",
     r"\(x^2\)", r"\[\sum x\]", "$5", "<code>a*b</code>",
     "<pre><code>x = 1\n</code></pre>",
     "## not a card", "???", "<!-- field: Extra -->", "- not a list", "1. one", "#",
     "<h2>Heading</h2>", "|a|b|", "`tick`", "*", "_", "\\", "-->", "<!--", ";", "é",
     "<table><tr><th>h</th></tr><tr><td>c</td></tr></table>", "<style>p{}</style>",
     "<iframe src='x'></iframe>", "\t", "\n", "  ", "[sound:s.mp3]", "~~~", "```"]
)  # fmt: skip
_FIELD = st.lists(_PIECES, max_size=8).map("".join)


@st.composite
def _card(draw: st.DrawFn, number: int) -> ImportedCard:
    # Importers hand the writer Markdown, escaped where text would read as syntax.
    question = html_to_markdown(draw(_FIELD)).markdown
    answer = html_to_markdown(draw(_FIELD)).markdown
    return ImportedCard(
        number=number,
        question=question,
        answer=answer,
        line=1,
        tags=tuple(dict.fromkeys(draw(st.lists(_TAG, max_size=3)))),
        guid=draw(_GUID),
    )


@st.composite
def _deck(draw: st.DrawFn) -> ImportedDeck:
    count = draw(st.integers(1, 4))
    cards = tuple(draw(_card(number)) for number in range(1, count + 1))
    guids = [card.guid for card in cards]
    if len(set(guids)) != len(guids):
        cards = cards[:1]
    title = draw(st.sampled_from(["", "Title", "# hash"]))
    return ImportedDeck(title=title, cards=cards)


@given(_deck())
def test_written_card_files_parse_back_to_the_same_notes(deck: ImportedDeck) -> None:
    cards = deck.cards
    text = to_markdown(deck, deck_name="Fuzz::Deck", tags=["imported"])

    parsed = parse_text(text, Path("fuzz.md"), default_deck="x")

    errors = [d for d in parsed.diagnostics if d.severity.value == "error"]
    assert errors == []
    assert [card.guid for card in parsed.file.cards] == [c.guid for c in cards]
    for written, card in zip(parsed.file.cards, cards, strict=True):
        assert written.deck == "Fuzz::Deck"
        # Anki, and so the parser, keeps tags in Unicode's composed form.
        assert set(written.tags) == {"imported", *map(_composed, card.tags)}
        assert _words(written.question) == _words(card.question)
        assert _words(written.answer) == _words(card.answer)


@given(_FIELD)
def test_converted_fields_render_nothing_active(html: str) -> None:
    converted = html_to_markdown(html)

    rendered = Renderer().render(
        converted.markdown, path=Path("fuzz.md"), first_line=1
    ).html

    tags = _Tags()
    tags.feed(rendered)
    tags.close()
    assert not {"script", "iframe", "object", "embed", "style"} & tags.names
    assert not [name for name in tags.attributes if name.startswith("on")]
    assert not [
        value
        for name, value in tags.attributes.items()
        if name in ("href", "src") and "javascript:" in value.lower().replace(" ", "")
    ]


class _Tags(HTMLParser):
    """The element names and attributes of an HTML text; text is not looked at."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attributes: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.attributes.update((name, value or "") for name, value in attrs)


def _words(markdown: str) -> list[str]:
    # A heading's closing `#` is written escaped, which shows the same `#`.
    return markdown.replace("\\#", "#").split()


def _composed(tag: str) -> str:
    return unicodedata.normalize("NFC", tag)
