"""Deck CSS: each rule limited to the deck's cards; at-rules; Anki's outer classes."""

from __future__ import annotations

import pytest

from deckbuilder.deckcss import CssError, deck_selector, scope_css

SCOPE = '.deck[data-deck="ML::GANs"]'


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ("h3 { color: red; }", f"{SCOPE} h3 {{ color: red; }}"),
        ("h3, .card-back p{margin:0}", f"{SCOPE} h3, {SCOPE} .card-back p{{margin:0}}"),
        # What Anki puts on <html> or <body> stays in front of the scope.
        (".nightMode h3 { color: pink }", f".nightMode {SCOPE} h3 {{ color: pink }}"),
        (
            ".card.night_mode { color: pink }",
            f".card.night_mode {SCOPE} {{ color: pink }}",
        ),
        # ... but a class that merely starts like one of them does not.
        (".cardinal { x: y }", f"{SCOPE} .cardinal {{ x: y }}"),
        # Commas inside :is() and strings do not split the selector list.
        (
            ':is(h1, h2) a[title="a, b"] { x: y }',
            f'{SCOPE} :is(h1, h2) a[title="a, b"] {{ x: y }}',
        ),
        (
            "@media (max-width: 600px) { pre { font-size: 0.8em } }",
            f"@media (max-width: 600px) {{ {SCOPE} pre {{ font-size: 0.8em }} }}",
        ),
        (
            "@font-face { font-family: X; src: url(x.woff) }\n/* a } b */ p { x: '}' }",
            "@font-face { font-family: X; src: url(x.woff) }\n"
            f"/* a }} b */ {SCOPE} p {{ x: '}}' }}",
        ),
    ],
)
def test_rules_are_limited_to_the_decks_cards(css: str, expected: str) -> None:
    assert scope_css(css, "ML::GANs") == expected


def test_quotes_in_deck_names_are_escaped() -> None:
    assert deck_selector('A "quoted" \\ deck') == (
        '.deck[data-deck="A \\"quoted\\" \\\\ deck"]'
    )


@pytest.mark.parametrize(
    ("css", "offset", "message"),
    [
        ("p { color: red;", 2, "block is never closed"),
        ("p { x: y } }", 11, "unexpected }"),
        ("/* note\np { }", 0, "comment is never closed"),
        ("@media screen { p { x: y }", 14, "block is never closed"),
    ],
)
def test_unbalanced_css_is_an_error(css: str, offset: int, message: str) -> None:
    with pytest.raises(CssError) as caught:
        scope_css(css, "d")

    assert (caught.value.offset, caught.value.message) == (offset, message)
